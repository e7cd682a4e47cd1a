"""Located diagnostics: every error names what is wrong, where (file, line, column) and what
to do, and none of them leaks a traceback from inside generated code.

The functions under test live in tests/programs/user_errors.py; each offending line there
ends with a marker comment `# <- NAME`, and the expected line and column are computed from
the marked line, so the program file can grow without breaking these tests.
"""

from __future__ import annotations

import functools
import inspect
import re
import traceback
from pathlib import Path

import numpy as np
import pytest

import srcgrad
from srcgrad import errors
from programs import user_errors as programs

PROGRAM_FILE = programs.__file__
_MARKER = re.compile(r"#\s<-\s(\S+)")


def _markers(lines: list[str], first_line: int = 1) -> dict[str, tuple[int, str]]:
    found = {}
    for number, text in enumerate(lines, start=first_line):
        match = _MARKER.search(text)
        if match:
            assert match.group(1) not in found, f"duplicate marker {match.group(1)}"
            found[match.group(1)] = (number, text.rstrip("\n"))
    return found


MARKS = _markers(Path(PROGRAM_FILE).read_text(encoding="utf-8").splitlines())


def marks_in(function) -> dict[str, tuple[int, str]]:
    """Markers inside a function defined in this file (for indented definitions)."""
    lines, start = inspect.getsourcelines(function)
    return _markers(lines, start)


def generated_frames(exc: BaseException) -> list[str]:
    """Filenames of traceback frames that belong to srcgrad's generated code."""
    names = []
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith("<srcgrad"):
            names.append(filename)
        tb = tb.tb_next
    return names


def assert_located(exc, cls, phrase: str, line: int, text: str, snippet: str,
                   filename: str = PROGRAM_FILE, cols: tuple[int, ...] | None = None):
    """`exc` is a `cls` whose message contains `phrase`, located at `snippet` in `text`
    (line `line` of `filename`), rendered with the source line, a caret and a help line."""
    assert isinstance(exc, cls), f"expected {cls.__name__}, got {type(exc).__name__}: {exc}"
    assert isinstance(exc, errors.SrcgradError)
    assert phrase.lower() in exc.message.lower(), exc.message
    location = exc.location
    assert location is not None
    assert location.filename == filename
    assert location.line == line, str(exc)
    expected_cols = cols if cols is not None else (text.index(snippet),)
    assert location.col in expected_cols, str(exc)

    rendered = str(exc)
    lines = rendered.splitlines()
    assert lines[0] == (f"{filename}:{line}:{location.col + 1}: error: {exc.message}")
    shown, caret = lines[1], lines[2]
    assert shown.strip() == text.strip()
    assert set(caret.strip()) == {"^"}, rendered
    caret_at = len(caret) - len(caret.lstrip())
    # The caret sits under the located column of the shown (re-indented) source line.
    assert caret_at - (len(shown) - len(shown.lstrip())) == location.col - (
        len(text) - len(text.lstrip())), rendered
    assert shown[caret_at:].startswith(text[location.col:location.col + 1])
    assert exc.hint
    assert lines[-1].startswith("help: ") and len(lines[-1]) > len("help: ") + 5
    assert not generated_frames(exc)
    assert "<srcgrad" not in "".join(traceback.format_exception(exc))


def compile_error(derivative) -> errors.SrcgradError:
    with pytest.raises(errors.SrcgradError) as caught:
        derivative.source
    return caught.value


# -- unsupported syntax -----------------------------------------------------------------

# (function, marker, key phrase of the message, text the location points at)
UNSUPPORTED = [
    ("uses_lambda", "lambda", "lambda", "lambda t"),
    ("uses_listcomp", "listcomp", "comprehension", "[t * 2.0"),
    # (the rules of a product and a sum gave wrong answers for lists before)
    ("uses_list_repetition", "list_repetition", "repeating a list", "[x * 2.0] * 3"),
    ("uses_list_concatenation", "list_concatenation", "concatenating lists", "[x] + [x"),
    ("uses_with", "with", "`with`", "with np"),
    ("uses_try", "try", "`try`", "try:"),
    ("uses_assert", "assert", "`assert`", "assert x"),
    ("uses_del", "del", "`del`", "del y"),
    ("uses_global", "global", "`global`", "global SCALE"),
    ("uses_nested_def", "nested_def", "function definitions inside a branch", "def inner"),
    ("uses_kwargs_call", "kwargs_call", "**kwargs", "**options"),
    ("uses_after_return", "after_return", "after `return`", "y = x"),
    ("uses_expression_statement", "expression_statement", "expression statement", "print(x)"),
    ("uses_no_return", "no_return", "return", "y = x"),
    ("uses_bare_return", "bare_return", "return", "return"),
]


@pytest.mark.parametrize(("name", "marker", "phrase", "snippet"), UNSUPPORTED,
                         ids=[case[0] for case in UNSUPPORTED])
def test_unsupported_syntax_is_located(name, marker, phrase, snippet):
    exc = compile_error(srcgrad.grad(getattr(programs, name)))
    line, text = MARKS[marker]
    assert_located(exc, errors.UnsupportedSyntaxError, phrase, line, text, snippet)


def test_list_concatenation_is_located_in_forward_mode_too():
    exc = compile_error(srcgrad.jvp(programs.uses_list_concatenation))
    line, text = MARKS["list_concatenation"]
    assert_located(exc, errors.UnsupportedSyntaxError, "forward mode", line, text, "[x] + [x")


# Constructs these tests once used as "unsupported" examples; they are differentiated now.
# (function, argument, d output / d argument worked out by hand)
ONCE_UNSUPPORTED = [
    ("uses_if", 1.5, 2.0),  # taken branch: 2 x
    ("uses_if", -1.5, 1.0),  # branch skipped: x
    ("uses_for", 1.5, 4 * 1.5 ** 3),  # x ** 4
    ("uses_while", 1.5, 8.0),  # 1.5 -> 3 -> 6 -> 12: three doublings
    ("uses_while", 3.0, 4.0),  # 3 -> 6 -> 12: two doublings
    ("uses_while", 12.0, 1.0),  # no doubling
    ("uses_ifexp", 1.5, 1.0),  # |x|
    ("uses_ifexp", -1.5, -1.0),
    ("uses_and", 0.5, 1.0),  # x * True
    ("uses_and", 1.5, 0.0),  # x * (x < 1.0) == x * False
    ("uses_and", -0.5, 0.0),  # x * (x > 0.0) == x * False
    ("uses_or", 1.5, 1.0),  # x * (x > 1.0) == x * True
    ("uses_or", -0.5, 1.0),  # x * (x < 0.0) == x * True
    ("uses_or", 0.5, 0.0),  # x * False
    ("calls_user_function", 1.5, 6.0),  # helper(x) * 2.0 == 6 x
    ("uses_tuple_value", 1.5, 6.0),  # x * 2 x: 4 x
    ("uses_list_value", 1.5, 5.0),  # 2 x + x * x: 2 + 2 x
]


@pytest.mark.parametrize(("name", "x", "expected"), ONCE_UNSUPPORTED,
                         ids=[f"{case[0]}-{case[1]}" for case in ONCE_UNSUPPORTED])
def test_control_flow_once_rejected_is_differentiated(name, x, expected):
    function = getattr(programs, name)
    assert float(srcgrad.grad(function)(x)) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    value, tangent = srcgrad.jvp(function)(x, 1.0)
    assert float(value) == pytest.approx(float(function(x)), rel=1e-12, abs=1e-12)
    assert float(tangent) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_subscript_store_once_rejected_is_differentiated():
    # y = [x, 0, 0]: the pullback keeps the first cotangent entry, the pushforward puts the
    # tangent in the first slot.
    pulled_back = srcgrad.vjp(programs.uses_subscript_store)(2.0, np.array([0.5, 2.0, 3.0]))
    assert float(pulled_back) == 0.5
    value, tangent = srcgrad.jvp(programs.uses_subscript_store)(2.0, 1.5)
    np.testing.assert_array_equal(value, [2.0, 0.0, 0.0])
    np.testing.assert_array_equal(tangent, [1.5, 0.0, 0.0])


def test_variadic_parameter_is_located():
    exc = compile_error(srcgrad.grad(programs.uses_varargs))
    line, text = MARKS["varargs"]
    star = text.index("*rest")
    # Either the `*` or the parameter name is a fair place for the caret.
    assert_located(exc, errors.UnsupportedSyntaxError, "*args", line, text, "*rest",
                   cols=(star, star + 1))


def test_unsupported_syntax_in_an_indented_decorated_function():
    @srcgrad.grad(wrt="x")
    def decorated(x, y):
        z = x * y
        with np.errstate(all="ignore"):  # <- indented_with
            z = z * 2.0
        return z

    line, text = marks_in(decorated.__wrapped__)["indented_with"]
    exc = compile_error(decorated)
    assert_located(exc, errors.UnsupportedSyntaxError, "`with`", line, text, "with np",
                   filename=__file__)


def test_syntax_errors_are_raised_on_call_too():
    derivative = srcgrad.grad(programs.uses_try)
    with pytest.raises(errors.UnsupportedSyntaxError) as caught:
        derivative(1.0)
    line, text = MARKS["try"]
    assert_located(caught.value, errors.UnsupportedSyntaxError, "`try`", line, text, "try")


# -- unknown callees ---------------------------------------------------------------------

def test_call_without_rule_on_the_output_path():
    exc = compile_error(srcgrad.grad(programs.sort_feeds_output))
    line, text = MARKS["sort_active"]
    assert_located(exc, errors.UnknownCalleeError, "np.sort", line, text, "np.sort(x)")


def test_call_without_rule_off_the_output_path_compiles():
    derivative = srcgrad.grad(programs.sort_not_on_path)
    assert "def sort_not_on_path_grad" in derivative.source
    np.testing.assert_array_equal(derivative(np.array([2.0, 1.0])), [3.0, 0.0])


def test_call_without_rule_in_an_indented_function():
    def local(x):
        y = x * 2.0
        ordered = np.sort(y)  # <- local_sort
        return ordered * x

    line, text = marks_in(local)["local_sort"]
    exc = compile_error(srcgrad.vjp(local))
    assert_located(exc, errors.UnknownCalleeError, "np.sort", line, text, "np.sort(y)",
                   filename=__file__)


def test_unknown_method():
    exc = compile_error(srcgrad.grad(programs.unknown_method))
    line, text = MARKS["method"]
    start = text.index("x.frobnicate")
    assert_located(exc, errors.UnknownCalleeError, "frobnicate", line, text, "x.frobnicate",
                   cols=(start, start + len("x.")))


def test_undefined_name():
    exc = compile_error(srcgrad.grad(programs.undefined_name))
    line, text = MARKS["undefined_name"]
    assert_located(exc, errors.UnknownCalleeError, "not_defined_anywhere", line, text,
                   "not_defined_anywhere")
    assert "not defined" in exc.message


def test_undefined_callee():
    exc = compile_error(srcgrad.grad(programs.undefined_callee))
    line, text = MARKS["undefined_callee"]
    assert_located(exc, errors.UnknownCalleeError, "no_such_function", line, text,
                   "no_such_function")


# -- source unavailable ------------------------------------------------------------------

def _assert_unavailable(exc, name: str):
    assert isinstance(exc, errors.SourceUnavailableError), repr(exc)
    assert name in exc.message
    rendered = str(exc)
    assert exc.hint
    assert rendered.splitlines()[-1] == f"help: {exc.hint}"
    assert not generated_frames(exc)


@pytest.mark.parametrize("function", [np.tanh, len], ids=["ufunc", "builtin"])
def test_builtin_has_no_source(function):
    exc = compile_error(srcgrad.grad(function))
    _assert_unavailable(exc, function.__name__)
    assert "built-in" in exc.message


def test_function_made_with_exec_has_no_source():
    namespace = {}
    exec("def made_by_exec(x):\n    return x * 2.0\n", namespace)  # noqa: S102
    exc = compile_error(srcgrad.grad(namespace["made_by_exec"]))
    _assert_unavailable(exc, "made_by_exec")
    assert exc.location is not None
    assert exc.location.filename == "<string>"
    assert exc.location.line == 1


def test_partial_object_has_no_source():
    partial = functools.partial(programs.scaled, n=2.0)
    exc = compile_error(srcgrad.grad(partial))
    _assert_unavailable(exc, "partial")


def test_source_unavailable_on_call():
    with pytest.raises(errors.SourceUnavailableError):
        srcgrad.grad(np.tanh)(1.0)


# -- wrt ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("wrt", "phrase"),
    [("z", "'z'"), (2, "wrt=2"), (-3, "wrt=-3"), (("x", "x"), "twice"), ((0, "x"), "twice"),
     ((), "empty"), (True, "True")],
    ids=["unknown-name", "position", "negative-position", "duplicate", "duplicate-mixed",
         "empty", "bool"],
)
def test_bad_wrt(wrt, phrase):
    exc = compile_error(srcgrad.grad(programs.two_params, wrt=wrt))
    line, text = MARKS["two_params"]
    assert_located(exc, errors.UnknownWrtError, phrase, line, text, "def two_params")
    assert "x" in exc.hint and "y" in exc.hint, exc.hint
    assert re.search(r"\bx, y\b", exc.hint), exc.hint


def test_bad_wrt_in_an_indented_function():
    def local(a, b):  # <- local_def
        return a * b

    line, text = marks_in(local)["local_def"]
    exc = compile_error(srcgrad.grad(local, wrt="c"))
    assert_located(exc, errors.UnknownWrtError, "'c'", line, text, "def local",
                   filename=__file__)
    assert "a, b" in exc.hint


# -- non-float wrt values ----------------------------------------------------------------

@pytest.mark.parametrize(
    "value",
    [3, True, np.int64(3), np.arange(3), np.array([True]), np.array(2, dtype=np.int32)],
    ids=["int", "bool", "np.int64", "int-array", "bool-array", "int32-0d"],
)
def test_integer_wrt_argument(value):
    derivative = srcgrad.grad(programs.scaled)
    with pytest.raises(errors.NonFloatWrtError) as caught:
        derivative(value, 2.0)
    line, text = MARKS["scaled"]
    assert_located(caught.value, errors.NonFloatWrtError, "`x`", line, text, "x, n")


def test_integer_wrt_argument_by_keyword_points_at_its_parameter():
    derivative = srcgrad.grad(programs.scaled, wrt="n")
    with pytest.raises(errors.NonFloatWrtError) as caught:
        derivative(2.0, n=3)
    line, text = MARKS["scaled"]
    assert_located(caught.value, errors.NonFloatWrtError, "`n`", line, text, "n)")


def test_integer_second_wrt_argument():
    derivative = srcgrad.grad(programs.scaled, wrt=(0, 1))
    with pytest.raises(errors.NonFloatWrtError) as caught:
        derivative(2.0, np.arange(2))
    line, text = MARKS["scaled"]
    assert_located(caught.value, errors.NonFloatWrtError, "`n`", line, text, "n)")
    assert "int" in caught.value.message


def test_integer_argument_outside_wrt_is_fine():
    assert srcgrad.grad(programs.scaled)(2.0, 3) == 3
    assert srcgrad.grad(programs.scaled, wrt="n")(4, 2.0) == 4


# -- non-scalar output --------------------------------------------------------------------

def test_grad_of_non_scalar_output():
    derivative = srcgrad.grad(programs.doubled)
    with pytest.raises(errors.NonScalarOutputError) as caught:
        derivative(np.ones(3))
    exc = caught.value
    line, text = MARKS["doubled_return"]
    assert_located(exc, errors.NonScalarOutputError, "(3,)", line, text, "return")
    assert "vjp" in str(exc)
    # The original runtime error (raised inside generated code) is not chained in.
    assert exc.__cause__ is None and exc.__suppress_context__


# -- when errors are raised -----------------------------------------------------------------

def test_errors_are_raised_at_compile_time_not_at_decoration():
    derivative = srcgrad.grad(programs.uses_with)  # must not raise
    assert callable(derivative)
    with pytest.raises(errors.UnsupportedSyntaxError):
        derivative.source
    # Asking again raises again (a failed compilation is not cached as a success).
    with pytest.raises(errors.UnsupportedSyntaxError):
        derivative.source


def test_decorator_does_not_raise_on_a_bad_function():
    @srcgrad.grad
    def bad(x):
        try:
            x = x * x
        except ValueError:
            pass
        return x

    with pytest.raises(errors.UnsupportedSyntaxError):
        bad(1.0)
    bad_with_wrt = srcgrad.grad(wrt="nope")(programs.two_params)
    with pytest.raises(errors.UnknownWrtError):
        bad_with_wrt.source


def test_no_generated_frames_in_compile_errors_raised_from_calls():
    for function in (programs.sort_feeds_output, programs.uses_listcomp,
                     programs.undefined_name):
        with pytest.raises(errors.SrcgradError) as caught:
            srcgrad.grad(function)(np.ones(2))
        assert not generated_frames(caught.value)
        assert "<srcgrad" not in "".join(traceback.format_exception(caught.value))


def test_errors_survive_pickling():
    import pickle

    exc = compile_error(srcgrad.grad(programs.uses_with))
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert copy.location == exc.location
    assert copy.hint == exc.hint
    assert str(copy) == str(exc)


def concatenated_arguments(xs, ys):
    q = xs + ys
    return np.sum(q[0] * q[1])


def repeated_argument(p):
    q = p * 2
    return np.sum(q[0] * q[3])


def repeated_for_arrays_only(p):
    if isinstance(p, np.ndarray):
        p = p * 2
    return np.sum(np.stack(p) ** 2)


def repeated_in_a_loop(p, n):
    total = 0.0
    for _ in range(n):
        q = p * 2
        total = total + np.sum(q[0] * q[3])
    return total


def joined_output(xs, ys):
    return xs + ys


def weighted_by_a_list(w, x):
    return np.sum(w * x + w)


def _line_of(function, text: str) -> int:
    lines, first = inspect.getsourcelines(function)
    return first + next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("function, text, message", [
    (concatenated_arguments, "q = xs + ys", "concatenating lists or tuples with `+`"),
    (repeated_argument, "q = p * 2", "repeating a list or tuple with `*`"),
])
def test_list_arguments_joined_or_repeated_are_located_in_reverse_mode(function, text,
                                                                       message):
    # (reverse mode gave [7, 10] for [6, 8] for the concatenation, and a TypeError from
    # generated code for the repetition; the call's lists are known when it compiles)
    p = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    args = (p[:1], p[1:]) if function is concatenated_arguments else (p,)
    wrt = tuple(range(len(args)))
    with pytest.raises(errors.UnsupportedSyntaxError, match=re.escape(message)) as caught:
        srcgrad.grad(function, wrt=wrt)(*args)
    assert caught.value.location.line == _line_of(function, text)
    assert text in caught.value.render()
    # code for arguments of any type (the command line's) refuses them when it runs
    with pytest.raises(ValueError, match=r"concatenating \(\+\) or repeating \(\*\)"):
        srcgrad.vjp(function, wrt=wrt).generic_function()(*args, 1.0)


def test_a_repetition_that_may_not_run_is_refused_only_when_it_runs():
    p = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    gradient = srcgrad.grad(repeated_for_arrays_only)(p)  # (the branch is for arrays)
    for got, item in zip(gradient, p, strict=True):
        np.testing.assert_allclose(got, 2.0 * item)
    assert [g.tolist() for g in srcgrad.grad(repeated_in_a_loop)(p, 0)] == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match=r"concatenating \(\+\) or repeating \(\*\)"):
        srcgrad.grad(repeated_in_a_loop)(p, 1)


def test_forward_mode_puts_the_tangent_of_one_joined_list_in_its_slots():
    # (the rule of a sum gave the tangent [dys0, dys1] for the four items of xs + ys)
    xs = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    ys = [np.array([5.0, 6.0]), np.array([7.0, 8.0])]
    dxs = [np.array([0.5, 0.25]), np.array([1.0, 2.0])]
    for wrt, tangent, expected in ((1, dxs, [0, 0, *dxs]), (0, dxs, [*dxs, 0, 0])):
        value, got = srcgrad.jvp(joined_output, wrt=wrt)(xs, ys, tangent)
        assert len(value) == 4 and len(got) == 4
        for item, reference in zip(got, expected, strict=True):
            np.testing.assert_array_equal(item, np.broadcast_to(reference, (2,)))
        # code for arguments of any type cannot tell the slots: it says so
        with pytest.raises(ValueError, match="joined with `\\+` to one that carries none"):
            srcgrad.jvp(joined_output, wrt=wrt).generic_function()(xs, ys, tangent)


def test_forward_mode_joins_and_repeats_list_arguments():
    p = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    value, tangent = srcgrad.jvp(concatenated_arguments, wrt=(0, 1))(
        p[:1], p[1:], [np.ones(2)], [np.ones(2)])
    assert value == 11.0 and tangent == 10.0
    value, tangent = srcgrad.jvp(repeated_argument)(p, [np.ones(2), np.zeros(2)])
    assert value == 11.0 and tangent == 7.0  # d/dp0 sum(p0 * p1) . [1, 1] = 3 + 4


def test_a_list_of_numbers_times_an_array_is_numpy_arithmetic():
    x = np.array([3.0, 4.0])
    np.testing.assert_array_equal(srcgrad.grad(weighted_by_a_list, wrt=1)([1.0, 2.0], x),
                                  [1.0, 2.0])


def _triples_in_place(a):
    a *= 3.0
    return a


def _result_unused(x):
    v = x * 1.0
    u = _triples_in_place(v)  # noqa: F841 - unused, but v has changed
    return np.sum(v)


def _through_another(x):
    v = x * 1.0
    w = _result_unused_helper(v)  # noqa: F841
    return np.sum(v)


def _result_unused_helper(a):
    b = _triples_in_place(a)
    return b


def _a_number_updated(x):
    s = 2.0
    u = _triples_in_place(s)  # noqa: F841 - a number is rebound: nothing changes
    return np.sum(x) * s


@pytest.mark.parametrize("function", [_result_unused, _through_another])
def test_a_helper_updating_its_argument_is_refused_when_its_result_is_unused(function):
    # (the call went as dead code, and with it the check: the derivative was computed
    # as if the helper had not tripled v, 3.0 and [1, 1] for f = 9.0)
    x = np.array([1.0, 2.0])
    line = _line_of(_triples_in_place, "a *= 3.0")
    for transform, args in [(srcgrad.grad, (x,)), (srcgrad.value_and_grad, (x,)),
                            (srcgrad.jvp, (x, np.ones(2)))]:
        with pytest.raises(errors.SharedMemoryError, match="passed as the argument `a`") as info:
            transform(function)(*args)
        assert f":{line}:" in str(info.value)
    gradient = srcgrad.grad(_a_number_updated)(x)
    np.testing.assert_array_equal(gradient, [2.0, 2.0])


def _inner_product(w, x):
    return np.tanh(x @ w)


def _calls_inner(w, x):
    h = _inner_product(w, x)
    return np.sum(h * h)


def _entries(x):
    return {"a": x, "b": x * 2.0}


def _loops_over_a_dict_of_unknown_type(x):
    entries = _entries(x)
    total = 0.0
    for name in entries:
        total = total + np.sum(entries[name])
    return total


def _note(error: BaseException) -> str:
    notes = [n for n in getattr(error, "__notes__", ()) if n.startswith("srcgrad:")]
    assert len(notes) == 1, notes
    return notes[0]


def test_an_error_raised_by_emitted_code_names_the_users_line():
    """NumPy's own error stays (its type and message), with a note naming the line of the
    user's file whose emitted code raised it: through the fast path and the full path, in
    a helper, and through a derivative of a derivative (the note follows the emitted
    code's lines back to the user's)."""
    w, good, bad = np.ones(3), np.ones((4, 3)), np.ones((4, 5))
    line = _line_of(_inner_product, "return np.tanh(x @ w)")
    derivative = srcgrad.grad(_calls_inner)
    derivative(w, good)  # (the next call takes the fast path)
    pullback = srcgrad.vjp(_calls_inner)
    nested = srcgrad.jvp(srcgrad.grad(_calls_inner))
    for call in (lambda: derivative(w, bad), lambda: srcgrad.grad(_calls_inner)(w, bad),
                 lambda: pullback(w, bad, **{pullback.extra_parameters[0]: 1.0}),
                 lambda: nested(w, bad, **{nested.extra_parameters[0]: np.ones(3)})):
        with pytest.raises(ValueError, match="matmul") as info:
            call()
        note = _note(info.value)
        assert f"{__file__}:{line}:" in note, note
        assert "return np.tanh(x @ w)" in note and "^^^^^" in note
        assert "help: call the function itself" in note


def test_a_loop_over_a_dict_srcgrad_cannot_see_is_located():
    """(A dict a helper returns: the loop reads entries by position, and the KeyError
    names the loop's line; dict displays, parameters and .items() loop over keys.)"""
    with pytest.raises(KeyError) as info:
        srcgrad.grad(_loops_over_a_dict_of_unknown_type)(np.ones(2))
    line = _line_of(_loops_over_a_dict_of_unknown_type, "for name in entries:")
    assert f"{__file__}:{line}:" in _note(info.value)
