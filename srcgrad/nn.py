"""Ready-made layers, activations and losses that srcgrad can differentiate.

    import srcgrad
    from srcgrad import nn

    model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.Tanh(), nn.Linear(8, 3, rng=1))

    def loss(model, X, y):
        return nn.cross_entropy(model(X), y)

    grads = srcgrad.grad(loss)(model, X, y)     # a Sequential holding the gradients
    srcgrad.optim.SGD(model, lr=0.1).step(grads)

srcgrad differentiates these classes by reading the source of their `__call__` and
`forward` methods, like any other model class, so those methods stay within the subset it
supports (assignments, arithmetic, NumPy calls with rules, if/for/while, calls to other
methods). The bookkeeping methods of `Module` (`parameters`, `named_parameters`,
`state_dict`, `load_state_dict`, `zero_like`) are never differentiated and are ordinary
Python.

The gradient srcgrad returns for a module is an object of the same class whose float array
attributes hold the gradients, so `grads.layer0.weight` lines up with `model.layer0.weight`
and the optimizers in `srcgrad.optim` take it as is.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping

import numpy as np

from srcgrad.control import stop_gradient

__all__ = [
    "Identity",
    "Linear",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "binary_cross_entropy",
    "cross_entropy",
    "mse_loss",
]


def _is_float_array(value) -> bool:
    return isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)


def _generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# ---------------------------------------------------------------- the base class

class Module:
    """Base class of layers: `module(x)` runs `self.forward(x)`.

    Parameters are the float arrays a module holds as attributes, directly or through
    attributes that are themselves Modules; they are named by dotted paths (`fc1.weight`).
    Subclasses set their arrays and submodules in `__init__` and write `forward` within
    srcgrad's supported subset.
    """

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    # -- bookkeeping (never differentiated) -----------------------------------------

    def _own_parameters(self) -> Iterator[tuple[str, np.ndarray]]:
        """(name, array) for the float arrays this module holds directly."""
        for name, value in vars(self).items():
            if not name.startswith("_") and _is_float_array(value):
                yield name, value

    def _children(self) -> Iterator[tuple[str, Module]]:
        """(name, submodule) for the Modules this module holds directly."""
        for name, value in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(
                    isinstance(v, Module) for v in value):  # a list of layers
                for i, item in enumerate(value):
                    yield f"{name}.{i}", item

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Yield (dotted name, array) for every parameter, the module's own first."""
        for name, value in self._own_parameters():
            yield prefix + name, value
        for name, child in self._children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self) -> Iterator[np.ndarray]:
        """Yield every parameter array (the arrays themselves, not copies)."""
        for _, value in self.named_parameters():
            yield value

    def state_dict(self) -> dict[str, np.ndarray]:
        """A dict from dotted parameter name to a copy of the array."""
        return {name: value.copy() for name, value in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Copy the arrays of `state` into the parameters, in place.

        The keys must be exactly the parameter names and each shape must match; otherwise
        ValueError names the offending key and nothing is written.
        """
        own = dict(self.named_parameters())
        missing = [name for name in own if name not in state]
        unexpected = [name for name in state if name not in own]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append("missing key(s) " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected key(s) " + ", ".join(repr(k) for k in unexpected))
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        values = {}
        for name, target in own.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"load_state_dict for {type(self).__name__}: key {name!r} has shape "
                    f"{value.shape}, the parameter has shape {target.shape}")
            values[name] = value
        for name, target in own.items():
            target[...] = values[name]

    def zero_like(self) -> Module:
        """A module of the same structure whose float arrays are all zeros (a gradient
        accumulator: `acc = model.zero_like()`)."""
        clone = copy.deepcopy(self)
        clone._zero_arrays()
        return clone

    def _zero_arrays(self) -> None:
        for name, value in vars(self).items():
            if _is_float_array(value):
                setattr(self, name, np.zeros_like(value))
        for _, child in self._children():
            child._zero_arrays()

    def __repr__(self) -> str:
        children = list(self._children())
        if not children:
            return f"{type(self).__name__}({self._extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        lines.append(")")
        return "\n".join(lines)

    def _extra_repr(self) -> str:
        return ""


# ---------------------------------------------------------------- layers

class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features) and b of (out_features,).

    Initialised like torch.nn.Linear: weight and bias uniform in [-1/sqrt(in_features),
    1/sqrt(in_features)]. (PyTorch draws the weight with kaiming_uniform_(a=sqrt(5)), whose
    bound sqrt(6 / ((1 + a^2) * fan_in)) = sqrt(1 / fan_in) is exactly this one, and the bias
    uniform in +-1/sqrt(fan_in).) `rng` is a np.random.Generator or an int seed (None:
    fresh entropy); the weight is drawn before the bias.

    With bias=False the layer holds a zero `bias` array that forward does not use and that
    `parameters()` / `state_dict()` leave out; srcgrad's gradient for it is zero, so an
    optimizer step leaves it at zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None):
        gen = _generator(rng)
        bound = 1.0 / np.sqrt(in_features)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.use_bias = bool(bias)
        self.weight = gen.uniform(-bound, bound, (out_features, in_features))
        if bias:
            self.bias = gen.uniform(-bound, bound, out_features)
        else:
            self.bias = np.zeros(out_features)

    def forward(self, x):
        # One return at the end: an early `return` inside the `if` hits a srcgrad bug when
        # differentiating with respect to the object (broadcast_like on an object adjoint).
        y = x @ self.weight.T
        if self.use_bias:
            y = y + self.bias
        return y

    def _own_parameters(self):
        yield "weight", self.weight
        if self.use_bias:
            yield "bias", self.bias

    def _extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.use_bias}")


class Identity(Module):
    """Returns its input."""

    def forward(self, x):
        return x


class ReLU(Module):
    """max(x, 0); at x == 0 the gradient is 1/2 (srcgrad's np.maximum tie convention)."""

    def forward(self, x):
        return np.maximum(x, 0.0)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return 1.0 / (1.0 + np.exp(-x))


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x):
        return np.tanh(x)


class Softmax(Module):
    """exp(x) / sum(exp(x)) along `axis`, computed as exp(x - max) for stability."""

    def __init__(self, axis: int = -1):
        self.axis = int(axis)

    def forward(self, x):
        m = stop_gradient(np.max(x, axis=self.axis, keepdims=True))
        e = np.exp(x - m)
        return e / np.sum(e, axis=self.axis, keepdims=True)

    def _extra_repr(self) -> str:
        return f"axis={self.axis}"


class Sequential(Module):
    """Runs modules in order: Sequential(Linear(4, 8), Tanh(), Linear(8, 3)).

    The layers are the list `layers`, and `forward` loops over it; srcgrad unrolls that
    loop for the layers of the model a derivative is compiled for, so each layer's call
    runs its own type's `forward`. Parameter names use the layer index as PyTorch does
    (`0.weight`, `2.bias`); `len(seq)`, `seq[i]` and iteration give the layers.
    """

    def __init__(self, *layers: Module):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(layer).__name__}, "
                                "not an srcgrad.nn.Module")
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def _children(self):
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)


# ---------------------------------------------------------------- losses

def mse_loss(pred, target):
    """Mean of (pred - target)^2 over all entries."""
    diff = pred - target
    return np.mean(diff * diff)


def cross_entropy(logits, labels):
    """Mean over the batch of -log softmax(logits)[i, labels[i]].

    logits: (N, C) floats; labels: (N,) integer class indices. Computed as
    logsumexp(logits) - logits[label] with the row maximum subtracted for stability.
    """
    m = stop_gradient(np.max(logits, axis=-1, keepdims=True))
    shifted = logits - m
    lse = np.log(np.sum(np.exp(shifted), axis=-1))
    n = logits.shape[0]
    picked = shifted[np.arange(n), labels]
    return np.mean(lse - picked)


def binary_cross_entropy(prob, target):
    """Mean of -(t log p + (1 - t) log(1 - p)), with p clipped to [1e-12, 1 - 1e-12]."""
    p = np.clip(prob, 1e-12, 1.0 - 1e-12)
    return np.mean(-(target * np.log(p) + (1.0 - target) * np.log(1.0 - p)))
