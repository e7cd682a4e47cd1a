"""Rewrites of specialized code (codegen/specialize.py, in_place.py) beyond those of
test_layouts.py: each keeps the derivative (checked against the generic code and finite
differences) and leaves the emitted source in the form asserted."""

import ast
import inspect
import re
import sys
from pathlib import Path

import numpy as np

import srcgrad
from srcgrad.codegen import in_place

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads  # noqa: E402


def _same_as_generic(derivative, *args):
    result = derivative(*args)
    generic = derivative.generic_function()(*args)
    for a, b in zip(np.atleast_1d(result) if not isinstance(result, tuple) else result,
                    np.atleast_1d(generic) if not isinstance(generic, tuple) else generic,
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    return result


def negated_then_added(x, y):
    return np.sum(np.exp(-x) * y + np.sin(x))


def negated_then_read(x, y):
    z = y - x  # bx starts as -bz; bz is read again below before bx gets more
    return np.sum(z * z) + np.sum(np.cos(x) * z)


def test_a_negated_first_contribution_becomes_a_subtraction():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 50))
    gradient = srcgrad.grad(negated_then_added, wrt=(0, 1))
    _same_as_generic(gradient, x, y)
    backward = gradient.source.split("# grad of line", 1)[1]
    assert "-1.0" not in backward and "= -" not in backward
    srcgrad.check_grad(negated_then_added, x, y, wrt=(0, 1))
    elementwise = srcgrad.grad(workloads.elementwise)
    z = np.linspace(-2.0, 2.0, 101)
    np.testing.assert_allclose(elementwise(z), workloads.elementwise_grad(z), rtol=1e-12)
    assert "bx -= tanh_x" in elementwise.source and "*= -1.0" not in elementwise.source


def test_a_negation_whose_operand_is_read_again_stays_correct():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 7))
    gradient = srcgrad.grad(negated_then_read, wrt=(0, 1))
    _same_as_generic(gradient, x, y)
    srcgrad.check_grad(negated_then_read, x, y, wrt=(0, 1))


def mean_square(p, y, scale):
    return np.mean((p * scale - y) ** 2)


def test_the_size_of_a_temporary_is_taken_from_a_parameter_of_its_shape():
    rng = np.random.default_rng(2)
    xor = srcgrad.grad(workloads.xor_loss, wrt=(0, 1, 2, 3))
    args = workloads.xor_inputs(None, rng)
    for mine, hand in zip(_same_as_generic(xor, *args), workloads.xor_loss_grad(*args),
                          strict=True):
        np.testing.assert_allclose(mine, hand, rtol=1e-12)
    code = [line for line in xor.source.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if "** 2" in line] and "1.0 / Y.size" in xor.source
    # a number times a dead temporary (a size is an int) updates the temporary in place
    assert "bp_minus_Y = p_minus_Y\n    bp_minus_Y *= bp_minus_Y_pow_2 * 2" in xor.source
    p, y = rng.normal(size=(2, 4, 3))
    gradient = srcgrad.grad(mean_square, wrt=(0, 2))
    _same_as_generic(gradient, p, y, 1.5)  # a float parameter is never asked its size
    srcgrad.check_grad(mean_square, p, y, 1.5, wrt=(0, 2))
    row = rng.normal(size=3)  # broadcast: the temporary is shaped like p, not like y
    dp, _ = _same_as_generic(gradient, p, row, 0.5)
    np.testing.assert_allclose(dp, 2 * (p * 0.5 - row) * 0.5 / p.size, rtol=1e-13)


def reused_twice(x):
    t = np.tanh(x)
    return np.sum(np.exp(t) * t) + np.sum(np.sin(-x) * 2.0)


def tanh_times_exp(x, y):
    return np.sum(np.tanh(x) * np.exp(y))


def test_elementwise_kernels_write_into_temporaries_at_their_last_read():
    x = np.linspace(-2.0, 2.0, 1001)
    before = x.copy()
    gradient = srcgrad.grad(workloads.elementwise)
    np.testing.assert_allclose(gradient(x), workloads.elementwise_grad(x), rtol=1e-12)
    np.testing.assert_array_equal(x, before)  # the argument is never written
    assert "exp_neg_x = xp.exp(neg_x, out=neg_x)" in gradient.source
    weighted = srcgrad.grad(tanh_times_exp)
    y = x[::-1].copy()
    np.testing.assert_allclose(weighted(x, y), np.exp(y) / np.cosh(x) ** 2, rtol=1e-13)
    np.testing.assert_array_equal(x, before)
    assert "xp.subtract(1.0, xp.square(tanh_x, out=tanh_x), out=tanh_x)" in weighted.source
    value_and_grad = srcgrad.value_and_grad(workloads.elementwise)
    value, dx = value_and_grad(x)
    assert value == workloads.elementwise(x)  # the value the user's statements computed
    np.testing.assert_allclose(dx, workloads.elementwise_grad(x), rtol=1e-12)
    single = srcgrad.grad(workloads.elementwise)
    assert single(x.astype(np.float32)).dtype == np.float32
    assert "out=" not in single.source  # float32 arguments: nothing is reused


def test_a_temporary_read_again_later_is_not_written_into():
    x = np.random.default_rng(5).normal(size=(4, 6))
    gradient = srcgrad.grad(reused_twice)
    _same_as_generic(gradient, x)
    srcgrad.check_grad(reused_twice, x, wrt=0)
    assert "xp.exp(t, out=t)" not in gradient.source  # t is read by the product after it


def test_an_update_never_writes_into_the_array_it_updates():
    source = ("def f(x):\n    xp = rt.namespace(x=x)\n    a = xp.exp(x)\n"
              "    a *= 1.0 - a\n    return a\n")
    function = ast.parse(source).body[0]
    in_place.update_in_place(function, {"x": (None,)}, frozenset({"x"}), frozenset())
    assert "a *= 1.0 - a" in ast.unparse(function)  # not xp.subtract(1.0, a, out=a)
    dying = source.replace("a *= 1.0 - a\n    return a", "c = 1.0 - a\n    return c")
    function = ast.parse(dying).body[0]
    in_place.update_in_place(function, {"x": (None,)}, frozenset({"x"}), frozenset())
    assert "xp.subtract(1.0, a, out=a)" in ast.unparse(function)  # a dies there: reused


def test_a_transpose_inside_a_backward_loop_is_taken_once_before_it():
    case = next(c for c in workloads.cases(test=True) if c.workload.primal is workloads.rnn_loss)
    gradient = srcgrad.grad(workloads.rnn_loss, wrt=(0, 1, 2, 3))
    for mine, hand in zip(_same_as_generic(gradient, *case.args),
                          workloads.rnn_loss_grad(*case.args), strict=True):
        np.testing.assert_allclose(mine, hand, rtol=1e-12, atol=1e-14)
    before, loop = gradient.source.split("for t in reversed(", 1)
    assert "Wh_T = Wh.T" in before and "@ Wh_T" in loop
    assert "h.T @" in loop  # h changes every trip: its transpose stays in the loop
    Wx, Wh, b, Wo, xs, target = case.args
    empty = xs[:0]  # no steps: the loops run no trips, the hoisted view is harmless
    for mine, hand in zip(gradient(Wx, Wh, b, Wo, empty, target),
                          workloads.rnn_loss_grad(Wx, Wh, b, Wo, empty, target), strict=True):
        np.testing.assert_allclose(mine, hand, rtol=1e-12, atol=1e-14)


def softmax_cross_entropy(z, y):
    shifted = z - np.max(z, axis=1, keepdims=True)
    log_norm = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(y * (shifted - log_norm)) / z.shape[0]


def test_a_negated_term_of_a_sum_becomes_a_subtraction():
    rng = np.random.default_rng(5)
    z, y = rng.normal(size=(2, 6, 4))  # y's rows do not sum to one
    gradient = srcgrad.grad(softmax_cross_entropy)
    _same_as_generic(gradient, z, y)
    srcgrad.check_grad(softmax_cross_entropy, z, y)
    backward = [line for line in gradient.source.split("# grad of line", 1)[1].splitlines()
                if not line.strip().startswith("#")]
    # no array is negated (a number may be: `-1.0 / n`)
    assert not [line for line in backward if re.search(r"(= |\()-[A-Za-z_(]", line)]
    assert [line for line in backward if " -= " in line]


FOLDED = '''
def f(x, q, e, a):
    y = -x.sum()
    z = y / q
    w = z * e + a
    u = -(x * 2.0)
    v = a - u * q
    return (w, v)
'''


def test_negations_of_terms_fold_exactly_and_rename_what_changed_sign():
    from srcgrad.codegen import specialize

    tree = ast.parse(FOLDED)
    function = tree.body[0]
    primal = frozenset({"x", "q", "e", "a"})
    assert specialize._fold_negated_names(function, primal)
    text = ast.unparse(function)
    assert "neg_y = x.sum()" in text and "neg_z = neg_y / q" in text
    assert "w = a - neg_z * e" in text and "v = a + neg_u * q" in text
    assert "neg_u = x * 2.0" in text
    rng = np.random.default_rng(6)
    args = rng.normal(size=(4, 5))
    before, after = {}, {}
    exec(compile(FOLDED, "<before>", "exec"), before)  # noqa: S102 - the text above
    exec(compile(ast.fix_missing_locations(tree), "<after>", "exec"), after)  # noqa: S102
    for old, new in zip(before["f"](*args), after["f"](*args), strict=True):
        np.testing.assert_array_equal(old, new)  # a sign moved, not a rounding
    assert not specialize._fold_negated_names(function, primal)  # nothing left to do


def test_the_shapes_of_matmul_adjoints_are_those_of_their_products():
    """`xp.matmul_adjoint_a(g, a, b)` is `g @ b.T` for matrices: the analysis knows g has
    the shape of a @ b before specialize writes the product out, so a second round of
    specialize finds nothing more (the optimizer runs it once per change)."""
    from srcgrad.codegen.analysis import layouts

    function = ast.parse(inspect.cleandoc("""
        def f(g, a, b):
            ga = xp.matmul_adjoint_a(g, a, b)
            gb = xp.matmul_adjoint_b(g, a, b)
            return (ga, gb)
    """)).body[0]
    matrix = (None, None)
    shapes = layouts.analyze(function, {"g": matrix, "a": matrix, "b": matrix})
    product = ast.parse("a @ b", mode="eval").body
    assert shapes.equal(shapes.of(product), shapes.of(ast.Name("g", ast.Load())))
    assert shapes.equal(shapes.of(ast.Name("ga", ast.Load())), shapes.env["a"])
    assert shapes.equal(shapes.of(ast.Name("gb", ast.Load())), shapes.env["b"])
    vector = layouts.analyze(function, {"g": (None,), "a": matrix, "b": (None,)})
    assert not vector.equal(vector.env["g"], vector.env["a"][:1])  # only for matrices


CONSTANT_THROUGH_A_COPY = '''
def f(n, e):
    c = 1.0
    d = c / n
    y = -d
    w = c * e
    return (y, w)
'''


def test_a_negation_folds_into_a_number_held_by_a_name_read_twice():
    from srcgrad.codegen import specialize

    function = ast.parse(CONSTANT_THROUGH_A_COPY).body[0]
    assert specialize._fold_negated_names(function, frozenset({"n", "e"}))
    text = ast.unparse(function)
    assert "neg_d = -1.0 / n" in text and "y = neg_d" in text
    assert "c = 1.0" in text and "w = c * e" in text  # c itself is left alone


def penalized(W1, W2, lam):
    reg = 0.0
    for W in (W1, W2):
        reg = reg + np.sum(W * W)
    return lam * reg


def test_a_sum_of_whole_arrays_of_unknown_shapes_is_a_scalar():
    """W takes two shapes in the loop, so `W * W` has none, but its sum is a number: reg,
    which starts as 0.0, is one too, and its adjoint needs no unbroadcast."""
    rng = np.random.default_rng(7)
    W1, W2 = rng.normal(size=(3, 4)), rng.normal(size=5)
    gradient = srcgrad.grad(penalized, wrt=(0, 1))
    dW1, dW2 = _same_as_generic(gradient, W1, W2, 0.3)
    np.testing.assert_allclose(dW1, 0.6 * W1, rtol=1e-13)
    np.testing.assert_allclose(dW2, 0.6 * W2, rtol=1e-13)
    srcgrad.check_grad(penalized, W1, W2, 0.3, wrt=(0, 1))
    assert "unbroadcast" not in gradient.source and "require_scalar" not in gradient.source


def test_only_a_whole_reduction_of_an_array_of_unknown_shape_has_a_known_shape():
    from srcgrad.codegen.analysis import layouts

    function = ast.parse(inspect.cleandoc("""
        def f(items, i):
            w = items[i]
            whole = xp.sum(w)
            largest = xp.max(w, axis=None)
            rows = xp.sum(w, axis=0)
            kept = xp.sum(w, keepdims=True)
            acc = 0.0
            acc = acc + whole
            return (whole, largest, rows, kept, acc)
    """)).body[0]
    shapes = layouts.analyze(function, {})
    shape = {name: shapes.of(ast.Name(name, ast.Load()))
             for name in ("w", "whole", "largest", "rows", "kept", "acc")}
    assert shape == {"w": None, "whole": (), "largest": (), "rows": None, "kept": None,
                     "acc": ()}


def test_a_name_that_also_holds_what_the_shapes_do_not_follow_has_no_shape():
    # (`bitems = 0.0`, then a container adjoint: found before the first round, so that
    # its users see it at once; the result is the one the last round used to find)
    from srcgrad.codegen.analysis import layouts

    function = ast.parse(inspect.cleandoc("""
        def f(items, x, g):
            acc = 0.0
            for index in range(3):
                acc = xp.add_tree(acc, xp.item_part(items, index, g))
            first = xp.unbroadcast(g, x)
            scaled = acc * 2.0
            pair = [x, x]
            y = x * 2.0
            return (first, scaled, pair, y)
    """)).body[0]
    shapes = layouts.analyze(function, {"x": (None, 1), "g": (None, 1)})
    shape = {name: shapes.of(ast.Name(name, ast.Load()))
             for name in ("acc", "first", "scaled", "pair", "y")}
    assert shape == {"acc": None, "first": ("x.0", 1), "scaled": None, "pair": None,
                     "y": ("x.0", 1)}


def _difference_of_itself(x):
    return (x - x).sum()


def _sum_with_an_alias(x):
    y = x
    return np.sum(x + y)


def _hessian_of_a_square_of_a_sum(x):
    return 1.0 / (1.5 + np.sum(x) * np.sum(x))


def test_a_spread_met_only_by_itself_stays_an_array():
    # `b = xp.unreduce(1.0, s); bx = b + b`: b is a number only where another operand of
    # x's shape carries the shape; b + b (or b - b) has none, so the gradient was 2.0 (0.0)
    x = np.arange(4.0)
    for function, expected in ((_difference_of_itself, np.zeros(4)),
                               (_sum_with_an_alias, np.full(4, 2.0))):
        gradient = srcgrad.grad(function)(x)
        assert isinstance(gradient, np.ndarray), srcgrad.grad(function).source
        np.testing.assert_array_equal(gradient, expected)
    product = srcgrad.hvp(_hessian_of_a_square_of_a_sum)(x, np.ones(4))
    s = np.sum(x)
    second = (6.0 * s * s - 3.0) / (1.5 + s * s) ** 3  # d2/ds2 of 1 / (1.5 + s^2)
    np.testing.assert_allclose(product, np.full(4, second * 4.0), rtol=1e-12)
