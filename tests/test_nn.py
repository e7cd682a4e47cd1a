"""srcgrad.nn: layers, activations and losses, differentiated by srcgrad through the model
object, against central finite differences and closed forms."""

import numpy as np
import pytest

import srcgrad
from srcgrad import nn
from srcgrad.optim import SGD

EPS = 1e-6


def central_difference(f, array, index, eps=EPS):
    """d f() / d array[index], bumping the array in place and restoring it."""
    saved = array[index]
    array[index] = saved + eps
    up = f()
    array[index] = saved - eps
    down = f()
    array[index] = saved
    return (up - down) / (2 * eps)


def numeric_gradient(f, x, eps=EPS):
    x = np.array(x, dtype=float)
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        out[index] = central_difference(lambda: f(x), x, index, eps)
    return out


def make_model():
    return nn.Sequential(nn.Linear(4, 8, rng=0), nn.Tanh(), nn.Linear(8, 3, rng=1))


def classification_loss(model, X, y):
    return nn.cross_entropy(model(X), y)


RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 4))
Y = np.array([0, 2, 1, 1, 0, 2])


# ---------------------------------------------------------------- Linear init

def test_linear_init_bounds_shapes_and_seeding():
    layer = nn.Linear(16, 5, rng=0)
    bound = 1.0 / np.sqrt(16)
    assert layer.weight.shape == (5, 16) and layer.bias.shape == (5,)
    assert np.all(np.abs(layer.weight) <= bound) and np.all(np.abs(layer.bias) <= bound)
    # uses the range: some entries come near the bound
    assert np.abs(layer.weight).max() > 0.8 * bound
    again = nn.Linear(16, 5, rng=0)
    np.testing.assert_array_equal(layer.weight, again.weight)
    np.testing.assert_array_equal(layer.bias, again.bias)
    other = nn.Linear(16, 5, rng=1)
    assert not np.array_equal(layer.weight, other.weight)
    # a Generator is used as is: the weight is drawn first, then the bias
    gen = np.random.default_rng(0)
    from_gen = nn.Linear(16, 5, rng=gen)
    np.testing.assert_array_equal(from_gen.weight, layer.weight)
    expected = np.random.default_rng(0)
    w = expected.uniform(-bound, bound, (5, 16))
    b = expected.uniform(-bound, bound, 5)
    np.testing.assert_array_equal(layer.weight, w)
    np.testing.assert_array_equal(layer.bias, b)


def test_linear_forward_and_no_bias():
    layer = nn.Linear(3, 2, rng=3)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(layer(x), x @ layer.weight.T + layer.bias)
    plain = nn.Linear(3, 2, bias=False, rng=3)
    np.testing.assert_array_equal(plain.bias, np.zeros(2))
    np.testing.assert_allclose(plain(x), x @ plain.weight.T)
    assert [n for n, _ in plain.named_parameters()] == ["weight"]

    def loss(layer, x):
        return (layer(x) ** 2).sum()

    g = srcgrad.grad(loss)(plain, x)
    np.testing.assert_allclose(g.weight, 2 * (x @ plain.weight.T).T @ x)
    np.testing.assert_array_equal(g.bias, np.zeros(2))


# ---------------------------------------------------------------- bookkeeping

def test_named_parameters_and_parameters():
    model = make_model()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    params = list(model.parameters())
    assert [p.shape for p in params] == [(8, 4), (8,), (3, 8), (3,)]
    assert params[0] is model.layers[0].weight  # the arrays themselves
    assert len(model) == 3 and isinstance(model[1], nn.Tanh)
    assert list(model)[2] is model.layers[2]


def test_nested_module_names():
    class Net(nn.Module):
        def __init__(self):
            self.fc1 = nn.Linear(2, 3, rng=0)
            self.fc2 = nn.Linear(3, 1, rng=1)
            self.scale = np.ones(1)

        def forward(self, x):
            return self.fc2(np.tanh(self.fc1(x))) * self.scale

    names = [n for n, _ in Net().named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


def test_state_dict_round_trip():
    model = make_model()
    state = model.state_dict()
    assert state["0.weight"] is not model.layers[0].weight  # copies
    other = nn.Sequential(nn.Linear(4, 8, rng=5), nn.Tanh(), nn.Linear(8, 3, rng=6))
    held = other.layers[0].weight
    other.load_state_dict(state)
    assert other.layers[0].weight is held  # in place
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    np.testing.assert_array_equal(other(X), model(X))
    # the copies do not follow later changes
    model.layers[0].weight[0, 0] += 1.0
    assert state["0.weight"][0, 0] != model.layers[0].weight[0, 0]


def test_load_state_dict_errors_name_the_key():
    model = make_model()
    state = model.state_dict()
    bad = dict(state)
    bad["2.bias"] = np.zeros(4)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"'2\.bias'.*\(4,\).*\(3,\)"):
        model.load_state_dict(bad)
    for name, value in model.state_dict().items():  # nothing written
        np.testing.assert_array_equal(value, before[name])
    missing = dict(state)
    del missing["0.bias"]
    with pytest.raises(ValueError, match=r"missing.*'0\.bias'"):
        model.load_state_dict(missing)
    extra = dict(state, **{"3.weight": np.zeros(1)})
    with pytest.raises(ValueError, match=r"unexpected.*'3\.weight'"):
        model.load_state_dict(extra)


def test_zero_like():
    model = make_model()
    zero = model.zero_like()
    assert type(zero) is nn.Sequential and type(zero.layers[0]) is nn.Linear
    for (name, z), (_, p) in zip(zero.named_parameters(), model.named_parameters(),
                                 strict=True):
        assert z.shape == p.shape and not np.any(z), name
    assert np.any(model.layers[0].weight)  # the model is untouched


def test_sequential_of_any_length_differentiates_layer_by_layer():
    rng = np.random.default_rng(5)
    layers = []
    for i in range(6):  # 12 layers, alternating types
        layers += [nn.Linear(3, 3, rng=i), nn.Tanh() if i % 2 else nn.Sigmoid()]
    model = nn.Sequential(*layers)
    x = rng.standard_normal((4, 3))

    def loss(model, x):
        return np.sum(model(x) ** 2)

    grads = srcgrad.grad(loss)(model, x)
    assert len(grads) == 12 and type(grads[1]) is nn.Sigmoid and type(grads[3]) is nn.Tanh
    eps = 1e-6
    for index in (0, 10):
        weight = model[index].weight
        for position in [(0, 0), (2, 1)]:
            weight[position] += eps
            up = loss(model, x)
            weight[position] -= 2 * eps
            down = loss(model, x)
            weight[position] += eps
            assert grads[index].weight[position] == pytest.approx((up - down) / (2 * eps),
                                                                  rel=1e-6, abs=1e-8)


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="layer 1"):
        nn.Sequential(nn.Identity(), np.tanh)


# ---------------------------------------------------------------- model gradients

def test_model_gradient_matches_finite_differences():
    model = make_model()
    grads = srcgrad.grad(classification_loss)(model, X, Y)
    assert type(grads) is nn.Sequential
    assert type(grads.layers[0]) is nn.Linear and type(grads.layers[1]) is nn.Tanh
    assert type(grads.layers[2]) is nn.Linear
    named_grads = dict(grads.named_parameters())
    assert list(named_grads) == [n for n, _ in model.named_parameters()]
    for name, param in model.named_parameters():
        g = named_grads[name]
        assert g.shape == param.shape
        assert np.any(g != 0), name
        flat = [np.unravel_index(i, param.shape) for i in (0, param.size // 2, param.size - 1)]
        for index in flat:
            expected = central_difference(lambda: classification_loss(model, X, Y), param,
                                          index)
            assert g[index] == pytest.approx(expected, rel=1e-6, abs=1e-9), (name, index)


def test_longer_sequential_with_every_activation():
    model = nn.Sequential(nn.Linear(3, 5, rng=0), nn.ReLU(), nn.Linear(5, 5, rng=1),
                          nn.Sigmoid(), nn.Linear(5, 4, rng=2), nn.Tanh(),
                          nn.Linear(4, 2, rng=3), nn.Softmax())
    x = np.random.default_rng(1).standard_normal((4, 3))
    target = np.random.default_rng(2).uniform(size=(4, 2))

    def loss(model, x, t):
        return nn.mse_loss(model(x), t)

    grads = srcgrad.grad(loss)(model, x, target)
    got = dict(grads.named_parameters())
    for name, param in model.named_parameters():
        index = np.unravel_index(param.size // 3, param.shape)
        expected = central_difference(lambda: loss(model, x, target), param, index)
        assert got[name][index] == pytest.approx(expected, rel=1e-5, abs=1e-10), name


def test_sgd_steps_reduce_the_loss():
    model = make_model()
    optimizer = SGD(model, lr=0.5)
    gradient = srcgrad.grad(classification_loss)
    losses = [classification_loss(model, X, Y)]
    for _ in range(20):
        optimizer.step(gradient(model, X, Y))
        losses.append(classification_loss(model, X, Y))
    assert losses[1] < losses[0]
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------- activations

ACTIVATIONS = [
    ("relu", nn.ReLU(), lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float)),
    ("sigmoid", nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x)),
     lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    ("tanh", nn.Tanh(), np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    ("identity", nn.Identity(), lambda x: x, np.ones_like),
]


@pytest.mark.parametrize("name, module, value, slope", ACTIVATIONS,
                         ids=[a[0] for a in ACTIVATIONS])
def test_activation_value_and_gradient(name, module, value, slope):
    x = np.array([[-1.5, -0.3, 0.2], [0.7, 1.1, -2.0]])
    np.testing.assert_allclose(module(x), value(x), rtol=1e-14)

    def f(x, module):
        return module(x).sum()

    g = srcgrad.grad(f)(x, module)
    np.testing.assert_allclose(g, slope(x), rtol=1e-12)
    np.testing.assert_allclose(g, numeric_gradient(lambda v: f(v, module), x), rtol=1e-6,
                               atol=1e-9)


def test_softmax_value_stability_and_gradient():
    softmax = nn.Softmax()
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1001.0]])
    out = softmax(x)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out[0], e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(out[1], np.array([1, 1, np.e]) / (2 + np.e), rtol=1e-14)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0)
    columns = nn.Softmax(axis=0)(x[:1].T)
    np.testing.assert_allclose(columns[:, 0], e / e.sum(), rtol=1e-14)

    w = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.5]])

    def f(x, module):
        return (module(x) * w).sum()

    z = np.array([[0.1, -0.4, 0.9], [2.0, 0.0, -1.0]])
    g = srcgrad.grad(f)(z, softmax)
    s = softmax(z)
    closed = s * (w - (s * w).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(g, closed, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g, numeric_gradient(lambda v: f(v, softmax), z), rtol=1e-6,
                               atol=1e-9)


# ---------------------------------------------------------------- losses

def test_mse_loss():
    pred = np.array([[1.0, 2.0], [3.0, 5.0]])
    target = np.array([[0.0, 2.0], [1.0, 1.0]])
    assert nn.mse_loss(pred, target) == pytest.approx((1 + 0 + 4 + 16) / 4)
    g = srcgrad.grad(nn.mse_loss)(pred, target)
    np.testing.assert_allclose(g, 2 * (pred - target) / 4)
    np.testing.assert_allclose(g, numeric_gradient(lambda p: nn.mse_loss(p, target), pred),
                               rtol=1e-6)


def test_cross_entropy_value_and_gradient():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
    labels = np.array([0, 2])
    by_hand = np.mean([
        -np.log(np.exp(2.0) / (np.exp(2.0) + np.exp(1.0) + np.exp(0.1))),
        -np.log(np.exp(-1.0) / (np.exp(0.5) + np.exp(2.5) + np.exp(-1.0))),
    ])
    assert nn.cross_entropy(logits, labels) == pytest.approx(by_hand, rel=1e-14)
    g = srcgrad.grad(nn.cross_entropy)(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    closed = (p - np.eye(3)[labels]) / 2
    np.testing.assert_allclose(g, closed, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        g, numeric_gradient(lambda z: nn.cross_entropy(z, labels), logits), rtol=1e-6)
    # stable for huge logits
    big = logits + 1e4
    assert nn.cross_entropy(big, labels) == pytest.approx(by_hand, rel=1e-9)
    np.testing.assert_allclose(srcgrad.grad(nn.cross_entropy)(big, labels), closed,
                               rtol=1e-9, atol=1e-12)


def test_binary_cross_entropy_value_and_gradient():
    prob = np.array([0.9, 0.2, 0.6, 0.35])
    target = np.array([1.0, 0.0, 0.0, 1.0])
    by_hand = -(np.log(0.9) + np.log(0.8) + np.log(0.4) + np.log(0.35)) / 4
    assert nn.binary_cross_entropy(prob, target) == pytest.approx(by_hand, rel=1e-14)
    g = srcgrad.grad(nn.binary_cross_entropy)(prob, target)
    closed = (prob - target) / (prob * (1 - prob)) / 4
    np.testing.assert_allclose(g, closed, rtol=1e-12)
    np.testing.assert_allclose(
        g, numeric_gradient(lambda p: nn.binary_cross_entropy(p, target), prob), rtol=1e-6)
    # clipped: finite at 0 and 1
    edge = nn.binary_cross_entropy(np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    assert edge == pytest.approx(-np.log(1e-12), rel=1e-6)


def test_sigmoid_with_binary_cross_entropy_through_a_model():
    model = nn.Sequential(nn.Linear(2, 3, rng=4), nn.Tanh(), nn.Linear(3, 1, rng=5),
                          nn.Sigmoid())
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    t = np.array([[0.0], [1.0], [1.0], [0.0]])

    def loss(model, x, t):
        return nn.binary_cross_entropy(model(x), t)

    grads = srcgrad.grad(loss)(model, x, t)
    for name, g in grads.named_parameters():
        param = dict(model.named_parameters())[name]
        index = (0,) * param.ndim
        expected = central_difference(lambda: loss(model, x, t), param, index)
        assert g[index] == pytest.approx(expected, rel=1e-6, abs=1e-10), name
