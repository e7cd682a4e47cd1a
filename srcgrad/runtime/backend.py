"""Array-namespace dispatch: one backend per call, chosen from the argument arrays.

Emitted derivative code does, once per call::

    xp = rt.namespace(x=x, W=W)

and then calls every kernel and adjoint helper as ``xp.<name>(...)``. A :class:`Backend`
is a plain namespace object over an array module (NumPy, CuPy, or the strict CPU
stand-in for CuPy); after the first access each name is an ordinary instance attribute,
so ``xp.tanh`` in a hot loop costs one dict lookup. Arrays never cross devices
implicitly: arguments from two backends raise :class:`MixedBackendError`.

CuPy is imported lazily, the first time a CuPy array is seen or ``get_backend("cupy")``
is called; this module only recognises CuPy arrays by their type's module name.
"""

from __future__ import annotations

import types

import numpy as np

from . import (adjoints, array_helpers, containers, elementwise_helpers, jets,
               product_helpers, reduction_helpers, strict)
from .strict import StrictArray

__all__ = ["Backend", "NUMPY", "namespace", "get_backend", "MixedBackendError",
           "register_kernel"]

GPU_INSTALL_COMMAND = 'pip install "srcgrad[gpu]"'


class MixedBackendError(TypeError):
    """The arguments of one call live on different backends (e.g. NumPy and CuPy)."""


# -- aliases: names emitted code uses that the array modules spell differently ----------

def _shape(x):
    """``np.shape`` without array-function dispatch, valid on every backend's arrays."""
    if type(x) is float or type(x) is int:
        return ()
    try:
        return x.shape
    except AttributeError:
        return np.shape(x)  # Python numbers, lists: host values, any backend accepts


def _ndim(x):
    """``np.ndim`` without array-function dispatch, valid on every backend's arrays."""
    try:
        return x.ndim
    except AttributeError:
        return np.ndim(x)


_GENERIC_ALIASES = {"shape": _shape, "ndim": _ndim}


def _default_aliases(module, name):
    if name == "numpy":
        return {"linalg_norm": module.linalg.norm, "add_at": module.add.at,
                "asnumpy": module.asarray}
    if name == "strict":
        return {"linalg_norm": module.linalg.norm, "add_at": strict.add_at,
                "asnumpy": strict.asnumpy}
    if name == "cupy":
        import cupyx  # installed with cupy; only reached once cupy imported fine

        # scatter_add is CuPy's unbuffered accumulation kernel (np.add.at's equivalent).
        return {"linalg_norm": module.linalg.norm, "add_at": cupyx.scatter_add,
                "asnumpy": module.asnumpy}
    return {"linalg_norm": module.linalg.norm}


# Modules of adjoint helpers; each lists its helpers in __all__ and takes `xp` first.
HELPER_MODULES = (adjoints, elementwise_helpers, reduction_helpers, product_helpers,
                  array_helpers, containers, jets)


# Kernels registered by users (srcgrad.extend): name -> function.
USER_KERNELS: dict = {}


class Backend:
    """An array namespace: ``xp.<name>`` for every kernel and adjoint helper.

    ``Backend(module, name)`` wraps an array module (``numpy``, ``cupy``, or
    ``strict.STRICT_MODULE``) under a backend name (``"numpy"``, ``"cupy"``,
    ``"strict"``). ``xp.NAME`` resolves, in order, to: the adjoint helpers of
    :mod:`srcgrad.runtime.adjoints` bound to this backend (``xp.unbroadcast(g, x)`` calls
    ``adjoints.unbroadcast(xp, g, x)``); the aliases (``linalg_norm``, ``add_at``,
    ``asnumpy``, ``shape``, ``ndim``; ``aliases`` overrides the defaults for ``name``);
    then any attribute of ``module`` (``xp.tanh``, ``xp.float32``, ``xp.newaxis``).
    Helpers and aliases are bound eagerly; module attributes on first access. Both are
    cached in the instance ``__dict__``, so later access is a plain attribute lookup.
    """

    def __init__(self, module, name, aliases=None):
        self.module = module
        self.name = name
        namespace = self.__dict__
        namespace.update(_GENERIC_ALIASES)
        namespace.update(_default_aliases(module, name) if aliases is None else aliases)
        for helpers in HELPER_MODULES:
            for helper_name in helpers.__all__:
                helper = getattr(helpers, helper_name)
                if isinstance(helper, types.FunctionType):
                    helper = types.MethodType(helper, self)
                namespace[helper_name] = helper
        namespace.update(USER_KERNELS)

    def __getattr__(self, attr):
        # Only reached on a cache miss. Protocol names (copy and pickle probe them) are
        # not kernels, and a half-built instance has no module to ask.
        module = self.__dict__.get("module")
        if attr.startswith("__") or module is None:
            raise AttributeError(attr)
        try:
            value = getattr(module, attr)
        except AttributeError:
            raise AttributeError(f"the {self.name} backend has no kernel {attr!r}") from None
        self.__dict__[attr] = value
        return value

    def __dir__(self):
        return sorted(set(self.__dict__) | set(dir(self.module)))

    def __reduce__(self):
        return get_backend, (self.name,)

    def __repr__(self):
        return f"<srcgrad.runtime backend {self.name!r}>"


NUMPY = Backend(np, "numpy")

_BACKENDS = {"numpy": NUMPY}


def register_kernel(name: str, function) -> None:
    """Make `function` available as `xp.<name>` on every backend (for user functions with
    derivative rules registered through `srcgrad.extend`)."""
    USER_KERNELS[name] = function
    for backend in _BACKENDS.values():
        backend.__dict__[name] = function


def _load_cupy():
    try:
        import cupy
    except ImportError as error:
        raise ImportError(
            f"srcgrad needs CuPy for GPU arrays, but importing it failed ({error}); "
            f"install it with: {GPU_INSTALL_COMMAND}"
        ) from error
    return Backend(cupy, "cupy")


def get_backend(name):
    """The backend called ``name``: ``"numpy"``, ``"cupy"`` or ``"strict"``.

    The CuPy backend imports CuPy on first use; without CuPy it raises ``ImportError``
    naming the install command. A :class:`Backend` passed in is returned as is.
    """
    if isinstance(name, Backend):
        return name
    backend = _BACKENDS.get(name)
    if backend is None:
        if name == "strict":
            backend = Backend(strict.STRICT_MODULE, "strict")
        elif name == "cupy":
            backend = _load_cupy()
        else:
            raise ValueError(f"unknown backend {name!r}; choose 'numpy', 'cupy' or 'strict'")
        _BACKENDS[name] = backend
    return backend


# -- choosing the backend of a call -----------------------------------------------------

# Values of these types never force a backend other than NumPy, so a call whose
# arguments are all of them takes the fast path. Python and NumPy scalars are neutral
# (every backend accepts them as operands); numpy.ndarray votes for NumPy.
_HOST_TYPES = frozenset(
    {np.ndarray, float, int, bool, complex, str, type(None), slice}
    | set(np.sctypeDict.values())
)


def _collect(value, label, found):
    """Record in ``found`` (backend name -> first label) the backends inside ``value``."""
    if isinstance(value, StrictArray):
        found.setdefault("strict", label)
    elif isinstance(value, np.ndarray):
        found.setdefault("numpy", label)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _collect(item, f"{label}[{i}]", found)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(item, f"{label}[{key!r}]", found)
    elif (getattr(type(value), "__module__", None) or "").startswith("cupy"):
        found.setdefault("cupy", label)


def _select(values):
    placements = []  # (label, backend name), in argument order
    for name, value in values.items():
        found = {}
        _collect(value, name, found)
        if len(found) == 1:
            placements.append((name, next(iter(found))))
        else:
            placements.extend((label, backend) for backend, label in found.items())
    backends = {backend for _, backend in placements}
    if not backends:
        return NUMPY
    if len(backends) == 1:
        return get_backend(backends.pop())
    hint = ("cupy.asarray / .get()" if "cupy" in backends
            else "srcgrad.runtime.to_strict / from_strict")
    described = ", ".join(f"{label} is {backend}" for label, backend in placements)
    raise MixedBackendError(
        f"arguments live on different backends: {described}; "
        f"move them to one device first ({hint})"
    )


def namespace(**values):
    """The backend that all the argument arrays in ``values`` live on.

    ``values`` are the differentiated function's parameters by name. NumPy arrays vote
    for NumPy, CuPy arrays (recognised by type, without importing CuPy) for CuPy,
    StrictArrays for the strict backend; lists, tuples and dicts are searched
    recursively; scalars and other values are neutral. Returns :data:`NUMPY` when there
    are no arrays, and raises :class:`MixedBackendError`, naming each argument and its
    backend, when they disagree.
    """
    for value in values.values():
        if type(value) not in _HOST_TYPES:
            return _select(values)
    return NUMPY
