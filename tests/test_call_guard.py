"""The fast path of a call: the code of the last plain call runs again only for arguments
of its types, dtypes and layouts (other sizes included); anything else takes the full path
(and its own code)."""

import copy
import inspect
import sys
import threading

import numpy as np
import pytest

import srcgrad
from srcgrad import arguments


def _recorded(*args):
    return args


def _slow(*args, **kwargs):
    return "slow", args, kwargs


def test_the_fast_path_calls_for_the_recorded_signature():
    x, n = np.ones((2, 3)), 4.0
    call = arguments.fast_path((x, n), _recorded, _slow)
    y = np.zeros((2, 3))
    assert call(y, 1.5) == (y, 1.5)


@pytest.mark.parametrize("args", [
    (np.ones((2, 1)), 1.0),  # a unit axis
    (np.ones((1, 3)), 1.0),
    (np.ones((1, 1)), 1.0),
    (np.ones(6), 1.0),  # another rank
    (np.ones((2, 3, 1)), 1.0),
    (np.ones(()), 1.0),
    (np.ones((2, 3), dtype=np.float32), 1.0),  # another dtype
    (np.ones((2, 3)), 1),  # an int where a float was
    (np.ones((2, 3)).tolist(), 1.0),  # a list where an array was
    (1.0, np.ones((2, 3))),  # swapped
    (np.ones((2, 3)),),  # fewer
    (np.ones((2, 3)), 1.0, 1.0),  # more
    (np.ma.ones((2, 3)), 1.0),  # a subclass of ndarray
])
def test_the_fast_path_hands_any_other_signature_on_as_it_came(args):
    call = arguments.fast_path((np.ones((2, 3)), 4.0), _recorded, _slow)
    assert call(*args) == ("slow", args, {})


def test_other_sizes_of_the_same_layouts_take_the_fast_path_and_are_kept():
    x, v = np.ones((2, 3)), np.ones(4)
    call = arguments.fast_path((x, 4.0, v), _recorded, _slow)
    for args in [(np.ones((5, 7)), 1.0, np.ones(2)), (x, 4.0, v), (np.ones((0, 2)), 2.0, v)]:
        assert call(*args) == args
        assert call.__globals__["shape0"] == args[0].shape  # compared first next time
        assert call.__globals__["shape2"] == args[2].shape
    # the layouts still decide, and a refused call keeps the shapes of the last one taken
    for args in [(np.ones((5, 1)), 1.0, v), (x, 4.0, np.ones(1)), (x, 4.0, np.ones((4, 2)))]:
        assert call(*args) == ("slow", args, {})
        assert call.__globals__["shape0"] == (0, 2) and call.__globals__["shape2"] == (4,)
    unit = arguments.fast_path((np.ones((3, 1)), np.ones(())), _recorded, _slow)
    for args, taken in [((np.ones((6, 1)), np.ones(())), True),
                        ((np.ones((6, 2)), np.ones(())), False),
                        ((np.ones((1, 1)), np.ones(())), False),
                        ((np.ones((6, 1)), np.ones(1)), False)]:
        assert (unit(*args)[0] is args[0]) is taken


def test_keywords_take_the_slow_path():
    x = np.ones((2, 3))
    call = arguments.fast_path((x, 4.0), _recorded, _slow)
    assert call(x, n=1.0) == ("slow", (x,), {"n": 1.0})
    assert call(x, 1.0, a0=2.0) == ("slow", (x, 1.0), {"a0": 2.0})
    assert call(a1=x) == ("slow", (), {"a1": x})


def test_a_fast_path_made_for_keywords_takes_them_in_any_order():
    x, v = np.ones((2, 3)), np.ones(4)
    call = arguments.fast_path((x,), _recorded_keywords, _slow, {"n": 4.0, "v": v})
    y, w = np.ones((5, 2)), np.ones(7)
    for args, kwargs in [((x,), {"v": v, "n": 2.0}), ((y,), {"n": 2.0, "v": w})]:
        got_args, got_kwargs = call(*args, **kwargs)
        assert got_args == args and got_kwargs.keys() == {"n", "v"}
        assert got_kwargs["n"] == kwargs["n"] and got_kwargs["v"] is kwargs["v"]
    for args, kwargs in [((x,), {"n": 2.0}),  # one left out
                         ((x,), {"n": 2.0, "v": v, "w": 1.0}),  # one more
                         ((x, 2.0), {"v": v}),  # passed by position
                         ((x,), {"n": 2, "v": v}),  # an int where a float was
                         ((x,), {"n": 2.0, "v": np.ones(1)}),  # a unit axis
                         ((), {"n": 2.0, "v": v})]:  # the positional one left out
        assert call(*args, **kwargs) == ("slow", args, kwargs)


def _recorded_keywords(*args, **kwargs):
    return args, kwargs


def test_the_fast_path_of_no_arguments():
    call = arguments.fast_path((), _recorded, _slow)
    assert call() == ()
    assert call(1.0) == ("slow", (1.0,), {})
    assert call(x=1.0) == ("slow", (), {"x": 1.0})


def test_errors_the_full_path_locates_go_to_it():
    def failing(x):
        raise srcgrad.runtime.NonScalarOutputError("not a scalar")

    call = arguments.fast_path((1.0,), failing, _slow)
    assert call(2.0) == ("slow", (2.0,), {})


def test_a_derivative_is_called_through_its_fast_path_after_a_plain_call():
    grad = srcgrad.grad(_loss, wrt=["w", "b"])
    w, b, x = np.ones((3, 4)), np.zeros(4), np.ones((5, 3))
    assert grad.__call__ == grad._slow_call
    first = grad(w, b, x)
    fast = grad.__call__
    assert fast != grad._slow_call
    for got, expected in zip(grad(w, b, x), first, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert grad.__call__ is fast
    assert callable(grad) and inspect.signature(grad) == inspect.signature(_loss)


def _loss(w, b, x):
    return np.sum(np.tanh(x @ w + b) ** 2)


def _expected(w, b, x):
    t = np.tanh(x @ w + b)
    g = 2.0 * t * (1.0 - t * t)
    gb = g.sum(axis=tuple(range(g.ndim - b.ndim))) if b.ndim else g.sum()
    for axis, n in enumerate(b.shape[::-1]):
        if n == 1 and g.shape[g.ndim - 1 - axis] != 1:
            gb = gb.sum(axis=b.ndim - 1 - axis, keepdims=True)
    return x.T @ g, gb


def _counting_full_calls(derivative) -> list:
    full_calls = []
    full_call = derivative._full_call

    def counted(args, kwargs):
        full_calls.append(args)
        return full_call(args, kwargs)

    derivative._full_call = counted
    return full_calls


def test_batches_of_other_sizes_stay_on_the_fast_path():
    rng = np.random.default_rng(1)
    grad = srcgrad.grad(_loss, wrt=["w", "b"])
    w, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    batches = [rng.normal(size=(n, 3)) for n in (8, 5, 8, 2, 5)]
    full_calls = _counting_full_calls(grad)
    grad(w, b, batches[0])
    fast = grad.__call__
    for x in batches:
        for got, expected in zip(grad(w, b, x), _expected(w, b, x), strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert len(full_calls) == 1 and grad.__call__ is fast
    grad(w, b, rng.normal(size=(1, 3)))  # a unit axis: other code
    assert len(full_calls) == 2 and grad.__call__ is not fast


def test_calls_alternating_signatures_reuse_the_fast_path_made_for_each():
    grad = srcgrad.grad(_scaled_tanh)
    x = np.linspace(-1.0, 1.0, 5)
    fast = {}
    for w in [2.0, np.float64(0.5), 2.0, np.float64(0.5), 1.5]:
        got = grad(x, w)
        np.testing.assert_allclose(got, (1.0 - np.tanh(x * w) ** 2) * w * 3.0, rtol=1e-14)
        assert fast.setdefault(type(w), grad.__call__) is grad.__call__
    assert len(fast) == 2


def test_calls_with_keywords_take_a_fast_path_of_their_own():
    grad = srcgrad.grad(_loss, wrt=["w", "b"])
    rng = np.random.default_rng(2)
    w, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    xs = [rng.normal(size=(n, 3)) for n in (6, 6, 2)]
    calls = [((w, b), {"x": xs[0]}), ((w,), {"x": xs[1], "b": b}), ((w, b, xs[2]), {}),
             ((), {"b": b, "x": xs[1], "w": w}), ((w, b), {"x": xs[2]})]
    full_calls = _counting_full_calls(grad)
    for args, kwargs in calls * 2:
        grad(*args, **kwargs)  # (another pattern than the call before's: the full path)
        del full_calls[:]
        x = kwargs["x"] if "x" in kwargs else args[2]
        for got, expected in zip(grad(*args, **kwargs), _expected(w, b, x), strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-13)
        assert full_calls == []
    assert len(grad._fast_paths) == 4


def _named_like_the_fast_path(x, more=2.0, a0=0.5, shape1=1.0, type=3.0):  # noqa: A002
    return np.sum(np.sin(x * more) * a0 + x * shape1 * type)


def test_keywords_named_like_the_fast_paths_own_names_are_passed_right():
    grad = srcgrad.grad(_named_like_the_fast_path, wrt=["x", "more", "a0", "shape1", "type"])
    x = np.linspace(-1.0, 1.0, 5)
    for keywords in [{"more": 1.5}, {"a0": 2.0, "shape1": 0.5}, {"type": -1.0}, {}] * 2:
        values = {"more": 2.0, "a0": 0.5, "shape1": 1.0, "type": 3.0, **keywords}
        got = grad(x, **keywords)
        m, a, s, t = values["more"], values["a0"], values["shape1"], values["type"]
        expected = (np.cos(x * m) * m * a + s * t, np.sum(np.cos(x * m) * x * a),
                    np.sum(np.sin(x * m)), np.sum(x * t), np.sum(x * s))
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-13, atol=1e-15)


def test_calls_alternating_layouts_and_dtypes_each_get_their_own_code():
    """Specialized code (unit axes summed or not, in-place updates only for float64) must
    not run for arguments it was not made for, however the calls alternate."""
    rng = np.random.default_rng(0)
    grad = srcgrad.grad(_loss, wrt=["w", "b"])
    calls = [
        (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(5, 3))),
        (rng.normal(size=(3, 1)), rng.normal(size=1), rng.normal(size=(5, 3))),
        (rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 3))),
        (rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32),
         rng.normal(size=(5, 3)).astype(np.float32)),
    ]
    for _ in range(2):
        for w, b, x in calls:
            gw, gb = grad(w, b, x)
            ew, eb = _expected(w.astype(float), b.astype(float), x.astype(float))
            tolerance = 1e-4 if w.dtype == np.float32 else 1e-12
            assert gw.shape == w.shape and gb.shape == b.shape
            np.testing.assert_allclose(gw, ew, rtol=tolerance, atol=tolerance)
            np.testing.assert_allclose(gb, eb, rtol=tolerance, atol=tolerance)


def test_a_fast_call_still_reports_errors_with_their_location():
    def non_scalar(x):
        return x * 2.0

    grad = srcgrad.grad(non_scalar)
    x = np.ones(3)
    for _ in range(2):
        with pytest.raises(srcgrad.errors.NonScalarOutputError, match="vjp"):
            grad(x)


def test_an_integer_array_after_a_float64_one_gets_code_without_in_place_updates():
    def weighted(w, x):
        return np.sum(np.exp(-x) * w)

    grad = srcgrad.grad(weighted)
    w = np.linspace(0.0, 1.0, 4)
    for x in (np.arange(4.0), np.arange(4), np.arange(4.0), np.arange(4)):
        np.testing.assert_allclose(grad(w, x), np.exp(-np.arange(4.0)), rtol=1e-14)


def _sum_of_product(x, y):
    return np.sum(x * y + np.sin(x))


def _expected_product_gradient(x, y):
    g = y + np.cos(x)
    return g if x.shape == y.shape else g.sum(axis=1 if x.shape[1] == 1 else 0, keepdims=True)


def test_a_copy_calls_through_its_own_state():
    grad = srcgrad.grad(_sum_of_product)
    copied = copy.copy(grad)
    x, y = np.ones((3, 4)), np.full((3, 4), 2.0)
    np.testing.assert_allclose(copied(x, y), _expected_product_gradient(x, y))
    assert copied.__call__ != copied._slow_call  # its own fast path now
    assert grad.__call__ == grad._slow_call and grad._call is None  # the original untouched
    np.testing.assert_allclose(copied(x, y), _expected_product_gradient(x, y))


def test_the_class_attribute_calls_a_derivative():
    grad = srcgrad.grad(_sum_of_product)
    x, y = np.ones((3, 4)), np.full((3, 4), 2.0)
    for _ in range(2):  # the full path, then the fast one
        np.testing.assert_allclose(srcgrad.Derivative.__call__(grad, x, y),
                                   _expected_product_gradient(x, y))


def test_threads_calling_one_derivative_with_other_layouts_get_their_own_code():
    # (a call compiled its code and then ran the latest compiled, which another thread
    # could have replaced: gradients of a (3, 4) array came back for a (3, 1) one)
    grad = srcgrad.grad(_sum_of_product)
    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, 4))
    xs = [rng.standard_normal(shape) for shape in ((3, 1), (3, 4), (1, 4))]
    wrong = []

    def work(x):
        expected = _expected_product_gradient(x, y)
        for _ in range(400):
            try:
                g = grad(x, y)
            except Exception as exc:  # noqa: BLE001 - any failure is one to report
                wrong.append(repr(exc))
                continue
            if g.shape != x.shape or not np.allclose(g, expected):
                wrong.append(g.shape)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(x,)) for x in xs for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []


def _scaled_tanh(x, w=2.0, *, scale=3.0):
    return np.sum(np.tanh(x * w)) * scale


def test_calls_that_leave_defaults_out_take_the_fast_path_too():
    grad = srcgrad.grad(_scaled_tanh)
    x = np.linspace(-1.0, 1.0, 5)
    calls = [((x,), {}, 2.0, 3.0), ((x, 0.5), {}, 0.5, 3.0), ((x,), {"scale": 1.0}, 2.0, 1.0),
             ((x,), {}, 2.0, 3.0), ((x, 2.0), {}, 2.0, 3.0)]
    for args, kwargs, w, scale in calls * 2:
        got = grad(*args, **kwargs)
        np.testing.assert_allclose(got, (1.0 - np.tanh(x * w) ** 2) * w * scale, rtol=1e-14)
        assert grad.__call__ != grad._slow_call


def _dict_loss(params, x, scale=1.0):
    h = np.tanh(x @ params["W"] + params["b"])
    return np.sum(h ** 2) * scale


def _dict_expected(params, x, scale=1.0):
    h = np.tanh(x @ params["W"] + params["b"])
    g = 2.0 * h * (1.0 - h * h) * scale
    return {"W": x.T @ g, "b": g.sum(axis=0)}


def test_calls_passing_dicts_lists_and_tuples_take_the_fast_path_with_their_structure():
    rng = np.random.default_rng(3)
    params = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    grad = srcgrad.grad(_dict_loss)
    full_calls = _counting_full_calls(grad)
    xs = [rng.normal(size=(n, 4)) for n in (5, 5, 2)]
    for x in xs:
        got = grad(params, x)
        assert type(got) is dict and list(got) == ["W", "b"]
        for key, expected in _dict_expected(params, x).items():
            np.testing.assert_allclose(got[key], expected, rtol=1e-13)
    assert len(full_calls) == 1
    # another dict, with an entry the function does not read: zeros of its shape
    other = {"b": rng.normal(size=3), "W": rng.normal(size=(4, 3)), "unused": np.ones(2)}
    for _ in range(2):
        got = grad(other, xs[0], scale=2.0)
        assert list(got) == ["b", "W", "unused"]
        np.testing.assert_array_equal(got["unused"], np.zeros(2))
        for key, expected in _dict_expected(other, xs[0], 2.0).items():
            np.testing.assert_allclose(got[key], expected, rtol=1e-13)
    assert len(full_calls) == 2

    def list_loss(layers, x):
        return _dict_loss({"W": layers[0], "b": layers[1]}, x)

    for kind in (list, tuple):
        layers = kind([params["W"], params["b"]])
        grad = srcgrad.value_and_grad(list_loss)
        full_calls = _counting_full_calls(grad)
        for x in xs:
            value, got = grad(layers, x)
            assert type(got) is kind and len(got) == 2
            expected = _dict_expected(params, x)
            np.testing.assert_allclose(value, _dict_loss(params, x), rtol=1e-14)
            np.testing.assert_allclose(got[0], expected["W"], rtol=1e-13)
            np.testing.assert_allclose(got[1], expected["b"], rtol=1e-13)
        assert len(full_calls) == 1


def test_the_fast_path_of_a_jvp_of_a_gradient_over_a_dict_gives_both_halves_its_structure():
    rng = np.random.default_rng(4)
    params = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    tangent = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
    x = rng.normal(size=(5, 4))
    hvp = srcgrad.jvp(srcgrad.grad(_dict_loss))
    full_calls = _counting_full_calls(hvp)
    step = 1e-6
    for _ in range(3):
        gradient, product = hvp(params, x, dparams=tangent)
        assert type(gradient) is dict and type(product) is dict
        ahead = _dict_expected({k: params[k] + step * tangent[k] for k in params}, x)
        behind = _dict_expected({k: params[k] - step * tangent[k] for k in params}, x)
        for key in params:
            np.testing.assert_allclose(gradient[key], _dict_expected(params, x)[key],
                                       rtol=1e-13)
            np.testing.assert_allclose(product[key], (ahead[key] - behind[key]) / (2 * step),
                                       rtol=1e-6, atol=1e-8)
    assert len(full_calls) == 1


def _powered(x, n, flag):
    return np.sum(x ** n) if flag else np.sum(x)


def test_numpy_integers_and_booleans_beside_the_arrays_take_the_fast_path():
    grad = srcgrad.grad(_powered)
    full_calls = _counting_full_calls(grad)
    x = np.linspace(0.5, 1.5, 4)
    for n in np.arange(1, 5):  # np.int64
        np.testing.assert_allclose(grad(x, n, np.True_), n * x ** (n - 1), rtol=1e-14)
    assert len(full_calls) == 1
    np.testing.assert_array_equal(grad(x, np.int64(3), np.False_), np.ones(4))
    assert len(full_calls) == 1


def _model_loss(model, x):
    return np.sum(model(x) ** 2)


def _expected_model_gradient(model, x):
    """The gradient of `_model_loss` by a fresh derivative (its full path)."""
    return srcgrad.grad(_model_loss)(model, x)


def _assert_same_model_gradient(got, expected):
    assert type(got) is type(expected) and len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert type(g) is type(e)
        for name in ("weight", "bias"):
            if hasattr(e, name):
                np.testing.assert_array_equal(getattr(g, name), getattr(e, name))


def test_calls_passing_objects_take_the_fast_path_while_their_types_stay():
    from srcgrad import nn

    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
    grad = srcgrad.grad(_model_loss)
    full_calls = _counting_full_calls(grad)
    for n in (5, 5, 2):
        x = rng.standard_normal((n, 3))
        _assert_same_model_gradient(grad(model, x), _expected_model_gradient(model, x))
    # another model of the same types takes it too
    other = nn.Sequential(nn.Linear(3, 4, rng=2), nn.Tanh(), nn.Linear(4, 2, rng=3))
    _assert_same_model_gradient(grad(other, x), _expected_model_gradient(other, x))
    assert len(full_calls) == 1
    # other types of layers, in place or added, take the full path and code of their own
    model.layers[1] = nn.Sigmoid()
    _assert_same_model_gradient(grad(model, x), _expected_model_gradient(model, x))
    assert len(full_calls) == 2
    model.layers.append(nn.Tanh())
    for _ in range(2):
        _assert_same_model_gradient(grad(model, x), _expected_model_gradient(model, x))
    assert len(full_calls) == 3


def test_unpickled_arrays_take_the_fast_path():
    # (their dtype equals float64's without being the same object: every call went the
    # full path)
    import pickle

    grad = srcgrad.grad(_loss, wrt=["w", "b"])
    rng = np.random.default_rng(6)
    w, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    full_calls = _counting_full_calls(grad)
    for n in (5, 5, 2):
        x = pickle.loads(pickle.dumps(rng.normal(size=(n, 3))))
        assert x.dtype == np.float64 and x.dtype is not np.dtype(np.float64)
        for got, expected in zip(grad(w, b, x), _expected(w, b, x), strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert len(full_calls) == 1
