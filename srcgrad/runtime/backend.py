"""Array-namespace dispatch: one backend per call, chosen from the argument arrays.

Emitted derivative code does, once per call::

    xp = rt.namespace(x=x, W=W)

and then calls every kernel and adjoint helper as ``xp.<name>(...)``. A :class:`Backend`
is a plain namespace object over an array module (NumPy, CuPy, ``dask.array``, or the
strict CPU stand-in for CuPy); after the first access each name is an ordinary instance
attribute, so ``xp.tanh`` in a hot loop costs one dict lookup. Arrays never cross devices
implicitly: arguments from two backends raise :class:`MixedBackendError`. The one
exception is Dask beside NumPy: Dask's own operators take NumPy operands (parameters on
the host, data in chunks), so such a call runs on Dask.

CuPy and Dask are imported lazily, the first time one of their arrays is seen or
``get_backend("cupy")`` / ``get_backend("dask")`` is called; this module only recognises
their arrays by their type's module name.
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
DASK_INSTALL_COMMAND = 'pip install "srcgrad[dask]"'


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
    if name == "dask":
        return _dask_aliases(module)
    return {"linalg_norm": module.linalg.norm}


# -- Dask: kernels dask.array lacks or spells differently ---------------------------------

def _dask_aliases(da):
    """Kernels for the Dask backend (``da`` is ``dask.array``), all lazy.

    A Dask array is a value: an item assignment rebinds the graph of that one ``Array``
    object and never writes into a chunk another array shares. So copies are new
    ``Array`` objects over the same graph, and only ``a is b`` shares memory.
    """

    def array(a, dtype=None, copy=True, order=None, **kwargs):
        a = da.asarray(a, dtype=dtype)
        return a.copy() if copy else a

    def copy(a, order=None, **kwargs):
        return da.asarray(a).copy()

    def inner(a, b):
        a, b = da.asarray(a), da.asarray(b)
        if a.ndim == 0 or b.ndim == 0:
            return a * b
        return da.tensordot(a, b, axes=(a.ndim - 1, b.ndim - 1))

    def identity(n, dtype=None, **kwargs):
        return da.eye(n, dtype=float if dtype is None else dtype)

    def size(a, axis=None):
        shape = _shape(a)
        return shape[axis] if axis is not None else int(np.prod(shape, dtype=np.int64))

    def repeat(a, repeats, axis=None):
        a = da.asarray(a)
        if axis is None:
            a, axis = a.ravel(), 0
        if np.ndim(repeats) == 0 and int(repeats) > 0:
            return da.repeat(a, int(repeats), axis=axis)
        # One count per element: gather each element as often as it repeats.
        owners = np.repeat(np.arange(a.shape[axis]), np.asarray(repeats, dtype=np.int64))
        if owners.size == 0:
            return a[(slice(None),) * axis + (slice(0, 0),)]
        return da.take(a, owners, axis=axis)

    def add_at(target, key, values):
        """``np.add.at`` on a Dask target: the scattered sum is a lazy ``bincount`` over
        the flat positions the key selects, assigned back to ``target``."""
        parts = key if isinstance(key, tuple) else (key,)
        if any(isinstance(p, da.Array) and p.dtype == bool for p in parts):
            raise NotImplementedError(
                "the derivative of indexing a Dask array with a Dask boolean mask needs "
                "the mask's chunk sizes, which Dask does not know before computing; use "
                "np.where(mask, x, 0) instead, or compute the mask first (mask.compute())")
        shape = _shape(target)
        count = int(np.prod(shape, dtype=np.int64))
        lazy_key = any(isinstance(p, da.Array) for p in parts)
        positions = (da if lazy_key else np).arange(count).reshape(shape)[key]
        weights = da.broadcast_to(da.asarray(values), positions.shape).ravel()
        positions = positions.ravel()
        positions = (positions.rechunk(weights.chunks) if lazy_key
                     else da.from_array(positions, chunks=weights.chunks))

        def scatter(w):
            return da.bincount(positions, weights=w, minlength=count).reshape(shape)

        if weights.dtype.kind == "c":
            scattered = scatter(weights.real) + 1j * scatter(weights.imag)
        else:
            scattered = scatter(weights)
        target[...] = target + scattered.astype(target.dtype, copy=False)

    def asnumpy(a):
        return np.asarray(a.compute() if isinstance(a, da.Array) else a)

    def dot(a, b):
        a, b = da.asarray(a), da.asarray(b)
        return a * b if a.ndim == 0 or b.ndim == 0 else da.dot(a, b)

    def expand_dims(a, axis):
        return da.expand_dims(da.asarray(a), axis)

    def reshape(a, shape, order="C"):
        a = da.asarray(a)
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if order == "F":
            return reshape(a.T, shape[::-1]).T
        if a.size == 0:  # Dask cannot reshape empty arrays; NumPy resolves the shape
            return da.zeros(np.empty(a.shape).reshape(shape).shape, dtype=a.dtype)
        try:
            return da.reshape(a, shape)
        except NotImplementedError:
            # Dask only splits or merges dimensions along chunk boundaries; whole dimensions
            # in one chunk always reshape.
            return da.reshape(a.rechunk(-1), shape)

    def ravel(a, order="C"):
        return reshape(a, (-1,), order)

    def hstack(tup):
        arrays = [da.atleast_1d(a) for a in tup]
        return da.concatenate(arrays, axis=0 if arrays[0].ndim == 1 else 1)

    def clip(a, a_min=None, a_max=None, **kwargs):
        return da.clip(a, a_min, a_max)

    def full(shape, fill_value, dtype=None, **kwargs):
        if isinstance(fill_value, da.Array):
            out = da.broadcast_to(fill_value, shape)
            return out.astype(dtype) if dtype is not None else out.copy()
        return da.full(shape, fill_value, dtype=dtype, **kwargs)

    def full_like(a, fill_value, dtype=None, **kwargs):
        return full(_shape(a), fill_value, dtype=a.dtype if dtype is None else dtype)

    def triangle(kernel):
        def triangular(m, k=0):
            m = da.asarray(m)
            if m.ndim == 1:  # NumPy reads a vector as the rows of a square matrix
                m = da.broadcast_to(m, m.shape * 2)
            return kernel(m, k)
        return triangular

    def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
        if retstep:
            raise NotImplementedError("srcgrad's Dask linspace does not return the step")
        start, stop = da.asarray(start, dtype=float), da.asarray(stop, dtype=float)
        divisions = num - 1 if endpoint else num
        steps = da.arange(num, dtype=float)
        fraction = steps / divisions if divisions > 0 else steps * 0
        batch = np.broadcast_shapes(start.shape, stop.shape)
        y = start + da.reshape(fraction, (num,) + (1,) * len(batch)) * (stop - start)
        if endpoint and num > 1:
            y = da.concatenate([y[:-1], da.broadcast_to(stop, (1,) + batch)], axis=0)
        y = da.moveaxis(y, 0, axis)
        return y if dtype is None else y.astype(dtype)

    def linalg_norm(x, ord=None, axis=None, keepdims=False):
        x = da.asarray(x)
        if ord is None and axis is None:  # the 2-norm of x flattened, for any rank
            return da.sqrt(da.sum(abs(x) ** 2, keepdims=keepdims))
        return da.linalg.norm(x, ord, axis, keepdims)

    return {"linalg_norm": linalg_norm, "add_at": add_at, "asnumpy": asnumpy,
            "array": array, "copy": copy, "inner": inner, "identity": identity,
            "size": size, "repeat": repeat, "dtype": np.dtype, "dot": dot,
            "expand_dims": expand_dims, "reshape": reshape, "ravel": ravel,
            "hstack": hstack, "clip": clip, "full": full, "full_like": full_like,
            "triu": triangle(da.triu), "tril": triangle(da.tril), "linspace": linspace,
            "may_share_memory": lambda a, b, max_work=None: a is b}


# Modules of adjoint helpers; each lists its helpers in __all__ and takes `xp` first.
HELPER_MODULES = (adjoints, elementwise_helpers, reduction_helpers, product_helpers,
                  array_helpers, containers, jets)


# Kernels registered by users (srcgrad.extend): name -> function.
USER_KERNELS: dict = {}


class Backend:
    """An array namespace: ``xp.<name>`` for every kernel and adjoint helper.

    ``Backend(module, name)`` wraps an array module (``numpy``, ``cupy``, ``dask.array``
    or ``strict.STRICT_MODULE``) under a backend name (``"numpy"``, ``"cupy"``,
    ``"dask"``, ``"strict"``). ``xp.NAME`` resolves, in order, to: the adjoint helpers of
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
            raise AttributeError(f"the {self.name} backend has no kernel {attr!r}"
                                 f"{_MISSING_KERNEL_HINTS.get(self.name, '')}") from None
        self.__dict__[attr] = value
        return value

    def __dir__(self):
        return sorted(set(self.__dict__) | set(dir(self.module)))

    def __reduce__(self):
        return get_backend, (self.name,)

    def __repr__(self):
        return f"<srcgrad.runtime backend {self.name!r}>"


NUMPY = Backend(np, "numpy")

_MISSING_KERNEL_HINTS = {"dask": (
    " (dask.array does not implement it); compute the array first (x.compute()) and run "
    "the derivative on NumPy")}

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


def _load_dask():
    try:
        import dask.array
    except ImportError as error:
        raise ImportError(
            f"srcgrad needs dask.array for Dask arrays, but importing it failed ({error}); "
            f"install it with: {DASK_INSTALL_COMMAND}"
        ) from error
    return Backend(dask.array, "dask")


_LOADERS = {"cupy": _load_cupy, "dask": _load_dask,
            "strict": lambda: Backend(strict.STRICT_MODULE, "strict")}


def get_backend(name):
    """The backend called ``name``: ``"numpy"``, ``"cupy"``, ``"dask"`` or ``"strict"``.

    The CuPy and Dask backends import their library on first use; without it they raise
    ``ImportError`` naming the install command. A :class:`Backend` passed in is returned
    as is.
    """
    if isinstance(name, Backend):
        return name
    backend = _BACKENDS.get(name)
    if backend is None:
        loader = _LOADERS.get(name)
        if loader is None:
            raise ValueError(
                f"unknown backend {name!r}; choose 'numpy', 'cupy', 'dask' or 'strict'")
        backend = _BACKENDS[name] = loader()
    return backend


# -- choosing the backend of a call -----------------------------------------------------

# Values of these types never force a backend other than NumPy, so a call whose
# arguments are all of them takes the fast path. Python and NumPy scalars are neutral
# (every backend accepts them as operands); numpy.ndarray votes for NumPy.
_HOST_TYPES = frozenset(
    {np.ndarray, float, int, bool, complex, str, type(None), slice}
    | set(np.sctypeDict.values())
)


def _foreign_backend(value):
    """``"cupy"`` or ``"dask"`` for an array of that library, recognised by its type's
    module without importing the library; None otherwise."""
    module = getattr(type(value), "__module__", None) or ""
    if module.startswith("cupy"):
        return "cupy"
    if module.startswith("dask.array"):
        return "dask"
    return None


def _collect(value, path: tuple, found: dict) -> None:
    """Record in ``found`` (backend name -> where it was first met: the argument's name and
    the keys and indices down to the array) the backends inside ``value``."""
    kind = type(value)
    if kind is np.ndarray:
        found.setdefault("numpy", path)
    elif kind in _HOST_TYPES:
        pass
    elif isinstance(value, StrictArray):
        found.setdefault("strict", path)
    elif isinstance(value, np.ndarray):
        found.setdefault("numpy", path)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _collect(item, (*path, i), found)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(item, (*path, key), found)
    else:
        backend = _foreign_backend(value)
        if backend is not None:
            found.setdefault(backend, path)


def _select(values):
    found = {}  # (the first argument per backend: enough to choose one)
    for name, value in values.items():
        _collect(value, (name,), found)
    backends = set(found)
    if backends == {"dask", "numpy"}:
        # Dask takes NumPy operands itself (as one-chunk arrays): host parameters beside
        # chunked data is how Dask is used, and every result stays lazy.
        backends = {"dask"}
    if not backends:
        return NUMPY
    if len(backends) == 1:
        return get_backend(backends.pop())
    raise _mixed(values, backends)


def _mixed(values, backends) -> MixedBackendError:
    """The error for arguments on several backends, naming where each one is."""
    placements = []  # (label, backend name), in argument order
    for name, value in values.items():
        found = {}
        _collect(value, (name,), found)
        labels = {backend: path[0] + "".join(f"[{key!r}]" for key in path[1:])
                  for backend, path in found.items()}
        if len(found) == 1:
            placements.append((name, next(iter(found))))
        else:
            placements.extend((label, backend) for backend, label in labels.items())
    if "cupy" in backends:
        hint = "cupy.asarray / .get()"
    elif "dask" in backends:
        hint = "dask.array.from_array / .compute()"
    else:
        hint = "srcgrad.runtime.to_strict / from_strict"
    described = ", ".join(f"{label} is {backend}" for label, backend in placements)
    return MixedBackendError(
        f"arguments live on different backends: {described}; "
        f"move them to one device first ({hint})"
    )


def namespace(**values):
    """The backend that all the argument arrays in ``values`` live on.

    ``values`` are the differentiated function's parameters by name. NumPy arrays vote
    for NumPy, CuPy and Dask arrays (recognised by type, without importing CuPy or Dask)
    for CuPy and Dask, StrictArrays for the strict backend; lists, tuples and dicts are
    searched recursively; scalars and other values are neutral. Returns :data:`NUMPY`
    when there are no arrays, the Dask backend for Dask arrays with or without NumPy
    arrays beside them, and raises :class:`MixedBackendError`, naming each argument and
    its backend, when they disagree otherwise.
    """
    for value in values.values():
        if type(value) not in _HOST_TYPES and not (
                type(value) is dict and _HOST_TYPES.issuperset(map(type, value.values()))):
            return _select(values)
    return NUMPY
