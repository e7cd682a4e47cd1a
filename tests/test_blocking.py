"""Long elementwise chains run block by block (codegen/blocking.py, the runtime's
`xp.blockwise`): the derivative is the one the same code computes whole, bit for bit,
and the one of the generic code and of finite differences; chains that would write into
an array from before them, hand back two names of one array, or move little data stay
as they are; `xp.blockwise` cuts only NumPy arrays of one shape, C-contiguous and large,
and otherwise makes one call.

Blocks are shrunk (`small_blocks`: 8 elements, two blocks at least) so that arrays of a
few dozen elements are cut, into blocks of one or more rows and a shorter last one.
"""

import ast
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import srcgrad
import srcgrad.runtime as rt
from srcgrad.codegen import blocking
from srcgrad.codegen.analysis import layouts
from srcgrad.runtime import elementwise_helpers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads  # noqa: E402


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(elementwise_helpers, "BLOCK_ELEMENTS", 8)
    monkeypatch.setattr(elementwise_helpers, "MIN_BLOCKS", 2)


def _whole(monkeypatch):
    """From here on, `xp.blockwise` makes one call."""
    monkeypatch.setattr(elementwise_helpers, "BLOCK_ELEMENTS", 1 << 40)


def _leaves(value):
    return list(value) if isinstance(value, tuple) else [value]


def _bitwise_equal(a, b):
    for x, y in zip(_leaves(a), _leaves(b), strict=True):
        assert np.shape(x) == np.shape(y)
        assert np.array_equal(x, y), np.max(np.abs(np.asarray(x) - np.asarray(y)))


def _close(a, b):
    for x, y in zip(_leaves(a), _leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- functions with chains


def scaled(x, a):
    return np.sum(np.tanh(a * x) ** 2 * np.exp(-a * x))


def pair(x, y):
    return np.sum(np.sin(x) * np.cos(y) * np.exp(x - y))


def softplus_gap(x):
    return np.sum(np.log1p(np.exp(x)) * np.tanh(x) - x * x)


def _check_blocked(monkeypatch, derivative, *args):
    """The blocked result equals the whole one bit for bit and the generic code's."""
    blocked = derivative(*args)
    assert "xp.blockwise(chain" in derivative.source
    with monkeypatch.context() as whole:
        _whole(whole)
        _bitwise_equal(blocked, derivative(*args))
    _close(blocked, derivative.generic_function()(*args))
    return blocked


@pytest.mark.parametrize("size", [16, 17, 100, 1001])
def test_w6_gradient_in_blocks_is_the_whole_gradient(small_blocks, monkeypatch, size):
    x = np.random.default_rng(size).uniform(-2.0, 2.0, size)
    gradient = srcgrad.grad(workloads.elementwise)
    result = _check_blocked(monkeypatch, gradient, x)
    np.testing.assert_allclose(result, workloads.elementwise_grad(x), rtol=1e-13)
    both = srcgrad.value_and_grad(workloads.elementwise)
    value, grad = _check_blocked(monkeypatch, both, x)
    assert both.source.count("xp.blockwise(") == 2  # the primal chain and the adjoint's
    np.testing.assert_allclose(value, workloads.elementwise(x), rtol=1e-13)
    np.testing.assert_allclose(grad, result, rtol=1e-13)


@pytest.mark.parametrize("shape", [(7, 3), (37, 5), (4, 9)])
def test_blocks_are_rows_of_matrices(small_blocks, monkeypatch, shape):
    x = np.random.default_rng(1).normal(size=shape)
    _check_blocked(monkeypatch, srcgrad.grad(softplus_gap), x)
    srcgrad.check_grad(softplus_gap, x, order=2)


def test_numbers_are_read_from_the_enclosing_function(small_blocks, monkeypatch):
    x = np.random.default_rng(2).uniform(-1.0, 1.0, 50)
    gradient = srcgrad.grad(scaled, wrt=(0, 1))
    _check_blocked(monkeypatch, gradient, x, 0.7)
    chain = gradient.source.split("def chain", 1)[1].split("xp.blockwise", 1)[0]
    assert chain.startswith("(x):")  # a is read from the gradient's own scope
    srcgrad.check_grad(scaled, x, 0.7, wrt=(0, 1))


def test_tangent_code_is_blocked_too(small_blocks, monkeypatch):
    x = np.random.default_rng(3).uniform(-2.0, 2.0, 40)
    v = np.random.default_rng(4).normal(size=40)
    tangent = srcgrad.jvp(workloads.elementwise)
    _check_blocked(monkeypatch, tangent, x, v)
    srcgrad.check_grad(workloads.elementwise, x, modes=("fwd",))


def test_two_arrays_in_blocks_and_arrays_that_cannot_be_cut(small_blocks, monkeypatch):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(2, 60))
    gradient = srcgrad.grad(pair, wrt=(0, 1))
    _check_blocked(monkeypatch, gradient, x, y)
    srcgrad.check_grad(pair, x, y, wrt=(0, 1))
    # strided views and Fortran order are computed whole, to the same values
    _close(gradient(x[::2], y[1::2]), gradient.generic_function()(x[::2], y[1::2]))
    m = np.asfortranarray(rng.normal(size=(6, 5)))
    _close(srcgrad.grad(softplus_gap)(m), srcgrad.grad(softplus_gap).generic_function()(m))
    with pytest.raises(ValueError):  # NumPy's own complaint, as the primal gives it
        gradient(x, y[:-1])


# ---------------------------------------------------------------- the pass on its own


def _blocked_text(source: str, layouts_: dict) -> str:
    function = ast.parse(textwrap.dedent(source)).body[0]
    blocking.block_elementwise(function, layouts.analyze(function, layouts_))
    return ast.unparse(function)


def test_a_chain_writes_into_no_array_from_before_it():
    text = _blocked_text("""
        def f(x, y):
            xp = rt.namespace(x=x, y=y)
            a = xp.tanh(x)
            y *= a
            b = a * a
            b -= x
            b *= a
            c = xp.exp(b)
            return c + y
    """, {"x": (None,), "y": (None,)})
    assert "    y *= a\n\n    def chain(a, x):" in text  # the chain starts after it
    assert "return c\n    c = xp.blockwise(chain, a, x)" in text


def test_a_chain_hands_back_distinct_arrays_it_made():
    text = _blocked_text("""
        def f(x):
            xp = rt.namespace(x=x)
            a = x * 2.0
            b = xp.exp(a, out=a)
            c = b * b
            d = xp.tanh(c, out=c)
            return (a, b, d)
    """, {"x": (None,)})
    assert "blockwise" not in text  # a and b are one array


def test_chains_that_move_little_data_stay_whole():
    few = """
        def f(x, y):
            xp = rt.namespace(x=x, y=y)
            a = x + 1.0
            b = 1.0 / a
            c = b - y
            return (a, b, c)
    """
    assert "blockwise" not in _blocked_text(few, {"x": (None, 1), "y": (None, 1)})
    short = """
        def f(x):
            xp = rt.namespace(x=x)
            a = x * 2.0
            b = a
            b *= 3.0
            return b
    """
    assert "blockwise" not in _blocked_text(short, {"x": (None,)})


def test_a_scalar_ends_a_chain_and_numbered_chains_follow_each_other():
    text = _blocked_text("""
        def f(x):
            xp = rt.namespace(x=x)
            a = xp.tanh(x)
            b = a * a
            c = xp.exp(b)
            d = c * b
            t = xp.sum(d)
            e = xp.sin(x) * t
            e *= e
            e -= x
            e = xp.cos(e, out=e)
            return (t, e)
    """, {"x": (None,)})
    assert "return d\n    d = xp.blockwise(chain, x)\n    t = xp.sum(d)\n" in text
    assert "def chain_2(x):\n        e = xp.sin(x) * t\n" in text  # t: a number, read
    assert "e = xp.blockwise(chain_2, x)\n    return (t, e)" in text


def test_the_emitted_chain_is_deterministic():
    texts = set()
    for _ in range(3):
        gradient = srcgrad.grad(workloads.elementwise)
        gradient(np.linspace(-1.0, 1.0, 5))
        texts.add(gradient.source)
    assert len(texts) == 1
    (text,) = texts
    assert "    # elementwise from here: xp.blockwise runs it" in text
    assert "    def chain(x):\n        tanh_x = xp.tanh(x)\n" in text


def test_arithmetic_kernels_have_the_shape_of_their_operands():
    function = ast.parse(textwrap.dedent("""
        def f(x):
            g = x * x
            g = xp.subtract(1.0, g, out=g)
            n = xp.negative(x, out=g)
            return n
    """)).body[0]
    shapes = layouts.analyze(function, {"x": (None, 1)})
    for name in ("g", "n"):
        assert shapes.equal(shapes.of(ast.Name(name, ast.Load())), shapes.env["x"])


# ---------------------------------------------------------------- the runtime helper


class _Calls:
    def __init__(self, result=None):
        self.lengths, self.result = [], result

    def __call__(self, *arrays):
        self.lengths.append(len(arrays[0]))
        return self.result if self.result is not None else (arrays[0] * 2.0, arrays[1] - 1.0)


def test_blockwise_cuts_rows_and_stitches_the_results(small_blocks):
    xp = rt.namespace()
    x = np.arange(30.0).reshape(10, 3)
    y = np.ones((10, 3))
    chain = _Calls()
    doubled, less = xp.blockwise(chain, x, y)
    assert chain.lengths == [2, 2, 2, 2, 2]  # 8 elements: two rows of three
    np.testing.assert_array_equal(doubled, x * 2.0)
    np.testing.assert_array_equal(less, y - 1.0)
    single = xp.blockwise(lambda a: np.sqrt(a), np.arange(19.0))
    np.testing.assert_array_equal(single, np.sqrt(np.arange(19.0)))


@pytest.mark.parametrize("case", ["small", "strided", "fortran", "shapes", "strict",
                                  "wide rows"])
def test_blockwise_makes_one_call_otherwise(small_blocks, case):
    x, y = np.arange(40.0).reshape(8, 5), np.ones((8, 5))
    xp, chain = rt.namespace(), _Calls()
    if case == "small":
        x, y = x[:3, :3], y[:3, :3]  # 9 elements: not two blocks
    elif case == "strided":
        x = np.arange(80.0).reshape(8, 10)[:, ::2]
    elif case == "fortran":
        x = np.asfortranarray(x)
    elif case == "shapes":
        y = np.ones(5)
    elif case == "strict":
        xp = rt.get_backend("strict")
        x, y = xp.asarray(x), xp.asarray(y)
    elif case == "wide rows":
        x, y = x.reshape(2, 20), y.reshape(2, 20)  # one row is more than a block
    result = xp.blockwise(chain, x, y)
    assert chain.lengths == [len(x)]
    np.testing.assert_array_equal(xp.asnumpy(result[0]), xp.asnumpy(x) * 2.0)


def test_blockwise_does_not_run_a_chain_again_after_a_block(small_blocks):
    """A chain that gives no array of the rows' shape is a compiler error: said, not
    covered by a second, whole run that could read what the first block changed."""
    chain = _Calls(result=1.5)
    with pytest.raises(TypeError, match="internal error"):
        rt.namespace().blockwise(chain, np.arange(40.0).reshape(8, 5), np.ones((8, 5)))
    assert len(chain.lengths) == 1


# ---------------------------------------------------------------- programs of the corpus

CHAINED = ["swap_if_larger-swapped", "swap_if_larger-kept", "newton_sqrt_to_tolerance",
           "bisection_steps"]  # corpus rows whose specialized vjp has a chain


@pytest.mark.parametrize("case", CHAINED)
def test_corpus_programs_with_chains_agree_with_the_generic_code(monkeypatch, case):
    from corpus import calls_and_data, control_flow
    from rulespec import draw

    (row,) = [c for c in (*control_flow.CASES, *calls_and_data.CASES) if c.name == case]
    args = draw(row)
    output = row.fn(*args)
    cotangent = np.ones_like(output) if np.shape(output) else 1.0
    derivative = srcgrad.vjp(row.fn, wrt=row.positions())
    monkeypatch.setattr(elementwise_helpers, "BLOCK_ELEMENTS", 1)  # (their arrays are small)
    monkeypatch.setattr(elementwise_helpers, "MIN_BLOCKS", 2)
    _check_blocked(monkeypatch, derivative, *args, cotangent)


# ---------------------------------------------------------------- random chains

_UNARY = ["np.sin({})", "np.cos({})", "np.tanh({})", "np.exp(np.sin({}))", "0.5 * {}",
          "-{}", "{} * {}"]
_BINARY = ["{} + {}", "{} - {}", "{} * {}", "{} / (1.5 + np.cos({}))", "np.maximum({}, {})"]


def _random_program(seed: int) -> str:
    """A function of x and y: a few elementwise statements, each on earlier names, and
    the sum of a product of two of them."""
    rng = np.random.default_rng(seed)
    names = ["x", "y"]
    lines = [f"def chained_{seed}(x, y):"]
    for index in range(int(rng.integers(3, 8))):
        if rng.random() < 0.5:
            form = _UNARY[int(rng.integers(len(_UNARY)))]
            operand = names[int(rng.integers(len(names)))]
            value = form.format(*([operand] * form.count("{}")))
        else:
            form = _BINARY[int(rng.integers(len(_BINARY)))]
            value = form.format(*(names[int(rng.integers(len(names)))] for _ in range(2)))
        lines.append(f"    t{index} = {value}")
        names.append(f"t{index}")
    lines.append(f"    return np.sum({names[-1]} * {names[-2]})")
    return "\n".join(lines) + "\n"


def test_random_elementwise_programs_in_blocks(small_blocks, monkeypatch, tmp_path):
    """Thirty random elementwise programs: where their gradients have chains, the blocks
    give the whole result bit for bit, and every gradient is the generic code's."""
    sources = [_random_program(seed) for seed in range(30)]
    path = tmp_path / "random_chains.py"
    path.write_text("import numpy as np\n\n\n" + "\n\n".join(sources))
    monkeypatch.syspath_prepend(str(tmp_path))
    import random_chains

    rng = np.random.default_rng(7)
    blocked = 0
    for seed in range(30):
        function = getattr(random_chains, f"chained_{seed}")
        x, y = rng.uniform(-1.0, 1.0, size=(2, 45))
        gradient = srcgrad.grad(function, wrt=(0, 1))
        result = gradient(x, y)
        _close(result, gradient.generic_function()(x, y))
        if "xp.blockwise(" in gradient.source:
            blocked += 1
            with monkeypatch.context() as whole:
                _whole(whole)
                _bitwise_equal(result, gradient(x, y))
    assert blocked >= 10, blocked  # (so that the check above is not vacuous)


def leaky_softplus(x):
    positive = x > 0.0
    return np.sum(np.where(positive, x, 0.1 * x) * np.log1p(np.exp(-np.abs(x))))


def test_float32_and_boolean_chains(small_blocks, monkeypatch):
    rng = np.random.default_rng(11)
    x32 = rng.uniform(-2.0, 2.0, 50).astype(np.float32)
    gradient = srcgrad.grad(workloads.elementwise)
    result = gradient(x32)
    assert result.dtype == np.float32 and "xp.blockwise(chain" in gradient.source
    with monkeypatch.context() as whole:
        _whole(whole)
        _bitwise_equal(result, gradient(x32))
    x = rng.uniform(-2.0, 2.0, 64)
    _check_blocked(monkeypatch, srcgrad.grad(leaky_softplus), x)
    srcgrad.check_grad(leaky_softplus, x)



# Found by review: `np.where(mask)` (indices, which depend on where a block starts) is no
# elementwise operation, and an `out=` nested in a larger expression wrote into an array
# from before the chain.

def where_indices(x, y):
    u = np.tanh(x) * np.exp(x) * np.sin(x) + np.cos(x)
    idx = np.where(u > 0.5)
    return np.sum(y[idx] * y[idx])


def where_then_values(W, X, y):
    u = X @ W
    v = np.exp(u) * np.tanh(u) * np.sin(u)
    idx = np.where(v > 0.0)
    return np.sum(y[idx] * v[idx])


def test_indices_of_a_mask_end_a_chain(monkeypatch):
    monkeypatch.setattr(elementwise_helpers, "BLOCK_ELEMENTS", 1)
    monkeypatch.setattr(elementwise_helpers, "MIN_BLOCKS", 2)
    rng = np.random.default_rng(12)
    x, y = rng.uniform(-1.0, 1.0, size=(2, 30))
    for transform in (srcgrad.grad, srcgrad.value_and_grad):
        derivative = transform(where_indices, wrt=1)
        _close(derivative(x, y), derivative.generic_function()(x, y))
        assert "xp.where(u_cmp)" in derivative.source.split("return", 1)[1]  # not in a chain
    W = rng.uniform(-1.0, 1.0, (3, 3))
    X, Y, dX = rng.uniform(-1.0, 1.0, size=(3, 10, 3))
    tangent = srcgrad.jvp(where_then_values, wrt=1)
    _close(tangent(W, X, Y, dX), tangent.generic_function()(W, X, Y, dX))
    assert "xp.blockwise(chain" in tangent.source


def test_a_chain_writes_through_no_nested_out_into_an_array_from_before_it():
    text = _blocked_text("""
        def f(u, du):
            xp = rt.namespace(u=u, du=du)
            a = xp.exp(u)
            b = xp.tanh(u)
            c = a * b
            d = du * xp.cos(u, out=u)
            e = c * d
            return e
    """, {"u": (None,), "du": (None,)})
    assert "xp.cos(u, out=u)" not in text.split("def chain", 1)[1].split("blockwise", 1)[0]
