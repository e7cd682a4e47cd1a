"""Parameter trees as differentiated arguments: dicts, lists, tuples, named tuples,
dataclasses and plain objects holding arrays; gradients come back in the same structure."""

import collections
import dataclasses

import numpy as np
import pytest

import srcgrad


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    b: np.ndarray
    frozen: np.ndarray


Pair = collections.namedtuple("Pair", "W b")


class Plain:
    def __init__(self, W, b):
        self.W = W
        self.b = b


def by_attribute(p, x):
    h = np.tanh(p.W @ x + p.b)
    return (h ** 2).sum()


def by_key(p, x):
    h = np.tanh(p["W"] @ x + p["b"])
    return (h ** 2).sum()


def by_position(p, x):
    W, b = p
    h = np.tanh(W @ x + b)
    return (h ** 2).sum()


def flat(W, b, x):
    h = np.tanh(W @ x + b)
    return (h ** 2).sum()


def two_layers(first, second, x):
    h = np.tanh(first.W @ x + first.b)
    return (second.W @ h + second.b).sum()


RNG = np.random.default_rng(3)
W, B, X = RNG.standard_normal((3, 2)), RNG.standard_normal(3), RNG.standard_normal(2)
EXPECTED_W, EXPECTED_B = srcgrad.grad(flat, wrt=(0, 1))(W, B, X)

TREES = [
    ("dataclass", by_attribute, lambda: Layer(W.copy(), B.copy(), np.ones(4))),
    ("namedtuple", by_attribute, lambda: Pair(W.copy(), B.copy())),
    ("object", by_attribute, lambda: Plain(W.copy(), B.copy())),
    ("dict", by_key, lambda: {"W": W.copy(), "b": B.copy(), "unused": np.ones(2)}),
    ("tuple", by_position, lambda: (W.copy(), B.copy())),
    ("list", by_position, lambda: [W.copy(), B.copy()]),
]


@pytest.mark.parametrize("name, loss, make", TREES, ids=[t[0] for t in TREES])
def test_gradient_has_the_argument_structure(name, loss, make):
    params = make()
    grads = srcgrad.grad(loss)(params, X)
    assert type(grads) is type(params)
    if isinstance(params, (dict,)):
        w, b = grads["W"], grads["b"]
        np.testing.assert_array_equal(grads["unused"], np.zeros(2))
    elif isinstance(params, (list, tuple)) and not hasattr(params, "_fields"):
        w, b = grads
    else:
        w, b = grads.W, grads.b
    np.testing.assert_allclose(w, EXPECTED_W, rtol=1e-12)
    np.testing.assert_allclose(b, EXPECTED_B, rtol=1e-12)
    if isinstance(params, Layer):
        np.testing.assert_array_equal(grads.frozen, np.zeros(4))


def test_two_objects_match_finite_differences():
    first = Layer(W.copy(), B.copy(), np.ones(1))
    second = Plain(RNG.standard_normal((2, 3)), RNG.standard_normal(2))
    g_first, g_second = srcgrad.grad(two_layers, wrt=(0, 1))(first, second, X)
    eps = 1e-6
    bump = np.zeros_like(W)
    bump[1, 0] = eps
    up = two_layers(Layer(W + bump, B, first.frozen), second, X)
    down = two_layers(Layer(W - bump, B, first.frozen), second, X)
    assert g_first.W[1, 0] == pytest.approx((up - down) / (2 * eps), rel=1e-6)
    np.testing.assert_allclose(g_second.b, np.ones(2))


def test_forward_mode_takes_a_tangent_object():
    params = Layer(W, B, np.ones(4))
    tangent = Layer(np.ones_like(W), np.zeros(3), np.zeros(4))
    _, pushed = srcgrad.jvp(by_attribute)(params, X, tangent)
    assert pushed == pytest.approx(EXPECTED_W.sum(), rel=1e-12)


def test_an_array_attribute_without_a_rule_is_refused():
    def uses_real(x):
        return x.real.sum()

    with pytest.raises(TypeError, match="real"):
        srcgrad.grad(uses_real)(np.ones(3))


def test_second_derivative_through_a_parameter_object():
    """Forward mode over the emitted gradient of a function of a dataclass (this runs the
    rules of the helpers that read and build object adjoints) against finite differences
    of the gradient along the same direction."""
    params = Layer(W, B, np.ones(4))
    direction = Layer(RNG.standard_normal(W.shape), RNG.standard_normal(3), np.zeros(4))
    gradient = srcgrad.grad(by_attribute)
    _, pushed = srcgrad.jvp(gradient)(params, X, direction)
    eps = 1e-5
    up = gradient(Layer(W + eps * direction.W, B + eps * direction.b, params.frozen), X)
    down = gradient(Layer(W - eps * direction.W, B - eps * direction.b, params.frozen), X)
    np.testing.assert_allclose(pushed.W, (up.W - down.W) / (2 * eps), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(pushed.b, (up.b - down.b) / (2 * eps), rtol=1e-6, atol=1e-8)


class Linear:
    def __init__(self, n_in, n_out, rng):
        self.weight = rng.standard_normal((n_out, n_in)) * 0.5
        self.bias = rng.standard_normal(n_out) * 0.1

    def __call__(self, x):
        return x @ self.weight.T + self.bias


class MLP:
    def __init__(self, rng):
        self.fc1 = Linear(2, 4, rng)
        self.fc2 = Linear(4, 1, rng)

    def forward(self, x):
        h = np.tanh(self.fc1(x))
        return self.fc2(h)

    def __call__(self, x):
        return self.forward(x)


def mse_of_model(model, x, y):
    out = model(x)
    return ((out - y) ** 2).mean()


def test_modules_called_inside_the_function_resolve_from_their_types():
    rng = np.random.default_rng(5)
    model = MLP(rng)
    x, y = rng.standard_normal((6, 2)), rng.standard_normal((6, 1))
    derivative = srcgrad.grad(mse_of_model)
    grads = derivative(model, x, y)
    assert type(grads) is MLP and type(grads.fc1) is Linear
    eps = 1e-6
    for layer, grad_layer in ((model.fc1, grads.fc1), (model.fc2, grads.fc2)):
        for name in ("weight", "bias"):
            array = getattr(layer, name)
            index = (0,) * array.ndim
            array[index] += eps
            up = mse_of_model(model, x, y)
            array[index] -= 2 * eps
            down = mse_of_model(model, x, y)
            array[index] += eps
            assert getattr(grad_layer, name)[index] == pytest.approx((up - down) / (2 * eps),
                                                                     rel=1e-6)
    source = derivative.source
    assert "def MLP_forward_vjp(" in source and "def Linear_call_vjp" in source
    # MLP.__call__ only hands x on to forward: calls go to forward directly (a vjp of
    # __call__ would run forward's forward sweep once more)
    assert "MLP_call" not in source


def test_a_call_on_an_untyped_value_says_what_to_do():
    with pytest.raises(srcgrad.SrcgradError, match="type decides"):
        srcgrad.grad(mse_of_model).source


class Flagged:
    def __init__(self, flag):
        self.flag = flag
        self.w = np.ones(3)


def early_return_on_object(p, x):
    if p.flag:
        return (p.w * x).sum()
    return (p.w * x * 2.0).sum()


class Activation:
    def __call__(self, x):
        return np.tanh(x)


class WithActivation:
    def __init__(self):
        self.act = Activation()
        self.w = np.ones(3)

    def __call__(self, x):
        return self.act(self.w * x)


def through_activation(net, x):
    return net(x).sum()


@pytest.mark.parametrize("flag, factor", [(True, 1.0), (False, 2.0)])
def test_early_return_with_an_object_argument(flag, factor):
    x = np.arange(3.0)
    np.testing.assert_allclose(srcgrad.grad(early_return_on_object)(Flagged(flag), x).w,
                               factor * x)


def test_a_submodule_without_arrays_gets_a_zero_gradient():
    x = np.arange(3.0)
    grads = srcgrad.grad(through_activation)(WithActivation(), x)
    np.testing.assert_allclose(grads.w, x * (1 - np.tanh(x) ** 2))
    assert type(grads.act) is Activation


# -- `.copy()` of a list or dict is one again (it was np.copy: an array, or an IndexError)


def doubled_first_of_a_copy(xs):
    ys = xs.copy()
    ys[0] = ys[0] * 2.0
    return np.sum(ys[0] * ys[1])


def product_of_a_dict_copy(d):
    e = d.copy()
    return np.sum(e["a"] * e["b"])


def sums_of_rows_of_different_lengths(xs):
    ys = xs.copy()
    return np.sum(ys[0]) + np.sum(ys[1] ** 2)


def test_a_copied_list_or_dict_stays_one():
    xs = [np.array([1.0, 2.0]), np.array([3.0, 4.0])]
    gradient = srcgrad.grad(doubled_first_of_a_copy)(xs)
    np.testing.assert_allclose(gradient[0], [6.0, 8.0])
    np.testing.assert_allclose(gradient[1], [2.0, 4.0])
    value, tangent = srcgrad.jvp(doubled_first_of_a_copy)(xs, [np.ones(2), np.zeros(2)])
    assert value == 22.0 and tangent == 14.0
    d = {"a": np.ones(2), "b": np.full(2, 3.0)}
    gradient = srcgrad.grad(product_of_a_dict_copy)(d)
    np.testing.assert_allclose(gradient["a"], [3.0, 3.0])
    np.testing.assert_allclose(gradient["b"], [1.0, 1.0])
    ragged = [np.ones(2), np.array([1.0, 2.0, 3.0])]
    gradient = srcgrad.grad(sums_of_rows_of_different_lengths)(ragged)
    np.testing.assert_allclose(gradient[0], [1.0, 1.0])
    np.testing.assert_allclose(gradient[1], [2.0, 4.0, 6.0])  # d sum(y ** 2) = 2 y
