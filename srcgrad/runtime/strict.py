"""A strict CPU stand-in for CuPy, so the GPU code path is exercised without a GPU.

:class:`StrictArray` wraps a NumPy array and, like ``cupy.ndarray``, refuses every
implicit conversion to NumPy: ``np.asarray(s)``, ``np.tanh(s)`` and ``ndarray + s`` raise
``TypeError``. Explicit conversion is ``s.get()`` (a NumPy copy, as in CuPy). Emitted code
that accidentally calls NumPy directly, or mixes host and device arrays, therefore fails
loudly in CI exactly where it would fail on a GPU.

:data:`STRICT_MODULE` is a module-like namespace over NumPy whose functions accept and
return StrictArrays (refusing raw ``numpy.ndarray`` arguments, as CuPy kernels do);
``Backend(STRICT_MODULE, "strict")`` is the strict backend.
"""

from __future__ import annotations

import functools
import operator
import types

import numpy as np

__all__ = ["StrictArray", "STRICT_MODULE", "to_strict", "from_strict", "add_at", "asnumpy"]

_HOST_ARRAY_HINT = (
    "the strict backend, like CuPy, refuses numpy.ndarray operands; convert explicitly "
    "with xp.asarray(...) or srcgrad.runtime.to_strict(...)"
)


def _wrap(value):
    """Wrap NumPy arrays and scalars in a result (recursively in tuples/lists)."""
    if isinstance(value, np.ndarray):
        return StrictArray(value)
    if isinstance(value, np.generic):
        # CuPy reductions return 0-d arrays, not NumPy scalars.
        return StrictArray(np.asarray(value))
    if type(value) is tuple or type(value) is list:
        return type(value)(_wrap(v) for v in value)
    return value


def _unwrap(value, where):
    """Unwrap StrictArrays in a kernel argument; refuse host arrays."""
    if isinstance(value, StrictArray):
        return value._data
    if isinstance(value, np.ndarray):
        raise TypeError(f"{where} received a numpy.ndarray: {_HOST_ARRAY_HINT}")
    if type(value) is tuple or type(value) is list:
        return type(value)(_unwrap(v, where) for v in value)
    if type(value) is dict:
        return {k: _unwrap(v, where) for k, v in value.items()}
    return value


def _operand(other):
    """The NumPy-level operand for a binary operator, or NotImplemented."""
    if isinstance(other, StrictArray):
        return other._data
    if isinstance(other, np.ndarray):
        raise TypeError(f"operand is a numpy.ndarray: {_HOST_ARRAY_HINT}")
    if isinstance(other, (bool, int, float, complex, np.generic)):
        return other
    return NotImplemented


class StrictArray:
    """A NumPy array posing as a device array: no implicit conversion to NumPy.

    ``StrictArray(ndarray)`` wraps without copying (views stay views, as on a device);
    use :func:`to_strict` to copy host data in. Operators accept StrictArrays, Python
    scalars and NumPy scalars, and return StrictArrays (0-d ones for scalar results);
    a raw ``numpy.ndarray`` operand raises ``TypeError``. Explicit host syncs that CuPy
    allows (``float()``, ``int()``, ``bool()``, ``.item()``, ``.get()``) work.
    """

    __slots__ = ("_data",)

    # NumPy defers binary operators to us (then we refuse) and refuses its ufuncs.
    __array_ufunc__ = None

    def __init__(self, data):
        if isinstance(data, StrictArray):
            data = data._data
        self._data = data if isinstance(data, np.ndarray) else np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        raise TypeError("StrictArray refuses implicit conversion to numpy; call .get()")

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(
            f"StrictArray refuses numpy.{func.__name__}; call xp.{func.__name__} on the "
            "strict backend, or .get() to copy to the host"
        )

    # -- explicit conversion and host syncs ---------------------------------------------

    def get(self):
        """A NumPy copy of the data (the explicit device-to-host transfer)."""
        return self._data.copy()

    def item(self, *args):
        return self._data.item(*args)

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def __complex__(self):
        return complex(self._data)

    def __index__(self):
        return operator.index(self._data)

    def __bool__(self):
        return bool(self._data)

    def __format__(self, spec):
        return format(self._data, spec)

    def __repr__(self):
        return f"StrictArray({self._data!r})"

    # -- attributes and the few methods emitted code may use -----------------------------

    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    dtype = property(lambda self: self._data.dtype)
    nbytes = property(lambda self: self._data.nbytes)
    T = property(lambda self: StrictArray(self._data.T))

    def copy(self):
        return StrictArray(self._data.copy())

    def astype(self, dtype, copy=True):
        return StrictArray(self._data.astype(dtype, copy=copy))

    def reshape(self, *shape):
        return StrictArray(self._data.reshape(*shape))

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        for i in range(len(self._data)):
            yield _wrap(self._data[i])

    # -- indexing -------------------------------------------------------------------------

    def __getitem__(self, key):
        return _wrap(self._data[_unwrap(key, "StrictArray indexing")])

    def __setitem__(self, key, value):
        self._data[_unwrap(key, "StrictArray indexing")] = _unwrap(
            value, "StrictArray assignment"
        )

    # -- unary operators ------------------------------------------------------------------

    def __neg__(self):
        return StrictArray(-self._data)

    def __pos__(self):
        return StrictArray(+self._data)

    def __abs__(self):
        return StrictArray(abs(self._data))

    def __invert__(self):
        return StrictArray(~self._data)


def _install_operators():
    """Give StrictArray every binary, reflected and in-place operator of ``ndarray``, and
    the reductions as methods (CuPy and Dask arrays have them; specialized code calls
    ``a.sum(axis=0)``)."""

    def reduction(name):
        def method(self, axis=None, keepdims=False):
            return _wrap(getattr(self._data, name)(axis=axis, keepdims=keepdims))

        return method

    def forward(op):
        def method(self, other):
            other = _operand(other)
            if other is NotImplemented:
                return NotImplemented
            return _wrap(op(self._data, other))

        return method

    def reflected(op):
        def method(self, other):
            other = _operand(other)
            if other is NotImplemented:
                return NotImplemented
            return _wrap(op(other, self._data))

        return method

    def inplace(op):
        def method(self, other):
            other = _operand(other)
            if other is NotImplemented:
                return NotImplemented
            self._data = op(self._data, other)  # ndarray in-place ops return self
            return self

        return method

    arithmetic = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
                  "and", "or", "xor", "lshift", "rshift"]
    for name in arithmetic:
        op = getattr(operator, name + "_" if name in ("and", "or") else name)
        iop = getattr(operator, "i" + name)
        setattr(StrictArray, f"__{name}__", forward(op))
        setattr(StrictArray, f"__r{name}__", reflected(op))
        setattr(StrictArray, f"__i{name}__", inplace(iop))
    setattr(StrictArray, "__divmod__", forward(divmod))
    setattr(StrictArray, "__rdivmod__", reflected(divmod))
    for name in ["sum", "mean", "max", "min"]:
        setattr(StrictArray, name, reduction(name))
    for name in ["lt", "le", "eq", "ne", "gt", "ge"]:
        setattr(StrictArray, f"__{name}__", forward(getattr(operator, name)))
    # Defining __eq__ removes hashing; cupy.ndarray is unhashable too.
    StrictArray.__hash__ = None


_install_operators()


# -- the module-like namespace -----------------------------------------------------------

def _kernel(func, qualname, allow_host=False):
    """Wrap a NumPy callable: unwrap StrictArray arguments, wrap array results."""
    where = f"strict kernel {qualname}"

    def unwrap(value):
        if allow_host and isinstance(value, np.ndarray):
            return value.copy()  # an explicit host-to-device transfer, as cupy.asarray
        return _unwrap(value, where)

    @functools.wraps(func)
    def kernel(*args, **kwargs):
        args = [unwrap(a) for a in args]
        kwargs = {k: unwrap(v) for k, v in kwargs.items()}
        return _wrap(func(*args, **kwargs))

    if isinstance(func, np.ufunc):
        # xp.add.reduce / .accumulate / .outer / .at keep working.
        for method in ("reduce", "accumulate", "outer", "at", "reduceat"):
            setattr(kernel, method, _kernel(getattr(func, method), f"{qualname}.{method}"))
    return kernel


# cupy.asarray / cupy.array accept host arrays: they are the explicit transfer.
_TRANSFERS = frozenset({"asarray", "array"})


class _StrictModule:
    """Module-like view of a NumPy (sub)module whose callables speak StrictArray.

    Functions and ufuncs are wrapped (see :func:`_kernel`); submodules (``linalg``,
    ``fft``) are wrapped recursively; types (dtypes such as ``float32``) and constants
    (``pi``, ``newaxis``, ``inf``) pass through unchanged; ``ndarray`` is StrictArray.
    Resolved names are cached on the instance.
    """

    def __init__(self, module, qualname):
        self._module = module
        self._qualname = qualname

    def __getattr__(self, name):
        if name.startswith("_"):
            # Private and protocol names (copy, pickle probe them) are not kernels.
            raise AttributeError(name)
        attr = getattr(self._module, name)
        if name == "ndarray":
            value = StrictArray
        elif isinstance(attr, types.ModuleType):
            value = _StrictModule(attr, f"{self._qualname}.{name}")
        elif isinstance(attr, type) or not callable(attr):
            value = attr
        else:
            value = _kernel(attr, f"{self._qualname}.{name}", allow_host=name in _TRANSFERS)
        self.__dict__[name] = value
        return value

    def __repr__(self):
        return f"<strict stand-in for {self._module.__name__}>"


STRICT_MODULE = _StrictModule(np, "numpy")


def add_at(target, key, values):
    """Unbuffered ``target[key] += values`` on StrictArrays (the strict ``xp.add_at``)."""
    if not isinstance(target, StrictArray):
        raise TypeError(f"strict add_at needs a StrictArray target, got {type(target).__name__}")
    np.add.at(target._data, _unwrap(key, "strict add_at"), _unwrap(values, "strict add_at"))


def asnumpy(value):
    """A NumPy copy of a StrictArray (``cupy.asnumpy``); host values pass through."""
    return value.get() if isinstance(value, StrictArray) else np.asarray(value)


def _map_tree(tree, leaf):
    if isinstance(tree, tuple):
        items = [_map_tree(v, leaf) for v in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)
    if isinstance(tree, list):
        return [_map_tree(v, leaf) for v in tree]
    if isinstance(tree, dict):
        return type(tree)((k, _map_tree(v, leaf)) for k, v in tree.items())
    return leaf(tree)


def to_strict(tree):
    """Copy every NumPy array (and NumPy scalar, as 0-d) in a tuple/list/dict tree to a
    StrictArray; other leaves (Python numbers, None, ...) are returned unchanged."""
    def leaf(v):
        if isinstance(v, (np.ndarray, np.generic)):
            return StrictArray(np.array(v, copy=True))
        return v

    return _map_tree(tree, leaf)


def from_strict(tree):
    """Copy every StrictArray in a tuple/list/dict tree back to a NumPy array."""
    return _map_tree(tree, lambda v: v.get() if isinstance(v, StrictArray) else v)
