"""Tests for srcgrad.runtime: backend selection, the strict CuPy stand-in, adjoint helpers."""

import ast
import itertools
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import srcgrad.runtime as rt
from srcgrad.runtime import backend as backend_module
from srcgrad.runtime.strict import StrictArray, from_strict, to_strict

REPO = pathlib.Path(__file__).resolve().parents[1]
NP = rt.NUMPY
STRICT = rt.get_backend("strict")
BACKENDS = [NP, STRICT]
BROADCAST_SHAPES = [(), (3,), (3, 1), (1, 4), (3, 4)]


def rng():
    return np.random.default_rng(0)


def on(xp, tree):
    """Move a tree of NumPy values onto backend ``xp``."""
    return to_strict(tree) if xp is STRICT else tree


def host(value):
    """A NumPy view of a result from any backend, checking strict results stay strict."""
    if isinstance(value, StrictArray):
        return value.get()
    assert not isinstance(value, (list, tuple)), value
    return np.asarray(value)


class FakeCupyArray:
    """Looks like a CuPy array to namespace() (its type's module is 'cupy')."""


FakeCupyArray.__module__ = "cupy"


# -- namespace selection ---------------------------------------------------------------

def test_namespace_numpy_and_no_arrays():
    x = np.ones(3)
    assert rt.namespace(x=x, W=np.ones((3, 3)), lr=0.1) is NP
    assert rt.namespace() is NP
    assert rt.namespace(a=1, b=2.5, c=None, d=True, e=np.float32(1)) is NP
    assert rt.namespace(t=(1.0, 2), s="name") is NP


def test_namespace_strict_including_nested_containers():
    s = to_strict(np.ones(3))
    assert rt.namespace(x=s) is STRICT
    assert rt.namespace(params=[1.0, {"w": s, "b": (s, 2.0)}], lr=0.5) is STRICT
    assert rt.namespace(params={"w": [np.ones(2)]}) is NP
    # Scalars are neutral: a Python or NumPy scalar beside a device array is fine.
    assert rt.namespace(x=s, c=np.float64(2.0), n=3) is STRICT


def test_mixed_backends_error_names_each_argument():
    with pytest.raises(rt.MixedBackendError) as info:
        rt.namespace(x=np.ones(3), W=FakeCupyArray())
    assert isinstance(info.value, TypeError)
    assert str(info.value) == (
        "arguments live on different backends: x is numpy, W is cupy; "
        "move them to one device first (cupy.asarray / .get())"
    )


def test_mixed_backends_inside_one_container_names_the_paths():
    with pytest.raises(rt.MixedBackendError) as info:
        rt.namespace(x=to_strict(np.ones(2)),
                     params={"w": np.ones(2), "b": [to_strict(np.ones(2))]})
    message = str(info.value)
    assert "x is strict" in message
    assert "params['w'] is numpy" in message
    assert "params['b'][0] is strict" in message


def test_cupy_backend_without_cupy_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # make `import cupy` fail even if installed
    monkeypatch.setattr(backend_module, "_BACKENDS", {"numpy": NP})
    with pytest.raises(ImportError, match=r'pip install "srcgrad\[gpu\]"'):
        rt.get_backend("cupy")
    with pytest.raises(ImportError, match=r'pip install "srcgrad\[gpu\]"'):
        rt.namespace(x=FakeCupyArray())


def test_get_backend_names():
    assert rt.get_backend("numpy") is NP
    assert rt.get_backend("strict") is STRICT
    assert rt.get_backend(STRICT) is STRICT
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        rt.get_backend("tpu")
    assert repr(NP) == "<srcgrad.runtime backend 'numpy'>"
    assert "strict" in repr(STRICT)


def test_importing_runtime_does_not_import_cupy():
    code = (
        "import sys, numpy as np, srcgrad.runtime as rt\n"
        "rt.namespace(x=np.ones(2)); rt.get_backend('strict').tanh\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'cupyx'))\n"
        "assert not bad, bad\n"
    )
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def imported_modules(nodes):
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_runtime_imports_only_itself_numpy_and_stdlib():
    for path in (REPO / "srcgrad" / "runtime").glob("*.py"):
        tree = ast.parse(path.read_text())
        for name in imported_modules(ast.walk(tree)):
            # The compiler never: emitted code imports only the runtime.
            assert not name.startswith("srcgrad"), (path.name, name)
        for name in imported_modules(tree.body):
            # CuPy only lazily, inside functions.
            assert name.split(".")[0] not in ("cupy", "cupyx"), (path.name, name)


# -- the Backend namespace -------------------------------------------------------------

def test_backend_resolves_helpers_aliases_and_module_attributes():
    assert NP.tanh is np.tanh and NP.einsum is np.einsum
    assert NP.float32 is np.float32 and NP.pi == np.pi and NP.newaxis is None
    assert NP.linalg_norm is np.linalg.norm
    assert STRICT.float64 is np.float64 and STRICT.newaxis is None
    # Resolved names are cached as plain instance attributes (the hot-loop path).
    assert STRICT.tanh is STRICT.tanh
    assert vars(NP)["tanh"] is np.tanh and "tanh" in vars(STRICT)
    # Helpers are bound to their backend.
    g = to_strict(np.ones((2, 3)))
    assert isinstance(STRICT.unbroadcast(g, to_strict(np.ones(3))), StrictArray)
    with pytest.raises(AttributeError, match="numpy backend has no kernel 'no_such_kernel'"):
        NP.no_such_kernel


def test_add_at_accumulates_on_both_backends():
    for xp in BACKENDS:
        target = on(xp, np.zeros(4))
        xp.add_at(target, on(xp, np.array([0, 0, 3])), on(xp, np.array([1.0, 2.0, 5.0])))
        assert_array_equal(host(target), [3.0, 0.0, 0.0, 5.0])


# -- strict agrees with numpy ----------------------------------------------------------

A = rng().standard_normal((3, 4))
B = rng().standard_normal((4, 2))
MASK = A > 0
KERNELS = {
    "tanh": lambda xp, a, b: xp.tanh(a),
    "sum": lambda xp, a, b: xp.sum(a),
    "sum_axis0": lambda xp, a, b: xp.sum(a, axis=0),
    "sum_neg_keepdims": lambda xp, a, b: xp.sum(a, axis=-1, keepdims=True),
    "mean": lambda xp, a, b: xp.mean(a, axis=(0, 1)),
    "einsum": lambda xp, a, b: xp.einsum("ij,jk->ik", a, b),
    "linalg_norm": lambda xp, a, b: xp.linalg_norm(a),
    "linalg_norm_axis": lambda xp, a, b: xp.linalg_norm(a, axis=1),
    "matmul": lambda xp, a, b: a @ b,
    "rmatmul_T": lambda xp, a, b: b.T @ a.T,
    "arith": lambda xp, a, b: (2.0 * a - a / 3 + a ** 2) % 1.5 - (-a) + abs(a),
    "numpy_scalar_operand": lambda xp, a, b: np.float64(2) * a + a * np.float32(3),
    "compare": lambda xp, a, b: (a > 0) & (a <= 1.0),
    "where": lambda xp, a, b: xp.where(a > 0, a, 0.0),
    "stack_list": lambda xp, a, b: xp.stack([a, a * 2], axis=0),
    "concatenate": lambda xp, a, b: xp.concatenate((a, a), axis=1),
    "maximum_ufunc_reduce": lambda xp, a, b: xp.maximum.reduce(a, axis=0),
    "slice": lambda xp, a, b: a[1:, ::2],
    "newaxis_ellipsis": lambda xp, a, b: a[None, ..., 1],
    "int_array": lambda xp, a, b: a[xp.asarray([0, 0, 2])],
    "bool_mask": lambda xp, a, b: a[a > 0],
    "tuple_mixed": lambda xp, a, b: a[xp.asarray([2, 0]), 1:3],
    "int_list": lambda xp, a, b: a[[1, 1]],
    "scalar_item": lambda xp, a, b: a[1, 2],
    "broadcast_to": lambda xp, a, b: xp.broadcast_to(a[0], (2, 4)),
    "zeros_like_dtype": lambda xp, a, b: xp.zeros_like(a, dtype=xp.float32),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_strict_matches_numpy(name):
    kernel = KERNELS[name]
    expected = kernel(NP, A, B)
    got = kernel(STRICT, to_strict(A), to_strict(B))
    assert isinstance(got, StrictArray), type(got)
    assert got.dtype == np.asarray(expected).dtype
    assert_allclose(got.get(), expected)


def test_setitem_and_inplace_ops_agree():
    results = []
    for xp in BACKENDS:
        a = on(xp, A.copy())
        a[0] = 7.0
        a[:, 1] = on(xp, np.arange(3.0))
        a[a < 0] = 0.0
        a[on(xp, np.array([2, 2])), 0] = -1.0
        a += 1.0
        a *= on(xp, np.full(4, 2.0))
        row = a[1]
        row[...] = 5.0  # a view: writes through to a
        results.append(host(a))
    assert_array_equal(results[1], results[0])
    assert_array_equal(results[0][1], 5.0)


def test_strict_reductions_return_0d_arrays():
    s = to_strict(A)
    for result in (STRICT.sum(s), STRICT.max(s), STRICT.argmax(s), STRICT.dot(s[0], s[0]),
                   STRICT.linalg_norm(s), s[0, 0], s[0, 0] * 2.0):
        assert isinstance(result, StrictArray) and result.shape == (), result
    assert float(STRICT.sum(s)) == pytest.approx(A.sum())
    assert int(STRICT.argmax(s)) == A.argmax()
    assert STRICT.sum(s).item() == pytest.approx(A.sum())
    assert bool(STRICT.sum(s) > -100)


def test_strict_array_attributes_and_iteration():
    s = to_strict(A)
    assert (s.shape, s.ndim, s.size, s.dtype, len(s)) == ((3, 4), 2, 12, np.float64, 3)
    assert s.T.shape == (4, 3) and isinstance(s.T, StrictArray)
    rows = list(s)
    assert len(rows) == 3 and all(isinstance(r, StrictArray) for r in rows)
    assert_array_equal(rows[2].get(), A[2])
    elements = list(s[0])
    assert all(isinstance(e, StrictArray) and e.shape == () for e in elements)
    assert s.astype(np.float32).dtype == np.float32
    assert s.reshape(4, 3).shape == (4, 3) and s.reshape((12,)).shape == (12,)
    c = s.copy()
    c[0, 0] = 100.0
    assert s[0, 0].item() == A[0, 0]
    assert "StrictArray" in repr(s)
    got = s.get()
    assert type(got) is np.ndarray
    got[0, 0] = 100.0  # .get() is a copy
    assert s[0, 0].item() == A[0, 0]
    with pytest.raises(TypeError):
        hash(s)


def test_strict_refuses_implicit_numpy_conversion():
    s = to_strict(A)
    with pytest.raises(TypeError, match="refuses implicit conversion to numpy"):
        np.asarray(s)
    with pytest.raises(TypeError, match="refuses implicit conversion to numpy"):
        np.array([s, s])
    with pytest.raises(TypeError):
        np.tanh(s)
    with pytest.raises(TypeError, match="refuses numpy.sum"):
        np.sum(s)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        A + s
    with pytest.raises(TypeError, match="numpy.ndarray"):
        s * A
    with pytest.raises(TypeError, match="numpy.ndarray"):
        A == s
    with pytest.raises(TypeError, match="numpy.ndarray"):
        s @ B
    with pytest.raises(TypeError, match="strict kernel numpy.tanh received a numpy.ndarray"):
        STRICT.tanh(A)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        STRICT.stack([s, A])
    with pytest.raises(TypeError, match="numpy.ndarray"):
        s[np.array([0, 1])]
    with pytest.raises(TypeError, match="numpy.ndarray"):
        s[0] = A[0]
    # Python scalars are fine, and asarray is the explicit transfer, as in CuPy.
    assert isinstance(STRICT.maximum(s, 0.0), StrictArray)
    moved = STRICT.asarray(A)
    assert isinstance(moved, StrictArray)
    assert_array_equal(moved.get(), A)


def test_to_from_strict_trees():
    tree = {"w": A, "layers": [(B, 1.0)], "n": None, "s": np.float64(2.0)}
    strict_tree = to_strict(tree)
    assert isinstance(strict_tree["w"], StrictArray)
    assert isinstance(strict_tree["layers"][0], tuple)
    assert isinstance(strict_tree["layers"][0][0], StrictArray)
    assert strict_tree["layers"][0][1] == 1.0 and strict_tree["n"] is None
    assert isinstance(strict_tree["s"], StrictArray) and strict_tree["s"].shape == ()
    back = from_strict(strict_tree)
    assert_array_equal(back["w"], A)
    assert_array_equal(back["layers"][0][0], B)
    assert type(back["w"]) is np.ndarray


# -- unbroadcast -----------------------------------------------------------------------

def brute_unbroadcast(g, shape):
    """Reference: out[i] = sum of g over every position that broadcasting maps to i."""
    out = np.zeros(shape)
    padded = (1,) * (g.ndim - len(shape)) + tuple(shape)
    for index in itertools.product(*map(range, g.shape)):
        source = tuple(0 if n == 1 else i for i, n in zip(index, padded, strict=True))
        out[source[g.ndim - len(shape):]] += g[index]
    return out


def broadcastable(x_shape, y_shape):
    try:
        np.broadcast_shapes(x_shape, y_shape)
    except ValueError:
        return False
    return True


SHAPE_PAIRS = [pair for pair in itertools.product(BROADCAST_SHAPES, repeat=2)
               if broadcastable(*pair)]


@pytest.mark.parametrize("xp", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize("x_shape,y_shape", SHAPE_PAIRS, ids=str)
def test_unbroadcast_matches_brute_force(xp, x_shape, y_shape):
    out_shape = np.broadcast_shapes(x_shape, y_shape)
    g = rng().standard_normal(out_shape)
    x = np.ones(x_shape)
    result = xp.unbroadcast(on(xp, g), on(xp, x))
    assert xp.shape(result) == x_shape
    assert_allclose(host(result), brute_unbroadcast(g, x_shape))


@pytest.mark.parametrize("xp", BACKENDS, ids=lambda b: b.name)
def test_unbroadcast_scalars_and_identity(xp):
    g = on(xp, rng().standard_normal((3, 4)))
    assert xp.unbroadcast(g, on(xp, np.ones((3, 4)))) is g  # no copy on the hot path
    assert_allclose(host(xp.unbroadcast(g, 2.0)), host(g).sum())
    assert_allclose(host(xp.unbroadcast(g, np.float64(2.0))), host(g).sum())
    assert xp.unbroadcast(1.5, 2.0) == 1.5
    spread = xp.unbroadcast(1.5, on(xp, np.ones((2, 3))))
    assert_array_equal(host(spread), np.full((2, 3), 1.5))
    spread[0, 0] = 0.0  # materialised, hence writable


# -- unreduce --------------------------------------------------------------------------

X = rng().standard_normal((2, 3, 4))
REDUCTIONS = [(None, False), (None, True), (0, False), (1, True), (-1, False),
              (-2, True), ((0, 2), False), ((-1, 0), True), ((0, 1, 2), False)]


@pytest.mark.parametrize("xp", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize("axis,keepdims", REDUCTIONS, ids=str)
def test_unreduce_is_the_adjoint_of_sum(xp, axis, keepdims):
    y_shape = np.sum(X, axis=axis, keepdims=keepdims).shape
    g = rng().standard_normal(y_shape)
    result = xp.unreduce(on(xp, g), on(xp, X), axis=axis, keepdims=keepdims)
    got = host(result)
    assert got.shape == X.shape
    # Dot-product test: <unreduce(g), v> == <g, sum(v)> for every v.
    v = rng().standard_normal(X.shape)
    assert_allclose(np.sum(got * v), np.sum(g * np.sum(v, axis=axis, keepdims=keepdims)))
    # Each element of x receives the cotangent of the output it was summed into.
    expected = np.broadcast_to(g.reshape(np.sum(X, axis=axis, keepdims=True).shape), X.shape)
    assert_allclose(got, expected)
    result[(0,) * X.ndim] = 123.0  # fresh and writable, not a read-only broadcast view
    assert host(result).flags["C_CONTIGUOUS"]


def test_unreduce_scalar_input_and_bad_axis():
    assert_allclose(NP.unreduce(2.5, 1.0), 2.5)
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        NP.unreduce(np.ones(3), np.ones((3, 4)), axis=3)


# -- unindex ---------------------------------------------------------------------------

V = rng().standard_normal((4, 5))
KEYS = {
    "int": 2,
    "numpy_int": np.int64(-1),
    "slice": slice(1, None, 2),
    "tuple_slices": (slice(None), slice(0, 3)),
    "newaxis": (None, 1, Ellipsis),
    "ellipsis": (Ellipsis, 3),
    "repeated_ints": np.array([0, 0, 1, 0]),
    "int_list": [3, 3],
    "mask": V > 0,
    "row_mask": np.array([True, False, True, True]),
    "tuple_arrays": (np.array([0, 0, 2]), np.array([1, 1, 4])),
    "array_and_slice": (np.array([1, 1]), slice(2, 4)),
}


def brute_unindex(g, shape, key):
    """Reference via the definition: column j of the Jacobian of x -> x[key]."""
    out = np.zeros(shape)
    for flat in range(out.size):
        basis = np.zeros(shape)
        basis.flat[flat] = 1.0
        out.flat[flat] = np.sum(g * basis[key])
    return out


@pytest.mark.parametrize("xp", BACKENDS, ids=lambda b: b.name)
@pytest.mark.parametrize("name", sorted(KEYS))
def test_unindex_matches_brute_force(xp, name):
    key = KEYS[name]
    g = rng().standard_normal(np.shape(V[key]))
    result = xp.unindex(on(xp, g), on(xp, V), on(xp, key))
    assert xp.shape(result) == V.shape
    assert_allclose(host(result), brute_unindex(g, V.shape, key))


@pytest.mark.parametrize("xp", BACKENDS, ids=lambda b: b.name)
def test_unindex_repeated_indices_accumulate(xp):
    x = on(xp, np.arange(3.0))
    result = xp.unindex(on(xp, np.ones(3)), x, on(xp, np.array([0, 0, 1])))
    assert_array_equal(host(result), [2.0, 1.0, 0.0])
    assert_array_equal(host(xp.unindex(1.0, x, [0, 0, 1])), [2.0, 1.0, 0.0])
    assert host(xp.unindex(on(xp, np.float32(1.0)), x, 1)).dtype == np.float32


# -- require_scalar --------------------------------------------------------------------

def test_require_scalar():
    assert NP.require_scalar(3.0, "loss") == 3.0
    assert NP.require_scalar(np.float64(1.0), "loss") == 1.0
    zero_d = to_strict(np.array(2.0))
    assert STRICT.require_scalar(zero_d, "loss") is zero_d
    with pytest.raises(rt.NonScalarOutputError) as info:
        STRICT.require_scalar(to_strict(np.ones((2, 3))), "loss")
    assert isinstance(info.value, ValueError)
    assert str(info.value) == (
        "grad of loss: the output has shape (2, 3), but grad needs a scalar output; "
        "use srcgrad.vjp(loss) to pull back a cotangent of that shape, "
        "or reduce the output (e.g. .sum()) first"
    )
    with pytest.raises(rt.NonScalarOutputError, match=r"shape \(1,\)"):
        NP.require_scalar(np.ones(1), "f")
