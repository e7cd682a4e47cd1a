"""Parameters in a dict (`params['W1']`, JAX style) get code specialized to the layouts of
the dict's entries, as positional arrays do: the same statements, the adjoint gathered
into one dict display, and each call checked against the entries' layouts."""

import numpy as np
import pytest

import srcgrad


def mlp(p, X):
    h = np.tanh(X @ p["W1"] + p["b1"])
    return np.sum((h @ p["W2"] + p["b2"]) ** 2) * p["scale"]


def mlp_positional(W1, b1, W2, b2, scale, X):
    h = np.tanh(X @ W1 + b1)
    return np.sum((h @ W2 + b2) ** 2) * scale


def affine(p, x):
    return np.sum((x @ p["W"] + p["b"]) ** 2)


def read_twice(p, x):
    return np.sum(p["w"] * x) + np.sum(np.sin(p["w"]) * p["v"])


def rebound(p, x):
    p = {"W": p["W"], "b": p["b"].reshape(1, -1)}
    return np.sum((x @ p["W"] + p["b"]) ** 2)


RNG = np.random.default_rng(11)


def _params():
    return {"W1": RNG.standard_normal((4, 5)), "b1": RNG.standard_normal(5),
            "W2": RNG.standard_normal((5, 3)), "b2": RNG.standard_normal(3), "scale": 0.7,
            "name": "mlp", "steps": 3}


def test_the_code_is_the_positional_code_and_the_gradient_the_same():
    p, X = _params(), RNG.standard_normal((6, 4))
    derivative = srcgrad.grad(mlp)
    gradient = derivative(p, X)
    expected = srcgrad.grad(mlp_positional, wrt=(0, 1, 2, 3, 4))(
        p["W1"], p["b1"], p["W2"], p["b2"], p["scale"], X)
    for key, value in zip(("W1", "b1", "W2", "b2", "scale"), expected):
        np.testing.assert_allclose(gradient[key], value, rtol=1e-13, atol=1e-13)
    assert list(gradient) == list(p)
    source = derivative.source
    assert "p['W1'] (n, n), p['b1'] (n,)" in source
    for generic in ("unbroadcast", "matmul_adjoint", "unindex"):
        assert generic not in source, generic
    assert "xp.cotangents({" in source and ".sum(axis=0)" in source
    assert "xp.tanh(plus, out=plus)" in source  # in place, as for positional float64 arrays


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_entries_of_other_layouts_take_other_code(mode):
    """Calls alternating the layouts of an entry (a row, a number, a column broadcast
    into a matrix) each get code for theirs, through the fast path too."""
    x = RNG.standard_normal((5, 3))
    derivative = srcgrad.grad(affine) if mode == "rev" else srcgrad.jvp(affine)
    biases = [RNG.standard_normal(2), RNG.standard_normal((1, 2)), 0.3,
              RNG.standard_normal((5, 1)), RNG.standard_normal(2)]
    for _ in range(2):
        for b in biases:
            p = {"W": RNG.standard_normal((3, 2)), "b": b}
            z = x @ p["W"] + b
            expected_b = _unbroadcast(2 * z, np.shape(b))
            if mode == "rev":
                gradient = derivative(p, x)
                np.testing.assert_allclose(gradient["W"], x.T @ (2 * z), rtol=1e-12)
                np.testing.assert_allclose(gradient["b"], expected_b, rtol=1e-12)
                assert np.shape(gradient["b"]) == np.shape(b)
            else:
                tangent = {"W": np.zeros((3, 2)), "b": np.ones_like(b) if np.ndim(b) else 1.0}
                _, pushed = derivative(p, x, **{derivative.extra_parameters[0]: tangent})
                assert pushed == pytest.approx(np.sum(expected_b), rel=1e-12)


def _unbroadcast(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def test_an_entry_read_twice_adds_its_parts():
    p = {"w": RNG.standard_normal(4), "v": RNG.standard_normal(4)}
    x = RNG.standard_normal(4)
    derivative = srcgrad.grad(read_twice)
    gradient = derivative(p, x)
    np.testing.assert_allclose(gradient["w"], x + np.cos(p["w"]) * p["v"], rtol=1e-13)
    np.testing.assert_allclose(gradient["v"], np.sin(p["w"]), rtol=1e-13)
    assert "xp.cotangents({" in derivative.source


def test_a_dict_rebound_in_the_function_is_read_as_what_it_holds_then():
    p = {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2)}
    x = RNG.standard_normal((5, 3))
    gradient = srcgrad.grad(rebound)(p, x)
    z = x @ p["W"] + p["b"]
    np.testing.assert_allclose(gradient["W"], x.T @ (2 * z), rtol=1e-12)
    np.testing.assert_allclose(gradient["b"], np.sum(2 * z, axis=0), rtol=1e-12)


def test_a_dict_of_many_entries_stays_generic():
    p = {f"w{i}": RNG.standard_normal(2) for i in range(100)}
    x = RNG.standard_normal(2)

    def first_two(p, x):
        return np.sum(p["w0"] * x) + np.sum(p["w1"] ** 2)

    derivative = srcgrad.grad(first_two)
    gradient = derivative(p, x)
    np.testing.assert_allclose(gradient["w0"], x)
    np.testing.assert_allclose(gradient["w1"], 2 * p["w1"])
    np.testing.assert_array_equal(gradient["w50"], np.zeros(2))
    assert "p['w0']" not in derivative.source.split("import")[0]


def scaled_layer(p, x):
    h = np.tanh(x @ p["W"] + p["b"])
    return np.sum(h ** 2) * p["s"]


def test_second_order_through_the_gathered_adjoint():
    p = {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2), "s": 0.7}
    x = RNG.standard_normal((4, 3))
    v = {"W": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2), "s": 0.3}
    gradient = srcgrad.grad(scaled_layer)
    gradient(p, x)
    assert "xp.cotangents({" in gradient.source
    product = srcgrad.hvp(scaled_layer)(p, x, v)
    plus = gradient({k: p[k] + 1e-5 * v[k] for k in p}, x)
    minus = gradient({k: p[k] - 1e-5 * v[k] for k in p}, x)
    for key in p:
        np.testing.assert_allclose(product[key], (plus[key] - minus[key]) / 2e-5, rtol=1e-5,
                                   atol=1e-8)
