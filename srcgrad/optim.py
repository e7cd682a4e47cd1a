"""Optimizers over parameter trees: SGD and Adam with PyTorch's update rules.

    opt = srcgrad.optim.Adam(model, lr=1e-2)
    for batch in batches:
        opt.step(loss_grad(model, batch))     # the gradient tree has model's structure

A *parameter tree* is a floating-point NumPy array or float, or a dict, list, tuple,
namedtuple, dataclass instance or plain object holding such trees:

- In dicts, lists and tuples every floating-point array and float is a parameter; other
  entries (ints, strings, None, integer arrays) are carried along untouched.
- In objects, the parameters are the attributes that hold floating-point arrays, directly or
  through further objects, lists and dicts. Float attributes (`self.eps = 1e-5`) and
  attributes whose names start with an underscore are configuration, not parameters.

A gradient tree has the parameters' structure: a dict, list or tuple where the parameters
have one, and for an object either an object with the same attribute names or a dict keyed
by them. None anywhere in it means "no gradient here": those parameters are skipped for that
step, as PyTorch skips parameters whose `.grad` is None. Any other mismatch (a missing entry,
a wrong length or container, a leaf of the wrong shape) raises ValueError naming the path,
such as `params['layers'][1].bias`.

`step` writes new values into the parameter arrays in place, so every holder of the tree (a
model object, a dict the caller keeps) sees them. Leaves that cannot be written in place, a
read-only array or a float, are replaced in their container (tuples are rebuilt); `step`
returns the tree, and for a bare float or read-only array `params` the returned value is the
only place the new parameters are.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import types
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Optimizer", "SGD", "Adam", "leaves"]

ROOT = "params"

_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, functools.partial, ast.AST)


# ---------------------------------------------------------------- parameter trees

class _Step(NamedTuple):
    """One step from a container to a child: `container` is "dict", "sequence" or
    "object"; `siblings` is the dict's key set or the sequence's length."""
    container: str
    key: Any
    path: str
    siblings: Any = None


class _Leaf(NamedTuple):
    path: str
    route: tuple[_Step, ...]
    value: Any


def _is_parameter(value) -> bool:
    if isinstance(value, np.ndarray):
        return np.issubdtype(value.dtype, np.floating)
    return isinstance(value, (float, np.floating))


def _attributes(node) -> dict[str, Any] | None:
    """The public attributes of an object that may hold parameters; None for anything else."""
    if isinstance(node, _OPAQUE):
        return None
    held = getattr(node, "__dict__", None)
    if isinstance(held, dict):
        names = list(held)
    elif dataclasses.is_dataclass(node):
        names = [f.name for f in dataclasses.fields(node) if hasattr(node, f.name)]
    else:
        return None
    return {name: getattr(node, name) for name in names if not name.startswith("_")}


def _children(node, path: str) -> list[tuple[_Step, Any]] | None:
    if isinstance(node, dict):
        keys = frozenset(node)
        return [(_Step("dict", k, f"{path}[{k!r}]", keys), v) for k, v in node.items()]
    if isinstance(node, (list, tuple)):
        fields = getattr(type(node), "_fields", None)
        return [(_Step("sequence", i, f"{path}.{fields[i]}" if fields else f"{path}[{i}]",
                       len(node)), v) for i, v in enumerate(node)]
    attributes = _attributes(node)
    if attributes is None:
        return None
    return [(_Step("object", name, f"{path}.{name}"), v) for name, v in attributes.items()]


def _collect(node, path: str, route: tuple[_Step, ...], active: set[int], out: list[_Leaf]):
    if _is_parameter(node):
        out.append(_Leaf(path, route, node))
        return
    if id(node) in active:  # a cycle back to an object that holds this one
        return
    children = _children(node, path)
    if children is None:  # a static value: configuration, not parameters
        return
    active.add(id(node))
    for step, child in children:
        if step.container == "object":
            found: list[_Leaf] = []
            _collect(child, step.path, (*route, step), active, found)
            if any(isinstance(leaf.value, np.ndarray) for leaf in found):
                out.extend(found)
        else:
            _collect(child, step.path, (*route, step), active, out)
    active.discard(id(node))


def _flatten(tree) -> list[_Leaf]:
    out: list[_Leaf] = []
    _collect(tree, ROOT, (), set(), out)
    return out


def leaves(tree) -> dict[str, Any]:
    """The parameters of `tree` by path (`"params['w']"`, `"params.layers[0].bias"`), in
    walk order: dict insertion order, sequence order, attribute definition order."""
    return {leaf.path: leaf.value for leaf in _flatten(tree)}


def _check_container(grads, step: _Step, path: str) -> None:
    if step.container == "dict":
        if not isinstance(grads, Mapping):
            raise ValueError(f"gradient tree does not match the parameters at {path}: "
                             f"expected a dict, got {type(grads).__name__}")
        extra = [k for k in grads if k not in step.siblings]
        if extra:
            raise ValueError("gradient tree has entries the parameters lack: "
                             + ", ".join(f"{path}[{k!r}]" for k in extra))
    elif step.container == "sequence":
        if not isinstance(grads, (list, tuple)):
            raise ValueError(f"gradient tree does not match the parameters at {path}: "
                             f"expected a list or tuple, got {type(grads).__name__}")
        if len(grads) != step.siblings:
            raise ValueError(f"gradient tree does not match the parameters at {path}: "
                             f"expected {step.siblings} entries, got {len(grads)}")


def _child(grads, step: _Step):
    if step.container == "sequence":
        return grads[step.key]
    if isinstance(grads, Mapping):
        if step.key not in grads:
            raise ValueError(f"gradient tree has no entry for {step.path}")
        return grads[step.key]
    if not hasattr(grads, step.key):
        raise ValueError(f"gradient tree has no attribute {step.key!r} for {step.path}")
    return getattr(grads, step.key)


def _gradient_leaf(gradient, leaf: _Leaf) -> np.ndarray:
    if not isinstance(gradient, (np.ndarray, np.generic, float, int)):
        raise ValueError(f"gradient for {leaf.path} should be an array, "
                         f"got {type(gradient).__name__}")
    if np.shape(gradient) != np.shape(leaf.value):
        raise ValueError(f"gradient for {leaf.path} has shape {np.shape(gradient)}, "
                         f"but the parameter has shape {np.shape(leaf.value)}")
    return np.asarray(gradient, dtype=np.asarray(leaf.value).dtype)


def _match(grads, tree_leaves: list[_Leaf]) -> dict[str, np.ndarray | None]:
    """Each parameter's gradient (None where the gradient tree holds None), by path."""
    checked: set[str] = set()
    matched: dict[str, np.ndarray | None] = {}
    for leaf in tree_leaves:
        node, path = grads, ROOT
        for step in leaf.route:
            if node is None:
                break
            if path not in checked:
                _check_container(node, step, path)
                checked.add(path)
            node, path = _child(node, step), step.path
        matched[leaf.path] = None if node is None else _gradient_leaf(node, leaf)
    return matched


def _set_at(node, route: tuple[_Step, ...], value):
    """`node` with the leaf at `route` replaced by `value`: mutable holders are changed in
    place, tuples and frozen dataclasses are rebuilt."""
    if not route:
        return value
    step = route[0]
    child = node[step.key] if step.container != "object" else getattr(node, step.key)
    new_child = _set_at(child, route[1:], value)
    if new_child is child:
        return node
    if isinstance(node, (dict, list)):
        node[step.key] = new_child
        return node
    if isinstance(node, tuple):
        items = [new_child if i == step.key else item for i, item in enumerate(node)]
        return type(node)._make(items) if hasattr(type(node), "_make") else type(node)(items)
    if dataclasses.is_dataclass(node) and type(node).__dataclass_params__.frozen:
        return dataclasses.replace(node, **{step.key: new_child})
    setattr(node, step.key, new_child)
    return node


def _parameter_leaves(params) -> list[_Leaf]:
    tree_leaves = _flatten(params)
    if not tree_leaves:
        raise ValueError("params holds no floating-point arrays or floats to optimize")
    holders: dict[int, str] = {}
    for leaf in tree_leaves:
        if isinstance(leaf.value, np.ndarray):
            first = holders.setdefault(id(leaf.value), leaf.path)
            if first != leaf.path:
                raise ValueError(f"{first} and {leaf.path} are the same array, which an "
                                 "optimizer would update twice; hold each parameter once")
    return tree_leaves


# ---------------------------------------------------------------- optimizers

class Optimizer:
    """Base class: a parameter tree, per-parameter state and an optional gradient buffer.

    Subclasses name their hyperparameters and per-parameter state entries, and implement
    `_update(param, grad, state) -> new param` for one parameter.
    """

    hyperparameters: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()

    def __init__(self, params):
        _parameter_leaves(params)
        self.params = params
        self.steps = 0
        self.state: dict[str, dict[str, Any]] = {}
        self._grad_buffer: dict[str, np.ndarray] = {}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def step(self, grads=None):
        """Update the parameters from `grads` (a tree shaped like `params`) and return the
        parameter tree. Without `grads`, use the gradients gathered by `accumulate` (the
        buffer is kept: call `zero_grad` to clear it). Parameters whose gradient is None, or
        that nothing was accumulated for, are left alone, their state too."""
        tree_leaves = _parameter_leaves(self.params)
        if grads is not None:
            gradients = _match(grads, tree_leaves)
        elif self._grad_buffer:
            gradients = {leaf.path: self._grad_buffer.get(leaf.path) for leaf in tree_leaves}
        else:
            raise ValueError("step() needs gradients: pass a gradient tree, or call "
                             "accumulate(grads) first")
        params = self.params
        for leaf in tree_leaves:
            grad = gradients[leaf.path]
            if grad is None:
                continue
            old = leaf.value
            new = self._update(np.asarray(old), grad, self.state.setdefault(leaf.path, {}))
            if isinstance(old, np.ndarray) and old.flags.writeable:
                old[...] = new
            elif isinstance(old, np.ndarray):
                params = _set_at(params, leaf.route, np.asarray(new, dtype=old.dtype))
            else:
                params = _set_at(params, leaf.route, type(old)(new))
        self.params = params
        self.steps += 1
        return params

    # ------------------------------------------------------------ gradient buffer

    def accumulate(self, grads) -> None:
        """Add a gradient tree into the buffer that `step()` uses, as `loss.backward()` adds
        into `.grad` in PyTorch. None entries add nothing."""
        for path, grad in _match(grads, _parameter_leaves(self.params)).items():
            if grad is not None:
                held = self._grad_buffer.get(path)
                self._grad_buffer[path] = grad.copy() if held is None else held + grad

    def zero_grad(self) -> None:
        """Empty the gradient buffer (like PyTorch's `zero_grad(set_to_none=True)`)."""
        self._grad_buffer.clear()

    @property
    def grad_buffer(self) -> dict[str, np.ndarray]:
        """The accumulated gradients by parameter path; empty after `zero_grad`."""
        return dict(self._grad_buffer)

    # ------------------------------------------------------------ saving and resuming

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimizer's state as a flat dict of NumPy arrays (copies): `steps`, the
        hyperparameters by name, and per-parameter entries keyed `"<entry>:<path>"`, such as
        `"exp_avg:params['w']"`. `np.savez(file, **state)` and pickle both keep it."""
        saved = {"steps": np.array(self.steps)}
        saved.update({name: np.array(getattr(self, name)) for name in self.hyperparameters})
        for path, entries in self.state.items():
            saved.update({f"{name}:{path}": np.array(value, copy=True)
                          for name, value in entries.items()})
        return saved

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict` saved, from an optimizer of the same kind over a tree of
        the same structure (an `np.load` result works too); later steps then continue exactly
        as the saved optimizer's would. Raises ValueError, changing nothing, when an entry is
        missing, unknown, or names a parameter this tree lacks or has another shape."""
        shapes = {leaf.path: np.shape(leaf.value) for leaf in _parameter_leaves(self.params)}
        missing = [name for name in ("steps", *self.hyperparameters) if name not in state]
        if missing:
            raise ValueError(f"state lacks {', '.join(missing)}: was it saved by a "
                             f"{type(self).__name__}?")
        restored: dict[str, dict[str, Any]] = {}
        for key in state:
            if key == "steps" or key in self.hyperparameters:
                continue
            name, _, path = key.partition(":")
            if name not in self.state_names:
                raise ValueError(f"state entry {key!r} is not {type(self).__name__} state")
            if path not in shapes:
                raise ValueError(f"state has {name} for {path}, which these params do not hold")
            value = np.array(state[key], copy=True)
            expected = () if name == "step" else shapes[path]
            if value.shape != expected:
                raise ValueError(f"state {name} for {path} has shape {value.shape}, "
                                 f"but the parameter needs {expected}")
            restored.setdefault(path, {})[name] = int(value) if name == "step" else value
        for name in self.hyperparameters:
            current, saved = getattr(self, name), np.asarray(state[name])
            setattr(self, name, tuple(saved.tolist()) if isinstance(current, tuple)
                    else type(current)(saved.item()))
        self.steps = int(np.asarray(state["steps"]))
        self.state = restored


class SGD(Optimizer):
    """Stochastic gradient descent, with torch.optim.SGD's update for each parameter p:

        g = grad + weight_decay * p
        buf = g (first step), else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf        (when momentum != 0)
        p = p - lr * g
    """

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")
    state_names = ("momentum_buffer",)

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD needs lr, momentum and weight_decay >= 0, got lr={lr}, "
                             f"momentum={momentum}, weight_decay={weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params)
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)

    def _update(self, param, grad, state):
        if self.weight_decay != 0:
            grad = grad + self.weight_decay * param
        if self.momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = grad.copy()
            else:
                buffer = self.momentum * buffer + (1 - self.dampening) * grad
            state["momentum_buffer"] = buffer
            grad = grad + self.momentum * buffer if self.nesterov else buffer
        return param - self.lr * grad


class Adam(Optimizer):
    """Adam, with torch.optim.Adam's update for each parameter p at its step t:

        g = grad + weight_decay * p                 (L2 in the gradient, not AdamW)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_used = max(v_max, v) if amsgrad else v    (v_max kept across steps)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v_used) / sqrt(1 - beta2**t) + eps)
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        beta1, beta2 = betas
        if lr < 0 or eps < 0 or weight_decay < 0 or not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"Adam needs lr, eps, weight_decay >= 0 and betas in [0, 1), got "
                             f"lr={lr}, eps={eps}, weight_decay={weight_decay}, betas={betas}")
        super().__init__(params)
        self.lr, self.betas, self.eps = float(lr), (float(beta1), float(beta2)), float(eps)
        self.weight_decay, self.amsgrad = float(weight_decay), bool(amsgrad)

    def _update(self, param, grad, state):
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            grad = grad + self.weight_decay * param
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param), exp_avg_sq=np.zeros_like(param))
        state["step"] = step = state["step"] + 1
        state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
        state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad * grad
        second_moment = state["exp_avg_sq"]
        if self.amsgrad:
            second_moment = state["max_exp_avg_sq"] = np.maximum(
                state.get("max_exp_avg_sq", 0.0), second_moment)  # the maximum starts at 0
        step_size = self.lr / (1 - beta1**step)
        denominator = np.sqrt(second_moment) / np.sqrt(1 - beta2**step) + self.eps
        return param - step_size * state["exp_avg"] / denominator
