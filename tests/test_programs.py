"""User programs with calls, slot assignment, containers and gradient stops, in both modes.

Every row of `corpus.calls_and_data.CASES` goes through `rulespec.check_case`. The tests
after the table pin what finite differences cannot: exact values derived by hand, located
rejections, what the backward sweep keeps in memory, and how the emitted code reads.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import srcgrad
from corpus import calls_and_data as corpus
from corpus.calls_and_data import make
from rulespec import check_case

CASES = corpus.CASES


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_program_matches_finite_differences(case):
    check_case(case)


def test_case_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_program_has_a_row():
    functions = {name for name, value in vars(corpus).items()
                 if inspect.isfunction(value) and value.__module__ == corpus.__name__
                 and value.__name__ == name and not name.startswith("_")}
    # Programs srcgrad rejects are checked by their own tests, not by a table row.
    programs = functions - set(corpus.HELPERS) - {"slot_write_after_append"}
    assert set(corpus.HELPERS) <= functions
    assert programs - {case.fn.__name__ for case in CASES} == set()
    assert len(programs) >= 40


def _line_of(function, text: str) -> int:
    """The file line number of the first line of `function` containing `text`."""
    lines, first = inspect.getsourcelines(function)
    matches = [first + k for k, line in enumerate(lines) if text in line]
    assert matches, f"{text!r} not in {function.__name__}"
    return matches[0]


# -- calls: exact values ------------------------------------------------------------------------


def test_same_function_with_different_active_arguments():
    # mul_add(a, b) = a * b + a; d/dx of mul_add(x, 3) + mul_add(2, x) + mul_add(x, x)
    # is (3 + 1) + 2 + (2x + 1).
    x = np.array([0.5, -1.0, 2.0])
    g = srcgrad.vjp(corpus.same_callee_one_active_arg)(x, np.ones(3))
    np.testing.assert_allclose(g, 7.0 + 2.0 * x, rtol=1e-14)
    _, tangent = srcgrad.jvp(corpus.same_callee_one_active_arg)(x, np.ones(3))
    np.testing.assert_allclose(tangent, 7.0 + 2.0 * x, rtol=1e-14)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_recursion_power(n):
    derivative = srcgrad.grad(corpus.calls_recursion)
    assert derivative(1.5, n) == pytest.approx(n * 1.5 ** (n - 1) if n else 0.0, rel=1e-14)
    value, tangent = srcgrad.jvp(corpus.calls_recursion)(1.5, n, 1.0)
    assert value == pytest.approx(1.5 ** n, rel=1e-14)
    assert tangent == pytest.approx(n * 1.5 ** (n - 1) if n else 0.0, rel=1e-14)


@pytest.mark.parametrize("n", [2, 3, 6, 7])
def test_recursion_with_two_bodies(n):
    x = np.array([[0.7, 1.1], [1.3, 0.9]])
    g = srcgrad.vjp(corpus.recursion_two_paths)(x, n, np.ones((2, 2)))
    np.testing.assert_allclose(g, n * x ** (n - 1), rtol=1e-13)


def test_each_called_function_gets_its_own_derivative_function():
    backward = srcgrad.vjp(corpus.nested_calls, wrt=(0, 1)).source
    forward = srcgrad.jvp(corpus.nested_calls, wrt=(0, 1)).source
    for name in ("outer", "middle", "inner"):
        assert backward.count(f"\ndef {name}_vjp(") == 1, backward
        assert forward.count(f"\ndef {name}_jvp(") == 1, forward
    assert "\ndef softplus_vjp(" in srcgrad.grad(corpus.imported_functions).source


tripled = make(3.0)


def calls_tripled(x):
    return (tripled(x) * x).sum()


def test_closures_from_one_factory_read_their_own_cells():
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(srcgrad.grad(calls_tripled)(x), 6.0 * x, rtol=1e-15)
    np.testing.assert_allclose(srcgrad.grad(corpus.calls_closure)(2.5), 10.0, rtol=1e-15)


def test_keyword_argument_is_differentiated_by_name():
    # d/dy of y * tanh(x / y) is tanh(x / y) - (x / y) / cosh(x / y)**2.
    x, y = 0.8, 1.7
    g = srcgrad.grad(corpus.keyword_and_default, wrt="y")(x, y)
    assert g == pytest.approx(np.tanh(x / y) - (x / y) / np.cosh(x / y) ** 2, rel=1e-13)


def test_imported_function_reads_its_own_module_globals():
    # leaky(x) = max(x, 0.1 x) from helpers_module, where _LEAK = 0.1 (the caller has none).
    x = np.array([2.0, -2.0])
    np.testing.assert_allclose(
        srcgrad.vjp(corpus.imported_function_reads_its_own_globals)(x, np.ones(2)),
        [3.0, 0.3], rtol=1e-15)


# -- slot assignment: exact values ----------------------------------------------------------


def test_slot_add_into_zeros_gives_one():
    """Tangent returned 0 here: y[0] += x must send the gradient of y[0] back to x."""
    assert srcgrad.grad(corpus.slot_add_into_zeros)(2.0) == 1.0
    assert srcgrad.grad(corpus.slot_add_into_zeros)(np.float64(-3.0)) == 1.0
    assert srcgrad.value_and_grad(corpus.slot_add_into_zeros)(2.0) == (2.0, 1.0)
    assert srcgrad.jvp(corpus.slot_add_into_zeros)(2.0, 1.0) == (2.0, 1.0)


def test_repeated_indices_keep_the_last_write():
    # y[[0, 2, 0]] = x gives y = [x2, 0, x1, 0]; the loss weights them 1 and 3; x0 is lost.
    x = np.array([5.0, 7.0, 11.0])
    np.testing.assert_array_equal(srcgrad.grad(corpus.slot_repeated_indices)(x), [0.0, 3.0, 1.0])
    _, tangent = srcgrad.jvp(corpus.slot_repeated_indices)(x, np.array([1.0, 10.0, 100.0]))
    assert tangent == 130.0


def test_repeated_indices_augmented_keep_the_last_write():
    # y = ones(4); y[[1, 1, 3]] += x**2 gives y[1] = 1 + x1**2, y[3] = 1 + x2**2.
    x = np.array([2.0, 3.0, 0.5])
    want = [0.0, 2 * (1 + 9.0) * 2 * 3.0, 2 * (1 + 0.25) * 2 * 0.5]
    np.testing.assert_allclose(srcgrad.grad(corpus.slot_repeated_indices_add)(x), want, rtol=1e-15)


def test_mask_assignment_cuts_the_gradient():
    # y = 2x with y[x > 0] = 0, loss sum(y * y * x): 4 x**3 where x < 0, else 0.
    x = np.array([-1.0, 0.5, -0.5, 2.0])
    np.testing.assert_allclose(srcgrad.grad(corpus.slot_mask_zero)(x),
                               np.where(x < 0, 12.0 * x ** 2, 0.0), rtol=1e-15)


def test_slot_overwritten_after_it_was_read():
    # before = 3 x1; y = [x0, sin x0, x2]; loss = 3 x1 (x0 + sin x0 + x2).
    x = np.array([0.3, -1.2, 0.8])
    s = x[0] + np.sin(x[0]) + x[2]
    want = [3 * x[1] * (1 + np.cos(x[0])), 3 * s, 3 * x[1]]
    np.testing.assert_allclose(srcgrad.grad(corpus.slot_overwrite_after_read)(x), want, rtol=1e-14)
    _, tangent = srcgrad.jvp(corpus.slot_overwrite_after_read)(x, np.array([1.0, 0.0, 0.0]))
    assert tangent == pytest.approx(want[0], rel=1e-14)


# -- slot assignment: located rejections ------------------------------------------------------


def writes_into_argument(x):
    x[0] = 1.0
    return x.sum()


def writes_into_shared_alias(x):
    y = x.copy()
    z = y
    y[0] = 2.0
    return (y * z).sum()


def writes_while_view_is_live(x):
    y = x * 1.0
    row = y[0]
    y[0] = row * 2
    return (row * y).sum()


def _fill_first(y):
    y[0] = 1.0
    return y


def calls_function_writing_its_argument(x):
    y = x * 2.0
    z = _fill_first(y)
    return (z * x).sum()


@pytest.mark.parametrize("transform", [srcgrad.grad, srcgrad.jvp])
@pytest.mark.parametrize("function, line, phrase", [
    (writes_into_argument, "x[0] = 1.0", "assigning into a slot of the argument `x`"),
    (writes_into_shared_alias, "y[0] = 2.0", "`y` may share memory with `z`"),
    (writes_while_view_is_live, "y[0] = row * 2", "`y` may share memory with `row`"),
    (_fill_first, "y[0] = 1.0", "assigning into a slot of the argument `y`"),
])
def test_unsafe_slot_assignment_is_located(transform, function, line, phrase):
    caller = calls_function_writing_its_argument if function is _fill_first else function
    with pytest.raises(srcgrad.SrcgradError) as info:
        transform(caller).source
    error = info.value
    assert phrase in error.message
    assert error.location.line == _line_of(function, line)
    assert error.location.filename == __file__
    assert error.location.text().strip() == line
    assert f"{__file__}:{error.location.line}:5: error:" in str(error)
    assert error.hint


def adds_into_alias_then_reads_it(x):
    y = x * 1.0
    z = y
    count = x.shape[0]
    y += x  # z sees the change: refused when it runs (an array, not a number)
    return (z * y).sum() * count


def adds_then_aliases(x):
    y = x * 1.0
    y += x
    z = y  # an alias made after the update: nothing to refuse
    return (z * y).sum()


def update_after_tuple_return(x):
    a = np.tanh(x)
    if np.sum(x) > 5.0:
        return x[0], a
    a += x  # the early return's tuple holds `a`, but nothing runs after it is made
    return x[0], a


def test_in_place_update_of_a_shared_array_is_refused_when_it_runs():
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(srcgrad.SrcgradError) as info:
        srcgrad.grad(adds_into_alias_then_reads_it)(x)
    error = info.value
    assert "an array that z also refers to" in error.message  # (not `count` or x.shape[0])
    assert error.location.line == _line_of(adds_into_alias_then_reads_it, "y += x  #")
    np.testing.assert_allclose(srcgrad.grad(adds_then_aliases)(x), 8.0 * x, rtol=1e-15)


def test_an_update_after_an_early_return_of_a_tuple_is_differentiated():
    x = np.array([0.3, -0.2, 0.5, 0.1])
    cotangent = (2.0, np.array([1.0, -1.0, 0.5, 3.0]))
    pulled = srcgrad.vjp(update_after_tuple_return)(x, cotangent)
    expected = cotangent[1] * (2.0 - np.tanh(x) ** 2)
    expected[0] += cotangent[0]
    np.testing.assert_allclose(pulled, expected, rtol=1e-14)


def returns_a_pair(x, y):
    return x * y, y * 2.0


def test_the_tangent_of_a_tuple_is_a_tuple():
    x = np.array([0.3, -0.2, 0.5])
    output, tangent = srcgrad.jvp(returns_a_pair, wrt="x")(x, 2.0, np.ones(3))
    assert type(output) is tuple and type(tangent) is tuple
    np.testing.assert_array_equal(tangent[0], [2.0, 2.0, 2.0])
    assert tangent[1] == 0.0


# -- stop_gradient, detach, no_grad in forward mode -----------------------------------------------


def test_stop_gradient_in_forward_mode():
    x = np.array([0.5, -2.0, 3.0])
    u = np.array([1.0, 2.0, -1.0])
    _, tangent = srcgrad.jvp(corpus.stop_gradient_square)(x, u)
    np.testing.assert_allclose(tangent, x * u, rtol=1e-15)
    _, tangent = srcgrad.jvp(corpus.detach_centered)(x, u)
    assert tangent == pytest.approx(np.sum(2.0 * (x - x.mean()) * u), rel=1e-14)
    _, tangent = srcgrad.jvp(corpus.no_grad_scale)(x, u)
    np.testing.assert_allclose(tangent, u * np.exp(x).sum(), rtol=1e-14)
    _, tangent = srcgrad.jvp(corpus.stop_gradient_through_call)(x, u)
    np.testing.assert_allclose(tangent, 3.0 * x * x * u, rtol=1e-14)


def test_no_grad_target_in_forward_mode():
    x = np.array([0.5, -2.0])
    w = np.array([1.5, 0.25])
    u, v = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    _, tangent = srcgrad.jvp(corpus.no_grad_target, wrt=(0, 1))(x, w, u, v)
    residual = 2.0 * (w * x - np.tanh(w * x))
    assert tangent == pytest.approx(np.sum(residual * (w * u + x * v)), rel=1e-14)


# -- a vanilla RNN over 50 steps ------------------------------------------------------------------

STEPS = 50
HIDDEN = 8
INPUTS = 3


def rnn_loss(xs, h, Wxh, Whh, bh):
    hs = []
    for t in range(STEPS):
        h = np.tanh(Wxh @ xs[t] + Whh @ h + bh)
        hs.append(h)
    return (np.stack(hs) ** 2).sum()


def _rnn_args(rng):
    xs = rng.standard_normal((STEPS, INPUTS))
    h0 = rng.standard_normal(HIDDEN) * 0.5
    Wxh = rng.standard_normal((HIDDEN, INPUTS)) * 0.4
    Whh = rng.standard_normal((HIDDEN, HIDDEN)) * (0.9 / np.sqrt(HIDDEN))
    bh = rng.standard_normal(HIDDEN) * 0.1
    return [xs, h0, Wxh, Whh, bh]


def _check_entries_by_finite_differences(function, args, positions, grads, rng, entries=4):
    for position, g in zip(positions, grads, strict=True):
        value = args[position]
        assert g.shape == value.shape
        flat = rng.choice(value.size, size=min(entries, value.size), replace=False)
        for index in (np.unravel_index(k, value.shape) for k in flat):
            def at(step):
                bumped = list(args)
                bumped[position] = value.copy()
                bumped[position][index] += step
                return function(*bumped)

            eps = 1e-6
            numeric = (at(eps) - at(-eps)) / (2 * eps)
            assert g[index] == pytest.approx(numeric, rel=1e-6, abs=1e-8), (position, index)


def _check_forward_against_reverse(function, args, positions, grads, rng):
    directions = [rng.standard_normal(args[p].shape) for p in positions]
    value, tangent = srcgrad.jvp(function, wrt=positions)(*args, *directions)
    assert value == pytest.approx(function(*args), rel=1e-13)
    reverse = sum(float(np.sum(g * d)) for g, d in zip(grads, directions, strict=True))
    assert tangent == pytest.approx(reverse, rel=1e-11)


def test_rnn_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    args = _rnn_args(rng)
    positions = (1, 2, 3, 4)
    grads = srcgrad.grad(rnn_loss, wrt=positions)(*args)
    assert all(np.any(g != 0) for g in grads)
    _check_entries_by_finite_differences(rnn_loss, args, positions, grads, rng)
    _check_forward_against_reverse(rnn_loss, args, positions, grads, rng)


# -- an LSTM cell written in NumPy, unrolled over 10 steps ----------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_loss(xs, h, c, Wi, Wf, Wo, Wg, bi, bf, bo, bg):
    for t in range(10):
        xh = np.concatenate([xs[t], h])
        i = sigmoid(Wi @ xh + bi)
        f = sigmoid(Wf @ xh + bf)
        o = sigmoid(Wo @ xh + bo)
        g = np.tanh(Wg @ xh + bg)
        c = f * c + i * g
        h = o * np.tanh(c)
    return (h * h).sum() + c.sum()


def test_lstm_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    hidden, inputs = 5, 3
    xs = rng.standard_normal((10, inputs))
    states = [rng.standard_normal(hidden) * 0.5 for _ in range(2)]
    weights = [rng.standard_normal((hidden, inputs + hidden)) * 0.5 for _ in range(4)]
    biases = [rng.standard_normal(hidden) * 0.2 for _ in range(4)]
    args = [xs, *states, *weights, *biases]
    positions = tuple(range(1, 11))
    grads = srcgrad.grad(lstm_loss, wrt=positions)(*args)
    assert all(np.any(g != 0) for g in grads)
    _check_entries_by_finite_differences(lstm_loss, args, positions, grads, rng, entries=3)
    _check_forward_against_reverse(lstm_loss, args, positions, grads, rng)


# -- what the backward sweep keeps ------------------------------------------------------------

MEMORY_STEPS = 12


def recurrent_tanh(h, W):
    for t in range(MEMORY_STEPS):
        h = np.tanh(W @ h)
    return h.sum()


def weighted_counter(x):
    s = 0.0
    for i in range(MEMORY_STEPS):
        s = s + x[i] * i
    return s


def weighted_row_counter(x):
    s = 0.0
    for i in range(MEMORY_STEPS):
        s = s + x[i] * i
    return s.sum()


def _run_counting_pushes(derivative, function_name: str, args):
    """Run the emitted module with its tape replaced by a list that records every push."""
    pushed = []

    class CountingList(list):
        def append(self, value):
            pushed.append(value)
            super().append(value)

    text = derivative.source
    assert text.count("stack = []") == 1, text
    namespace = {"CountingList": CountingList, "MEMORY_STEPS": MEMORY_STEPS}
    exec(compile(text.replace("stack = []", "stack = CountingList()"), "<test>", "exec"),
         namespace)
    result = namespace[function_name](*args)
    return result, pushed


@pytest.mark.parametrize("wrt", [0, (0, 1)])
def test_recurrent_loop_keeps_one_state_per_step(wrt):
    rng = np.random.default_rng(3)
    h = rng.standard_normal(16)
    W = rng.standard_normal((16, 16)) * 0.2
    derivative = srcgrad.grad(recurrent_tanh, wrt=wrt)
    result, pushed = _run_counting_pushes(derivative, "recurrent_tanh_grad", (h, W))
    for ours, theirs in zip(np.atleast_1d(result) if wrt == 0 else result,
                            np.atleast_1d(derivative(h, W)) if wrt == 0 else derivative(h, W),
                            strict=True):
        np.testing.assert_array_equal(ours, theirs)
    arrays = [v for v in pushed if isinstance(v, np.ndarray) and v.ndim > 0]
    assert len(arrays) == MEMORY_STEPS
    assert all(a.shape == h.shape for a in arrays)
    total = sum(getattr(v, "nbytes", 0) for v in pushed)
    assert total == MEMORY_STEPS * h.nbytes


@pytest.mark.parametrize("function, shape", [(weighted_counter, (MEMORY_STEPS,)),
                                             (weighted_row_counter, (MEMORY_STEPS, 50))])
def test_counter_loop_keeps_no_arrays(function, shape):
    x = np.random.default_rng(4).standard_normal(shape)
    derivative = srcgrad.grad(function)
    result, pushed = _run_counting_pushes(derivative, f"{function.__name__}_grad", (x,))
    weights = np.arange(float(MEMORY_STEPS)).reshape((-1,) + (1,) * (len(shape) - 1))
    want = np.broadcast_to(weights, shape)
    np.testing.assert_array_equal(result, want)
    assert not [v for v in pushed if isinstance(v, np.ndarray)]
    # What is kept is a shape record or a scalar (8 bytes at most) per push.
    assert sum(getattr(v, "nbytes", 0) for v in pushed) <= 8 * len(pushed)


# -- readability of the emitted RNN gradient ----------------------------------------------------


def test_rnn_gradient_reads_like_a_loop():
    text = srcgrad.grad(rnn_loss, wrt=(1, 2, 3, 4)).source
    assert "\n    for t in range(STEPS):\n" in text
    assert "\n    for t in reversed(range(STEPS)):\n" in text
    assert "stack.pop()" in text
    gradient_lines = ["h = np.tanh(Wxh @ xs[t] + Whh @ h + bh)", "hs.append(h)",
                      "return (np.stack(hs) ** 2).sum()"]
    assert text.count("# grad of line") == len(gradient_lines), text
    for line in gradient_lines:
        assert text.count(f"# grad of line {_line_of(rnn_loss, line)}: {line}\n") == 1, text
    # The backward loop visits the body's lines in reverse, after the return line.
    backward_loop = text.split("for t in reversed(range(STEPS)):\n")[1]
    assert backward_loop.index("hs.append(h)") < backward_loop.index("h = np.tanh(")
    assert text.index("return (np.stack(hs)") < text.index("for t in reversed")


def test_list_entries_see_later_slot_writes():
    """`hs.append(y)` stores `y` itself: later writes into `y` show in every entry. With
    x = [1, 2, 3] each of the three rows is [8 x0, x1, x2], so the loss is
    3 (8 x0**2 + x1**2 + x2**2). (Rejecting the write with a located error would also do.)"""
    x = np.array([1.0, 2.0, 3.0])
    assert corpus.slot_write_after_append(x) == 3 * (8 * 1.0 + 4.0 + 9.0)
    with pytest.raises(srcgrad.SrcgradError) as caught:
        srcgrad.grad(corpus.slot_write_after_append)(x)
    assert "is held by `hs`" in caught.value.message
    lines, first = inspect.getsourcelines(corpus.slot_write_after_append)
    marker = next(i for i, line in enumerate(lines) if "y[0] =" in line)
    assert caught.value.location.line == first + marker
