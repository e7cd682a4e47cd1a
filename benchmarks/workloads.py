"""The benchmark workloads: for each, a plain NumPy primal (what srcgrad differentiates),
a hand-written NumPy gradient (the practical limit), and a way to build inputs.

This module imports NumPy and srcgrad only. Versions of the primals written for the
peer libraries live in `peers.py`, which imports each peer only when asked to.

Every workload is float64. A `Case` is one workload at one size: the arguments of the
primal, the names of the parameters the gradient is taken with respect to, and (for the
vector-Jacobian product of W5) an output cotangent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

__all__ = ["WORKLOADS", "Case", "Workload", "cases", "make_case"]


# ---------------------------------------------------------------------------------------
# W1: a polynomial of a Python float
# ---------------------------------------------------------------------------------------

def poly(x):
    return 3.0 * x ** 3 + 2.0 * x ** 2 + x


def poly_grad(x):
    return (9.0 * x + 4.0) * x + 1.0


# ---------------------------------------------------------------------------------------
# W2: the 2-2-1 sigmoid network on the four XOR samples, mean squared error
# ---------------------------------------------------------------------------------------

def xor_loss(W1, b1, W2, b2, X, Y):
    h = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
    p = 1.0 / (1.0 + np.exp(-(h @ W2 + b2)))
    return np.mean((p - Y) ** 2)


def xor_loss_grad(W1, b1, W2, b2, X, Y):
    h = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
    p = 1.0 / (1.0 + np.exp(-(h @ W2 + b2)))
    dz2 = (p - Y) * (2.0 / Y.size) * p * (1.0 - p)
    dz1 = (dz2 @ W2.T) * h * (1.0 - h)
    return X.T @ dz1, dz1.sum(axis=0), h.T @ dz2, dz2.sum(axis=0)


def xor_inputs(size, rng):
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    return (rng.normal(size=(2, 2)), rng.normal(size=2), rng.normal(size=(2, 1)),
            rng.normal(size=1), X, Y)


# ---------------------------------------------------------------------------------------
# W3: two-layer tanh MLP, softmax cross-entropy (Y one-hot)
# ---------------------------------------------------------------------------------------

def mlp_loss(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_norm = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * (shifted - log_norm)) / X.shape[0]


def mlp_loss_grad(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    # the max shift does not change the loss, so it contributes nothing to the gradient
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits, out=logits)
    probs /= probs.sum(axis=1, keepdims=True)
    # softmax - onehot, scaled by 1/batch; exact when every row of Y sums to one
    probs -= Y
    probs /= X.shape[0]
    dlogits = probs
    dz1 = dlogits @ W2.T
    dz1 *= 1.0 - h * h
    return X.T @ dz1, dz1.sum(axis=0), h.T @ dlogits, dlogits.sum(axis=0)


MLP_INPUT, MLP_CLASSES, MLP_BATCH = 64, 10, 64


def mlp_inputs(hidden, rng):
    X = rng.normal(size=(MLP_BATCH, MLP_INPUT))
    Y = np.eye(MLP_CLASSES)[rng.integers(0, MLP_CLASSES, size=MLP_BATCH)]
    W1 = rng.normal(size=(MLP_INPUT, hidden)) / np.sqrt(MLP_INPUT)
    W2 = rng.normal(size=(hidden, MLP_CLASSES)) / np.sqrt(hidden)
    return W1, 0.1 * rng.normal(size=hidden), W2, 0.1 * rng.normal(size=MLP_CLASSES), X, Y


# ---------------------------------------------------------------------------------------
# W4: tanh RNN unrolled by a Python `for`, squared error of a linear readout
# ---------------------------------------------------------------------------------------

def rnn_loss(Wx, Wh, b, Wo, xs, target):
    h = np.zeros((xs.shape[1], Wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
    return np.mean((h @ Wo - target) ** 2)


def rnn_loss_grad(Wx, Wh, b, Wo, xs, target):
    steps = xs.shape[0]
    hs = [np.zeros((xs.shape[1], Wh.shape[0]))]
    for t in range(steps):
        hs.append(np.tanh(xs[t] @ Wx + hs[t] @ Wh + b))
    h = hs[-1]
    dy = (h @ Wo - target) * (2.0 / target.size)
    dWo = h.T @ dy
    dh = dy @ Wo.T
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros_like(b)
    for t in range(steps - 1, -1, -1):
        dz = dh * (1.0 - hs[t + 1] * hs[t + 1])
        dWx += xs[t].T @ dz
        if t:  # hs[0] is zero
            dWh += hs[t].T @ dz
        db += dz.sum(axis=0)
        dh = dz @ Wh.T
    return dWx, dWh, db, dWo


RNN_STEPS, RNN_BATCH, RNN_HIDDEN, RNN_INPUT = 50, 16, 64, 32


def rnn_inputs(steps, rng):
    return (rng.normal(size=(RNN_INPUT, RNN_HIDDEN)) / np.sqrt(RNN_INPUT),
            rng.normal(size=(RNN_HIDDEN, RNN_HIDDEN)) / np.sqrt(RNN_HIDDEN),
            0.1 * rng.normal(size=RNN_HIDDEN),
            rng.normal(size=(RNN_HIDDEN, 1)) / np.sqrt(RNN_HIDDEN),
            rng.normal(size=(steps, RNN_BATCH, RNN_INPUT)),
            rng.normal(size=(RNN_BATCH, 1)))


# ---------------------------------------------------------------------------------------
# W5: the data-dependent doubling loop, vector-Jacobian product
# ---------------------------------------------------------------------------------------

def doubling(x):
    y = x * 2
    while np.linalg.norm(y) < 1000:
        y = y * 2
    return y


def doubling_vjp(x, v):
    y = x * 2
    doublings = 1
    while np.linalg.norm(y) < 1000:
        y = y * 2
        doublings += 1
    return v * 2.0 ** doublings


def doubling_inputs(size, rng):
    return (0.01 * rng.normal(size=size),)


# ---------------------------------------------------------------------------------------
# W6: a long elementwise chain and a sum
# ---------------------------------------------------------------------------------------

def elementwise(x):
    return np.sum(np.tanh(x) ** 2 * np.exp(-x))


def elementwise_grad(x):
    # d/dx tanh(x)^2 e^-x = e^-x tanh(x) (2 (1 - tanh(x)^2) - tanh(x)), three arrays live
    t = np.tanh(x)
    g = np.multiply(t, t)
    np.subtract(1.0, g, out=g)
    g *= 2.0
    g -= t
    g *= t
    np.negative(x, out=t)
    g *= np.exp(t, out=t)
    return g


def elementwise_inputs(size, rng):
    return (rng.uniform(-2.0, 2.0, size=size),)


# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Workload:
    """One workload: `key` names it in results (W1..W6), `sizes` and `quick_sizes` are the
    values passed to `inputs(size, rng)`, `wrt` the parameters differentiated (by name),
    and `vjp` says that the derivative is a vector-Jacobian product taking a cotangent."""

    key: str
    title: str
    primal: Callable
    hand: Callable
    inputs: Callable
    wrt: tuple[str, ...]
    sizes: tuple
    quick_sizes: tuple
    size_label: str
    test_sizes: tuple
    vjp: bool = False


WORKLOADS = (
    Workload("W1", "3x^3 + 2x^2 + x, Python float", poly, poly_grad,
             lambda size, rng: (float(rng.uniform(-1.0, 1.0)),), ("x",),
             (1,), (1,), "", (1,)),
    Workload("W2", "XOR 2-2-1 sigmoid net, MSE", xor_loss, xor_loss_grad, xor_inputs,
             ("W1", "b1", "W2", "b2"), (4,), (4,), "", (4,)),
    Workload("W3", "tanh MLP, softmax cross-entropy, batch 64", mlp_loss, mlp_loss_grad,
             mlp_inputs, ("W1", "b1", "W2", "b2"), (32, 256, 1024), (32, 1024), "hidden",
             (8,)),
    Workload("W4", "tanh RNN, 50-step Python for, hidden 64, batch 16", rnn_loss,
             rnn_loss_grad, rnn_inputs, ("Wx", "Wh", "b", "Wo"), (RNN_STEPS,), (RNN_STEPS,),
             "steps", (4,)),
    Workload("W5", "doubling while loop, vjp", doubling, doubling_vjp, doubling_inputs,
             ("x",), (3,), (3,), "", (3,), vjp=True),
    Workload("W6", "sum(tanh(x)^2 exp(-x))", elementwise, elementwise_grad,
             elementwise_inputs, ("x",), (10 ** 6, 10 ** 7), (10 ** 6,), "n", (1000,)),
)


@dataclasses.dataclass
class Case:
    """A workload at one size, with its inputs. `args` are the primal's arguments;
    `grad_args` what the gradient takes (the same, plus the cotangent for a vjp)."""

    workload: Workload
    size: object
    args: tuple
    cotangent: object = None

    @property
    def name(self) -> str:
        w = self.workload
        return f"{w.key} {w.size_label}={self.size}" if w.size_label else w.key

    @property
    def grad_args(self) -> tuple:
        return self.args if self.cotangent is None else (*self.args, self.cotangent)

    def hand_gradient(self) -> tuple:
        """The hand-written gradient, always as a tuple (one entry per wrt parameter)."""
        result = self.workload.hand(*self.grad_args)
        return result if isinstance(result, tuple) else (result,)

    def srcgrad_derivative(self):
        """srcgrad's derivative of the primal (not yet compiled), called with grad_args."""
        import srcgrad

        wrt = self.workload.wrt
        wrt = wrt if len(wrt) > 1 else wrt[0]
        transform = srcgrad.vjp if self.workload.vjp else srcgrad.grad
        return transform(self.workload.primal, wrt=wrt)

    @property
    def wrt_positions(self) -> tuple[int, ...]:
        import inspect

        names = list(inspect.signature(self.workload.primal).parameters)
        return tuple(names.index(n) for n in self.workload.wrt)


def make_case(workload: Workload, size, seed: int = 0) -> Case:
    """The case of `workload` at `size`, with inputs drawn from a generator seeded by
    `seed` (the same seed gives the same inputs in every process)."""
    rng = np.random.default_rng(seed)
    args = workload.inputs(size, rng)
    cotangent = None
    if workload.vjp:
        cotangent = rng.normal(size=np.shape(workload.primal(*args)))
    return Case(workload, size, args, cotangent)


def cases(quick: bool = False, test: bool = False, only=None):
    """Every case, in table order: all sizes, `quick_sizes`, or the small `test_sizes`;
    `only` is a collection of workload keys to keep."""
    for workload in WORKLOADS:
        if only and workload.key not in only:
            continue
        sizes = (workload.test_sizes if test else
                 workload.quick_sizes if quick else workload.sizes)
        for size in sizes:
            yield make_case(workload, size)
