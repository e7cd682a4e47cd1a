"""Loops over dicts: `for name in params`, `.keys()`, `.values()` and `.items()` (alone or
in `enumerate`, `zip` and `reversed`), over a parameter, an object's attribute or a local
dict, checked against central differences in both modes, in the dict's own order."""

import numpy as np
import pytest

import srcgrad


def over_keys(params, x):
    total = 0.0
    for name in params:
        total = total + np.sum(np.tanh(x * params[name]))
    return total


def over_items(params, x):
    h = x
    for name, p in params.items():  # in order: each entry acts on the last one's result
        h = np.tanh(h * p + 0.1)
    return np.sum(h ** 2)


def over_values(params, x):
    total = 0.0
    for p in params.values():
        total = total + np.sum(p * p * x)
    return total


def over_enumerated_items(params, x):
    h = x
    for k, (name, p) in enumerate(params.items()):
        h = np.sin(h * p) * (k + 1.0)
    return np.sum(h)


def over_zipped_keys_and_values(params, x):
    total = 0.0
    for name, p in zip(params.keys(), params.values()):
        total = total + np.sum(np.exp(p * x)) * (2.0 if name == "w" else 1.0)
    return total


def over_reversed_keys(params, x):
    h = x
    for name in reversed(params):
        h = np.tanh(h * params[name])
    return np.sum(h)


def nested(params, x):
    h = x
    for layer in params.values():
        for name, p in layer.items():
            h = np.tanh(h * p)
    return np.sum(h)


def with_break(params, x):
    h = x
    for name, p in params.items():
        if name == "stop":
            break
        h = np.tanh(h + p)
    return np.sum(h ** 2)


def over_a_local_dict(params, x):
    local = {"a": params["w"] * 2.0, "b": np.sin(params["b"])}
    total = 0.0
    for name, value in local.items():
        total = total + np.sum(value * x)
    return total


def over_a_local_dict_by_key(params, x):
    local = {"a": params["w"] * 2.0}
    local["b"] = np.cos(params["c"])
    total = 0.0
    for name in local:
        total = total + np.sum(np.tanh(local[name] * x))
    return total


def _summed(entries, x):
    total = 0.0
    for name in entries:
        total = total + np.sum(np.sin(entries[name] * x))
    return total


def through_a_helper(params, x):
    return _summed(params, x) * 3.0


class Holder:
    def __init__(self, weights):
        self.weights = weights

    def __call__(self, x):
        h = x
        for name in self.weights:
            h = np.tanh(h * self.weights[name])
        return np.sum(h)


def through_an_object(model, x):
    return model(x)


RNG = np.random.default_rng(7)
X = RNG.standard_normal(3)


def _params():
    return {"w": RNG.standard_normal(3), "b": RNG.standard_normal(3),
            "c": RNG.standard_normal(3)}


CASES = [over_keys, over_items, over_values, over_enumerated_items,
         over_zipped_keys_and_values, over_reversed_keys, over_a_local_dict,
         over_a_local_dict_by_key, through_a_helper]


def _numeric_vjp(function, params, x, direction, eps=1e-6):
    """The derivative of `function` along `direction` (a dict like params), central."""
    plus = {k: v + eps * direction[k] for k, v in params.items()}
    minus = {k: v - eps * direction[k] for k, v in params.items()}
    return (function(plus, x) - function(minus, x)) / (2 * eps)


@pytest.mark.parametrize("function", CASES, ids=lambda f: f.__name__)
def test_both_modes_match_central_differences(function):
    params = _params()
    direction = {k: RNG.standard_normal(3) for k in params}
    numeric = _numeric_vjp(function, params, X, direction)
    gradient = srcgrad.grad(function)(params, X)
    assert list(gradient) == list(params)
    reverse = sum(np.sum(gradient[k] * direction[k]) for k in params)
    pushforward = srcgrad.jvp(function)
    value, forward = pushforward(params, X, **{pushforward.extra_parameters[0]: direction})
    assert value == pytest.approx(function(params, X), rel=1e-12)
    assert reverse == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    assert forward == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_the_loop_runs_in_the_dicts_order():
    params = _params()
    backwards = dict(reversed(list(params.items())))
    derivative = srcgrad.grad(over_items)
    for order in (params, backwards, params):
        direction = {k: RNG.standard_normal(3) for k in order}
        gradient = derivative(order, X)
        reverse = sum(np.sum(gradient[k] * direction[k]) for k in order)
        assert reverse == pytest.approx(_numeric_vjp(over_items, order, X, direction),
                                        rel=1e-6)
    # the two orders give other functions, so other gradients
    assert not np.allclose(derivative(params, X)["w"], derivative(backwards, X)["w"])


def test_nested_dicts_and_another_number_of_entries():
    derivative = srcgrad.grad(nested)
    for params in ({"one": {"w": RNG.standard_normal(3)},
                    "two": {"w": RNG.standard_normal(3), "b": RNG.standard_normal(3)}},
                   {"one": {"w": RNG.standard_normal(3)}}):
        gradient = derivative(params, X)
        direction = {k: {n: RNG.standard_normal(3) for n in layer} for k, layer in params.items()}
        plus = {k: {n: v + 1e-6 * direction[k][n] for n, v in layer.items()}
                for k, layer in params.items()}
        minus = {k: {n: v - 1e-6 * direction[k][n] for n, v in layer.items()}
                 for k, layer in params.items()}
        numeric = (nested(plus, X) - nested(minus, X)) / 2e-6
        reverse = sum(np.sum(gradient[k][n] * direction[k][n])
                      for k, layer in params.items() for n in layer)
        assert reverse == pytest.approx(numeric, rel=1e-6)


def test_a_loop_left_early():
    params = {"w": RNG.standard_normal(3), "stop": RNG.standard_normal(3),
              "c": RNG.standard_normal(3)}
    gradient = srcgrad.grad(with_break)(params, X)
    np.testing.assert_array_equal(gradient["stop"], np.zeros(3))
    np.testing.assert_array_equal(gradient["c"], np.zeros(3))
    h = np.tanh(X + params["w"])
    np.testing.assert_allclose(gradient["w"], 2 * h * (1 - h ** 2), rtol=1e-12)


def test_a_dict_held_by_an_object():
    model = Holder(_params())
    gradient = srcgrad.grad(through_an_object)(model, X)
    direction = {k: RNG.standard_normal(3) for k in model.weights}
    plus = Holder({k: v + 1e-6 * direction[k] for k, v in model.weights.items()})
    minus = Holder({k: v - 1e-6 * direction[k] for k, v in model.weights.items()})
    numeric = (plus(X) - minus(X)) / 2e-6
    reverse = sum(np.sum(gradient.weights[k] * direction[k]) for k in model.weights)
    assert reverse == pytest.approx(numeric, rel=1e-6)


def scaled_by_each(items, x):
    s = 0.0
    for item in items:
        s = s + np.sum(x * item)
    return s


def test_the_same_parameter_passed_a_dict_then_a_list():
    """Code compiled for a dict loops over its keys; for a list, over its items (the
    dict's keys are numbers here, its values others, so each mix-up shows)."""
    derivative = srcgrad.grad(scaled_by_each, wrt=1)
    as_dict, as_list = {2.0: 7.0, 3.0: 11.0}, [2.0, 3.0]
    for items in (as_dict, as_list, as_dict, [7.0, 11.0]):
        expected = np.full(3, sum(items))
        np.testing.assert_allclose(derivative(items, X), expected, rtol=1e-15)


def over_a_list(params, x):
    h = x
    for p in params:
        h = np.tanh(h * p + 0.1)
    return np.sum(h ** 2)


class Scales:
    def __init__(self, items):
        self.items = items

    def __call__(self, x):
        return scaled_by_each(self.items, x)


def test_an_object_holding_a_dict_then_a_list():
    """(An object's code is compiled for the types of what it holds: dicts among them.)"""
    derivative = srcgrad.grad(through_an_object, wrt=1)
    for items in ({2.0: 7.0, 3.0: 11.0}, [2.0, 3.0], [7.0, 11.0], {2.0: 7.0, 3.0: 11.0}):
        np.testing.assert_allclose(derivative(Scales(items), X), np.full(3, sum(items)),
                                   rtol=1e-15)


@pytest.mark.parametrize("function, as_list", [(over_items, False), (over_a_list, True)],
                         ids=["dict items", "list"])
def test_second_order_through_a_loop_over_a_container(function, as_list):
    """(The gradient's accumulator of a container's adjoint is copied before it is
    updated: forward mode over it once failed on that copy, `b * 1.0`.)"""
    params = _params()
    v = {k: RNG.standard_normal(3) for k in params}
    if as_list:
        params, v = list(params.values()), list(v.values())
    keys = range(3) if as_list else list(params)
    product = srcgrad.hvp(function)(params, X, v)
    gradient = srcgrad.grad(function)
    plus = gradient(_moved(params, v, keys, 1e-5), X)
    minus = gradient(_moved(params, v, keys, -1e-5), X)
    for k in keys:
        np.testing.assert_allclose(product[k], (plus[k] - minus[k]) / 2e-5, rtol=1e-5,
                                   atol=1e-8)


def _moved(params, v, keys, step):
    if isinstance(params, dict):
        return {k: params[k] + step * v[k] for k in keys}
    return [params[k] + step * v[k] for k in keys]
