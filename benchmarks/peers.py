"""The peers: every way of computing a workload's gradient that the benchmark compares.

A peer is imported only when `Peer.load()` is called, so a missing or broken library makes
that peer unavailable (with the reason) and nothing else. `Peer.prepare(case)` returns a
`Prepared`: a function and the arguments to call it with (converted to the peer's own
array type once, outside the timed region), and a converter of its result to a tuple of
NumPy arrays for checking. Calling the function computes the gradient to completion (JAX
results are waited for with `block_until_ready`).

The autograd, JAX and PyTorch versions of the primals are written once, in `primals`,
against a NumPy-like module, and follow the plain NumPy primals in `workloads.py` line by
line. srcgrad and Tangent read the plain NumPy primals themselves.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from importlib import metadata

import numpy as np

__all__ = ["PEERS", "Peer", "Prepared", "primals"]


def primals(xnp) -> dict[str, Callable]:
    """The primal of every workload written against `xnp` (autograd.numpy, jax.numpy or
    torch), keyed by workload. `amax` is used for `max` because torch's `max` returns
    indices too; NumPy, autograd and JAX all have `amax`."""
    exp, tanh, log, amax = xnp.exp, xnp.tanh, xnp.log, xnp.amax
    total, mean, zeros, norm = xnp.sum, xnp.mean, xnp.zeros, xnp.linalg.norm

    def poly(x):
        return 3.0 * x ** 3 + 2.0 * x ** 2 + x

    def xor_loss(W1, b1, W2, b2, X, Y):
        h = 1.0 / (1.0 + exp(-(X @ W1 + b1)))
        p = 1.0 / (1.0 + exp(-(h @ W2 + b2)))
        return mean((p - Y) ** 2)

    def mlp_loss(W1, b1, W2, b2, X, Y):
        h = tanh(X @ W1 + b1)
        logits = h @ W2 + b2
        shifted = logits - amax(logits, axis=1, keepdims=True)
        log_norm = log(total(exp(shifted), axis=1, keepdims=True))
        return -total(Y * (shifted - log_norm)) / X.shape[0]

    def rnn_loss(Wx, Wh, b, Wo, xs, target):
        h = zeros((xs.shape[1], Wh.shape[0]))
        for t in range(xs.shape[0]):
            h = tanh(xs[t] @ Wx + h @ Wh + b)
        return mean((h @ Wo - target) ** 2)

    def doubling(x):
        y = x * 2
        while norm(y) < 1000:
            y = y * 2
        return y

    def elementwise(x):
        return total(tanh(x) ** 2 * exp(-x))

    return {"W1": poly, "W2": xor_loss, "W3": mlp_loss, "W4": rnn_loss, "W5": doubling,
            "W6": elementwise}


@dataclasses.dataclass
class Prepared:
    function: Callable
    args: tuple
    to_numpy: Callable = lambda result: tuple(np.asarray(r) for r in (
        result if isinstance(result, (tuple, list)) else (result,)))


class Peer:
    """One way of computing gradients. `modules` are imported by `load()`; `note` says
    what the peer's numbers mean."""

    name = ""
    modules: tuple[str, ...] = ()
    distribution = "numpy"  # whose version is reported
    note = ""
    numpy_based = False  # its arrays are NumPy arrays (so tracemalloc sees them)

    def __init__(self):
        self.available = None
        self.reason = ""
        self.version = ""

    def load(self) -> bool:
        """Import the peer's modules; on failure record why and return False."""
        if self.available is None:
            try:
                loaded = [importlib.import_module(m) for m in self.modules]
                self.setup(*loaded)
                self.version = f"{self.distribution} {metadata.version(self.distribution)}"
                self.available = True
            except Exception as exc:  # noqa: BLE001 - any failure makes the peer unavailable
                self.available = False
                self.reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return self.available

    def setup(self, *modules) -> None:
        self.mods = modules

    def prepare(self, case) -> Prepared:
        raise NotImplementedError


class Primal(Peer):
    name = "primal"
    modules = ("numpy",)
    note = "the plain NumPy function itself (no gradient): the denominator of grad/primal"
    numpy_based = True

    def prepare(self, case):
        return Prepared(case.workload.primal, case.args, lambda result: ())


class Hand(Peer):
    name = "hand"
    modules = ("numpy",)
    note = "hand-written NumPy gradient: the practical limit"
    numpy_based = True

    def prepare(self, case):
        return Prepared(case.workload.hand, case.grad_args)


class Srcgrad(Peer):
    name = "srcgrad"
    distribution = "srcgrad"
    modules = ("srcgrad",)
    note = "srcgrad.grad / srcgrad.vjp of the plain NumPy primal, called as users call it"
    numpy_based = True

    def prepare(self, case):
        return Prepared(case.srcgrad_derivative(), case.grad_args)


class SrcgradEmitted(Srcgrad):
    name = "srcgrad-emitted"
    note = ("the emitted function srcgrad returns, called directly (no `Derivative` "
            "wrapper): the wrapper's cost is the difference from `srcgrad`")

    def prepare(self, case):
        derivative = case.srcgrad_derivative()
        derivative(*case.grad_args)  # compile for these arguments' layouts
        return Prepared(derivative.emitted_function(), case.grad_args)


class Autograd(Peer):
    name = "autograd"
    distribution = "autograd"
    modules = ("autograd", "autograd.numpy")
    note = "HIPS autograd (tape of boxed NumPy values)"
    numpy_based = True

    def prepare(self, case):
        autograd, anp = self.mods
        primal = primals(anp)[case.workload.key]
        if case.workload.vjp:
            make_vjp = autograd.make_vjp

            def vjp(x, v):
                return make_vjp(primal)(x)[0](v)

            return Prepared(vjp, case.grad_args)
        return Prepared(autograd.grad(primal, _argnums(case)), case.args)


class Torch(Peer):
    name = "torch"
    distribution = "torch"
    modules = ("torch",)
    note = "PyTorch eager on the CPU, float64, torch.autograd.grad over leaf tensors"

    def setup(self, torch):
        self.mods = (torch,)
        torch.set_default_dtype(torch.float64)

    def prepare(self, case):
        (torch,) = self.mods
        primal = primals(torch)[case.workload.key]
        positions = case.wrt_positions
        args = tuple(torch.tensor(a, requires_grad=i in positions) if np.isscalar(a) else
                     torch.from_numpy(np.ascontiguousarray(a)).requires_grad_(i in positions)
                     for i, a in enumerate(case.args))
        inputs = tuple(args[i] for i in positions)
        autograd_grad = torch.autograd.grad
        to_numpy = lambda result: tuple(r.detach().numpy() for r in result)
        if case.workload.vjp:
            v = torch.from_numpy(case.cotangent)

            def vjp(*args):
                return autograd_grad(primal(*args), inputs, v)

            return Prepared(vjp, args, to_numpy)

        def gradient(*args):
            return autograd_grad(primal(*args), inputs)

        return Prepared(gradient, args, to_numpy)


class Jax(Peer):
    name = "jax"
    distribution = "jax"
    modules = ("jax", "jax.numpy")
    note = "jax.grad / jax.vjp, not jitted (x64 enabled, results waited for)"
    jit = False

    def setup(self, jax, jnp):
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        self.mods = (jax, jnp)

    def prepare(self, case):
        jax, jnp = self.mods
        primal = primals(jnp)[case.workload.key]
        if case.workload.vjp:
            def derivative(x, v):
                return jax.vjp(primal, x)[1](v)
        else:
            derivative = jax.grad(primal, _argnums(case))
        if self.jit:
            derivative = jax.jit(derivative)
        block = jax.block_until_ready

        def gradient(*args):
            return block(derivative(*args))

        args = tuple(a if np.isscalar(a) else jnp.asarray(a) for a in case.grad_args)
        return Prepared(gradient, args)


class JaxJit(Jax):
    name = "jax-jit"
    note = "jax.jit(jax.grad(f)) (x64 enabled, results waited for)"
    jit = True


class Tangent(Peer):
    name = "tangent"
    distribution = "tangent-ad"
    modules = ("tangent",)
    note = "tangent-ad, the maintained fork of Google's Tangent (source transformation)"
    numpy_based = True

    def prepare(self, case):
        (tangent,) = self.mods
        positions = case.wrt_positions
        if case.workload.vjp:
            derivative = tangent.autodiff(case.workload.primal, wrt=positions,
                                          check_dims=False)
        else:
            derivative = tangent.grad(case.workload.primal, wrt=positions)
        return Prepared(derivative, case.grad_args)


def _argnums(case):
    positions = case.wrt_positions
    return positions if len(positions) > 1 else positions[0]


PEERS: tuple[type[Peer], ...] = (Primal, Hand, Srcgrad, SrcgradEmitted, Autograd, Torch,
                                 Jax, JaxJit, Tangent)
