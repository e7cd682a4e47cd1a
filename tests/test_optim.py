"""srcgrad.optim: update rules against the textbook formulas, parameter trees updated in
place, located structure errors, state save/restore, gradient buffers, and end to end with
srcgrad.grad."""

import dataclasses
import io
import pickle
from collections import namedtuple

import numpy as np
import pytest

import srcgrad
from srcgrad.optim import SGD, Adam, leaves

RTOL = 1e-12
A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, -0.3], [0.0, -0.3, 1.0]])
B = np.array([1.0, -2.0, 0.5])
P0 = np.array([0.3, -1.2, 2.0])


def quadratic_grad(p):
    """Gradient of 0.5 p.A.p - b.p."""
    return A @ p - B


def run(optimizer_class, steps, **options):
    params = P0.copy()
    optimizer = optimizer_class(params, **options)
    for _ in range(steps):
        assert optimizer.step(quadratic_grad(params)) is params
    return params


def sgd_textbook(steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p, buf = P0.copy(), None
    for t in range(1, steps + 1):
        g = quadratic_grad(p)
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            buf = g if t == 1 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def adam_textbook(steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    beta1, beta2 = betas
    p = P0.copy()
    m, v, v_max = np.zeros(3), np.zeros(3), np.zeros(3)
    for t in range(1, steps + 1):
        g = quadratic_grad(p)
        if weight_decay:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - beta2**t)
        else:
            v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


SGD_CASES = {
    "plain": {"lr": 0.1},
    "momentum": {"lr": 0.1, "momentum": 0.9},
    "dampening": {"lr": 0.1, "momentum": 0.8, "dampening": 0.5},
    "nesterov": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    "weight_decay": {"lr": 0.1, "weight_decay": 0.2},
    "momentum_weight_decay": {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.2},
}

ADAM_CASES = {
    "default": {"lr": 0.1},
    "weight_decay": {"lr": 0.1, "weight_decay": 0.3},
    "amsgrad": {"lr": 0.3, "betas": (0.5, 0.9), "amsgrad": True},
    "amsgrad_weight_decay": {"lr": 0.3, "betas": (0.5, 0.9), "weight_decay": 0.1,
                             "amsgrad": True},
}


@pytest.mark.parametrize("options", SGD_CASES.values(), ids=SGD_CASES)
def test_sgd_matches_textbook(options):
    expected = sgd_textbook(7, **options)
    np.testing.assert_allclose(run(SGD, 7, **options), expected, rtol=RTOL)
    assert not np.allclose(expected, P0)


@pytest.mark.parametrize("options", ADAM_CASES.values(), ids=ADAM_CASES)
def test_adam_matches_textbook(options):
    expected = adam_textbook(7, **options)
    np.testing.assert_allclose(run(Adam, 7, **options), expected, rtol=RTOL)
    assert not np.allclose(expected, P0)


def test_the_options_change_the_result():
    # Guards the comparisons above: each option must matter on this problem.
    plain = sgd_textbook(7, lr=0.1)
    for name in ("momentum", "dampening", "weight_decay"):
        assert not np.allclose(sgd_textbook(7, **SGD_CASES[name]), plain), name
    assert not np.allclose(sgd_textbook(7, lr=0.05, momentum=0.9, nesterov=True),
                           sgd_textbook(7, lr=0.05, momentum=0.9))
    assert not np.allclose(adam_textbook(7, **ADAM_CASES["weight_decay"]),
                           adam_textbook(7, lr=0.1))
    assert not np.allclose(adam_textbook(7, **ADAM_CASES["amsgrad"]),
                           adam_textbook(7, lr=0.3, betas=(0.5, 0.9)))


# ---------------------------------------------------------------- parameter trees

@dataclasses.dataclass
class Linear:
    weight: np.ndarray
    bias: np.ndarray
    activation: str = "tanh"


@dataclasses.dataclass
class MLP:
    layers: list
    scale: float = 2.0  # a float attribute is configuration, not a parameter


class Plain:
    def __init__(self):
        self.weight = np.ones((2, 2))
        self.bias = np.zeros(2)
        self.width = 2
        self.eps = 1e-5
        self._cache = np.full(2, 7.0)
        self.parent = self  # a cycle must not loop


# Adam's first step with lr=0.1 moves a parameter by lr * g / (|g| + eps) against g.
ADAM_FIRST_STEP = 0.1 / (1 + 1e-8)


def mlp():
    return MLP([Linear(np.ones((2, 3)), np.zeros(2)), Linear(np.ones((1, 2)), np.zeros(1))])


def test_dict_tree_updates_in_place():
    params = {"w": np.array([1.0, 2.0]), "b": np.array(0.5), "n": 3, "name": "model"}
    w, b = params["w"], params["b"]
    out = SGD(params, lr=0.5).step({"w": np.array([2.0, -2.0]), "b": 1.0, "n": None,
                                    "name": None})
    assert out is params and params["w"] is w and params["b"] is b
    np.testing.assert_array_equal(w, [0.0, 3.0])
    assert b == 0.0 and params["n"] == 3


def test_nested_list_and_tuple_tree():
    inner = np.array([1.0, 1.0])
    params = [(inner, 2.0), [np.array([4.0]), {"d": np.array([[1.0]])}]]
    grads = [(np.array([1.0, -1.0]), 1.0), [np.array([2.0]), {"d": np.array([[4.0]])}]]
    out = SGD(params, lr=0.5).step(grads)
    assert out is params and params[0][0] is inner
    np.testing.assert_array_equal(inner, [0.5, 1.5])
    assert params[0][1] == 1.5 and isinstance(params[0], tuple)  # float: tuple rebuilt
    np.testing.assert_array_equal(params[1][0], [3.0])
    np.testing.assert_array_equal(params[1][1]["d"], [[-1.0]])


def test_namedtuple_tree_and_paths():
    Pair = namedtuple("Pair", "weight bias")
    params = {"pair": Pair(np.ones(2), 1.0)}
    assert list(leaves(params)) == ["params['pair'].weight", "params['pair'].bias"]
    SGD(params, lr=1.0).step({"pair": Pair(np.ones(2), 0.25)})
    assert type(params["pair"]) is Pair and params["pair"].bias == 0.75
    np.testing.assert_array_equal(params["pair"].weight, [0.0, 0.0])


def test_dataclass_model_updates_in_place():
    model = mlp()
    weights = [layer.weight for layer in model.layers]
    assert list(leaves(model)) == ["params.layers[0].weight", "params.layers[0].bias",
                                   "params.layers[1].weight", "params.layers[1].bias"]
    grads = MLP([Linear(np.ones((2, 3)), np.ones(2)), Linear(np.ones((1, 2)), np.ones(1))])
    assert SGD(model, lr=0.25).step(grads) is model
    assert [layer.weight for layer in model.layers] == weights  # same arrays, new values
    np.testing.assert_array_equal(model.layers[0].weight, np.full((2, 3), 0.75))
    np.testing.assert_array_equal(model.layers[1].bias, [-0.25])
    assert model.scale == 2.0


def test_plain_object_updates_in_place_with_dict_gradients():
    model = Plain()
    assert list(leaves(model)) == ["params.weight", "params.bias"]
    Adam(model, lr=0.1).step({"weight": np.ones((2, 2)), "bias": -np.ones(2)})
    np.testing.assert_allclose(model.weight, np.full((2, 2), 1 - ADAM_FIRST_STEP), rtol=RTOL)
    np.testing.assert_allclose(model.bias, [ADAM_FIRST_STEP] * 2, rtol=RTOL)
    np.testing.assert_array_equal(model._cache, [7.0, 7.0])
    assert model.eps == 1e-5 and model.width == 2


def test_frozen_dataclass_with_read_only_array_is_rebuilt():
    @dataclasses.dataclass(frozen=True)
    class Frozen:
        w: np.ndarray

    read_only = np.array([1.0, 2.0])
    read_only.flags.writeable = False
    params = {"f": Frozen(read_only)}
    SGD(params, lr=1.0).step({"f": {"w": np.array([1.0, 1.0])}})
    np.testing.assert_array_equal(params["f"].w, [0.0, 1.0])
    np.testing.assert_array_equal(read_only, [1.0, 2.0])


def test_bare_parameters():
    assert SGD(1.0, lr=0.1).step(-8.0) == pytest.approx(1.8, rel=RTOL)
    w = np.array([1.0, 2.0])
    assert SGD(w, lr=0.5).step(np.array([2.0, 2.0])) is w
    np.testing.assert_array_equal(w, [0.0, 1.0])
    optimizer = SGD(np.float32(1.0), lr=0.5)
    out = optimizer.step(1.0)
    assert out == 0.5 and type(out) is np.float32 and optimizer.params is out


def test_float32_parameters_keep_their_dtype():
    w = np.ones(3, dtype=np.float32)
    optimizer = Adam(w, lr=0.1)
    optimizer.step(np.ones(3))
    assert w.dtype == np.float32 and optimizer.state["params"]["exp_avg"].dtype == np.float32


# ---------------------------------------------------------------- structure errors

@pytest.mark.parametrize("grads, message", [
    ({"layers": [None, {"weight": np.ones((1, 2))}]},
     "gradient tree has no entry for params.layers[1].bias"),
    ({"layers": [None, Linear(np.ones((1, 2)), np.ones(3))]},
     "gradient for params.layers[1].bias has shape (3,), but the parameter has shape (1,)"),
    ({"layers": [None]}, "at params.layers: expected 2 entries, got 1"),
    ({"layers": {"0": None}}, "at params.layers: expected a list or tuple, got dict"),
    ({"layers": [None, {"weight": {"x": 1}, "bias": np.ones(1)}]},
     "gradient for params.layers[1].weight should be an array, got dict"),
    (object(), "gradient tree has no attribute 'layers' for params.layers"),
])
def test_object_structure_mismatch_names_the_path(grads, message):
    model = mlp()
    with pytest.raises(ValueError) as error:
        SGD(model, lr=0.1).step(grads)
    assert message in str(error.value)


def test_dict_structure_mismatch_names_the_path():
    params = {"layers": [{"w": np.ones(2)}, {"w": np.ones(2), "b": np.ones(1)}]}
    optimizer = SGD(params, lr=0.1)
    with pytest.raises(ValueError, match=r"no entry for params\['layers'\]\[1\]\['b'\]"):
        optimizer.step({"layers": [{"w": np.ones(2)}, {"w": np.ones(2)}]})
    with pytest.raises(ValueError, match=r"lack: params\['layers'\]\[0\]\['extra'\]"):
        optimizer.step({"layers": [{"w": np.ones(2), "extra": 1}, None]})
    with pytest.raises(ValueError, match=r"at params\['layers'\]\[0\]: expected a dict, got list"):
        optimizer.step({"layers": [[np.ones(2)], None]})
    np.testing.assert_array_equal(params["layers"][1]["w"], np.ones(2))  # nothing applied


def test_invalid_trees_and_hyperparameters():
    with pytest.raises(ValueError, match="no floating-point arrays"):
        SGD({"n": 3, "ints": np.arange(3)}, lr=0.1)
    shared = np.ones(2)
    with pytest.raises(ValueError, match=r"params\['a'\] and params\['b'\] are the same array"):
        Adam({"a": shared, "b": shared})
    layer = Linear(np.ones((2, 2)), np.zeros(2))
    same = r"params.layers\[0\].weight and params.layers\[1\].weight are the same array"
    with pytest.raises(ValueError, match=same):
        SGD(MLP([layer, layer]), lr=0.1)  # a layer reused: each weight would move twice
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(np.ones(2), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr=-1"):
        SGD(np.ones(2), lr=-1)
    with pytest.raises(ValueError, match="betas"):
        Adam(np.ones(2), betas=(0.9, 1.0))


# ---------------------------------------------------------------- state save and restore

def train(optimizer, params, steps):
    for _ in range(steps):
        params = optimizer.step({"w": quadratic_grad(params["w"]), "b": 2 * params["b"]})
    return params


def fresh_tree():
    return {"w": P0.copy(), "b": np.array([1.0, -0.5])}


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    lambda p: SGD(p, lr=0.05, momentum=0.7, dampening=0.2, weight_decay=0.1),
    lambda p: Adam(p, lr=0.1, weight_decay=0.05),
    lambda p: Adam(p, lr=0.1, amsgrad=True),
], ids=["sgd_nesterov", "sgd_dampening", "adam", "adam_amsgrad"])
@pytest.mark.parametrize("transport", ["dict", "savez", "pickle"])
def test_state_dict_round_trip_resumes_exactly(make, transport):
    uninterrupted = fresh_tree()
    train(make(uninterrupted), uninterrupted, 5)

    params = fresh_tree()
    optimizer = make(params)
    train(optimizer, params, 3)
    state = optimizer.state_dict()
    if transport == "savez":
        file = io.BytesIO()
        np.savez(file, **state)
        file.seek(0)
        state = dict(np.load(file))
    elif transport == "pickle":
        state = pickle.loads(pickle.dumps(state))
    saved_params = {name: value.copy() for name, value in params.items()}
    train(optimizer, params, 1)  # what was saved must not change afterwards

    resumed = make(saved_params)
    resumed.load_state_dict(state)
    assert resumed.steps == 3
    train(resumed, saved_params, 2)
    for name in uninterrupted:
        np.testing.assert_array_equal(saved_params[name], uninterrupted[name])


def test_state_dict_contents():
    params = fresh_tree()
    optimizer = Adam(params, lr=0.1, amsgrad=True)
    train(optimizer, params, 2)
    state = optimizer.state_dict()
    assert sorted(state) == sorted([
        "steps", "lr", "betas", "eps", "weight_decay", "amsgrad",
        *(f"{entry}:params['{name}']" for entry in
          ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq") for name in ("w", "b"))])
    assert int(state["step:params['w']"]) == 2 and state["betas"].tolist() == [0.9, 0.999]
    assert all(isinstance(value, np.ndarray) for value in state.values())


def test_load_state_dict_rejects_other_trees_and_kinds():
    params = fresh_tree()
    adam = Adam(params, lr=0.1)
    train(adam, params, 1)
    state = adam.state_dict()
    with pytest.raises(ValueError, match=r"params\['b'\], which these params do not hold"):
        Adam({"w": P0.copy(), "c": np.ones(2)}).load_state_dict(state)
    with pytest.raises(ValueError, match=r"has shape \(2,\), but the parameter needs \(3,\)"):
        Adam({"w": P0.copy(), "b": np.ones(3)}).load_state_dict(state)
    with pytest.raises(ValueError, match="state lacks momentum, dampening, nesterov"):
        SGD(fresh_tree(), lr=0.1).load_state_dict(state)
    other = Adam(fresh_tree(), lr=0.5)
    with pytest.raises(ValueError, match=r"momentum_buffer:params\['w'\]. is not Adam state"):
        other.load_state_dict({**state, "momentum_buffer:params['w']": np.ones(3)})
    assert other.lr == 0.5 and other.state == {}  # a failed load changes nothing
    other.load_state_dict(state)
    assert other.lr == 0.1 and other.state["params['w']"]["step"] == 1


# ---------------------------------------------------------------- gradient buffers

def test_accumulate_and_zero_grad():
    params = {"w": np.array([1.0, 2.0]), "b": np.array([0.0])}
    optimizer = SGD(params, lr=0.5)
    optimizer.accumulate({"w": np.array([1.0, 1.0]), "b": None})
    optimizer.accumulate({"w": np.array([1.0, -3.0]), "b": np.array([4.0])})
    np.testing.assert_array_equal(optimizer.grad_buffer["params['w']"], [2.0, -2.0])
    optimizer.step()
    np.testing.assert_array_equal(params["w"], [0.0, 3.0])
    np.testing.assert_array_equal(params["b"], [-2.0])
    optimizer.step()  # the buffer is kept until zero_grad, as in PyTorch
    np.testing.assert_array_equal(params["w"], [-1.0, 4.0])

    optimizer.zero_grad()
    assert optimizer.grad_buffer == {}
    with pytest.raises(ValueError, match="accumulate"):
        optimizer.step()
    optimizer.accumulate({"w": np.array([2.0, 0.0]), "b": None})
    optimizer.step()  # b has no gradient: left alone
    np.testing.assert_array_equal(params["w"], [-2.0, 4.0])
    np.testing.assert_array_equal(params["b"], [-4.0])


def test_accumulated_gradients_are_copies():
    w = np.array([1.0])
    optimizer = SGD(w, lr=1.0)
    gradient = np.array([1.0])
    optimizer.accumulate(gradient)
    gradient[0] = 100.0
    optimizer.step()
    np.testing.assert_array_equal(w, [0.0])


def test_none_gradient_skips_the_parameter_and_its_step_count():
    params = {"w": np.ones(2), "b": np.ones(2)}
    optimizer = Adam(params, lr=0.1)
    optimizer.step({"w": np.ones(2), "b": None})
    optimizer.step({"w": np.ones(2), "b": np.ones(2)})
    assert optimizer.state["params['w']"]["step"] == 2
    assert optimizer.state["params['b']"]["step"] == 1
    np.testing.assert_allclose(params["b"], [1 - ADAM_FIRST_STEP] * 2, rtol=RTOL)


# ---------------------------------------------------------------- end to end

@srcgrad.grad(wrt="w")
def squared_distance_grad(w):
    return ((w - 5) ** 2).sum()


@srcgrad.grad(wrt="params")
def dict_loss_grad(params):
    return ((params["w"] - 5) ** 2).sum() + (params["b"] ** 2).sum()


def test_gradient_descent_step_from_the_seed_tutorial():
    optimizer = SGD(1.0, lr=0.1)
    w = optimizer.step(squared_distance_grad(1.0))
    assert w == pytest.approx(1.8, rel=RTOL)
    assert optimizer.step(squared_distance_grad(w)) == pytest.approx(1.8 + 0.1 * 2 * 3.2)


def test_adam_converges_with_srcgrad_gradients():
    w = np.array([1.0, -3.0, 12.0])
    optimizer = Adam(w, lr=0.1)
    for _ in range(500):
        optimizer.step(squared_distance_grad(w))
    np.testing.assert_allclose(w, 5.0, atol=1e-3)

    params = {"w": np.array([0.0, 1.0]), "b": np.array([3.0])}
    optimizer = Adam(params, lr=0.1)
    for _ in range(500):
        optimizer.step(dict_loss_grad(params))
    np.testing.assert_allclose(params["w"], 5.0, atol=1e-3)
    np.testing.assert_allclose(params["b"], 0.0, atol=1e-3)


# ---------------------------------------------------------------- PyTorch, when installed

def test_matches_torch_optim():
    torch = pytest.importorskip(
        "torch", reason="torch is not installed; the textbook-formula tests above check the "
        "same update rules")
    cases = [(SGD, torch.optim.SGD, options) for options in SGD_CASES.values()]
    cases += [(Adam, torch.optim.Adam, options) for options in ADAM_CASES.values()]
    for ours, theirs, options in cases:
        tensor = torch.tensor(P0, dtype=torch.float64, requires_grad=True)
        reference = theirs([tensor], **options)
        for _ in range(7):
            reference.zero_grad()
            loss = 0.5 * tensor @ torch.tensor(A) @ tensor - torch.tensor(B) @ tensor
            loss.backward()
            reference.step()
        np.testing.assert_allclose(run(ours, 7, **options), tensor.detach().numpy(),
                                   rtol=1e-10, err_msg=f"{ours.__name__} {options}")
