"""Calls on model objects resolve from the objects' types: from annotations before any call
(the command line, `.source`), per element when looping over a list of layers, and for a
constant index into such a list."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import srcgrad
from programs import annotated_model as am


def _finite_difference_check(loss, model, x, grads, arrays):
    eps = 1e-6
    for module, grad_module in arrays:
        for name in ("weight", "bias"):
            array, grad = getattr(module, name), getattr(grad_module, name)
            for index in [(0,) * array.ndim, tuple(s - 1 for s in array.shape)]:
                array[index] += eps
                up = loss(model, x)
                array[index] -= 2 * eps
                down = loss(model, x)
                array[index] += eps
                assert grad[index] == pytest.approx((up - down) / (2 * eps), rel=1e-6,
                                                    abs=1e-9)


def test_annotations_resolve_calls_before_the_first_call():
    derivative = srcgrad.grad(am.loss)
    text = derivative.source  # no call yet: the annotation `model: TwoLayer` decides
    assert "TwoLayer_forward_vjp" in text and "Linear_forward_vjp" in text
    model, x = am.TwoLayer(), np.random.default_rng(0).standard_normal((5, 3))
    grads = derivative(model, x)
    _finite_difference_check(am.loss, model, x, grads,
                             [(model.fc1, grads.fc1), (model.fc2, grads.fc2)])


def test_command_line_compiles_an_annotated_model_loss(tmp_path):
    programs = Path(__file__).parent / "programs"
    out = tmp_path / "loss_grad.py"
    done = subprocess.run([sys.executable, "-m", "srcgrad", "grad",
                           f"{programs / 'annotated_model.py'}:loss", "--wrt", "model",
                           "-o", str(out)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    namespace = {}
    sys.path.insert(0, str(programs))
    try:
        exec(compile(out.read_text(), str(out), "exec"), namespace)  # noqa: S102
    finally:
        sys.path.remove(str(programs))
    model, x = am.TwoLayer(rng=3), np.random.default_rng(1).standard_normal((4, 3))
    grads = namespace["loss_grad"](model, x)  # a TwoLayer holding the gradients
    assert type(grads) is am.TwoLayer and type(grads.fc1) is type(model.fc1)
    expected = srcgrad.grad(am.loss)(model, x)
    for name in ("fc1", "fc2"):
        np.testing.assert_allclose(getattr(grads, name).weight,
                                   getattr(expected, name).weight, rtol=1e-12)


@pytest.mark.parametrize("widths", [(3, 4), (3, 5, 4, 2), (3, 3, 3, 3, 3, 3)])
def test_loop_over_differently_typed_layers_matches_finite_differences(widths):
    model = am.Stack(widths, rng=len(widths))
    x = np.random.default_rng(2).standard_normal((6, 3))
    grads = srcgrad.grad(am.stack_loss)(model, x)
    assert len(grads.blocks) == len(model.blocks)
    linear = [(m, g) for m, g in zip(model.blocks, grads.blocks, strict=True)
              if hasattr(m, "weight")]
    _finite_difference_check(am.stack_loss, model, x, grads,
                             [*linear, (model.head, grads.head)])


def test_loop_over_layers_is_unrolled_per_layer_type():
    model = am.Stack((3, 4, 2))
    derivative = srcgrad.grad(am.stack_loss)
    derivative(model, np.ones((2, 3)))
    text = derivative.source
    assert "Tanh_forward_vjp" in text and "Linear_forward_vjp" in text
    assert "for " not in text.split("def stack_loss_grad", 1)[1].split("\ndef ", 1)[0]


def test_a_call_on_a_list_entry_needs_a_constant_index():
    def bad(model, x, i):
        return np.sum(model.blocks[i](x))

    with pytest.raises(srcgrad.SrcgradError, match="constant"):
        srcgrad.grad(bad)(am.Stack((3, 4)), np.ones((2, 3)), 0)


class _Scale:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return x * self.w


class _Shift:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return np.sin(x + self.w)


class _Net:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def _net_loss(net, x):
    return np.sum(net(x) ** 2)


@pytest.mark.parametrize("order", [("scale", "shift"), ("shift", "scale", "shift")])
def test_each_layer_of_an_unrolled_loop_runs_its_own_call(order):
    """Layers whose classes define `__call__` each: every copy of the unrolled loop calls
    its own layer's. (All of them ran the first layer's before: a wrong derivative.)"""
    rng = np.random.default_rng(8)
    make = {"scale": _Scale, "shift": _Shift}
    net = _Net([make[kind](rng.standard_normal(3)) for kind in order])
    x = rng.standard_normal(3)
    direction = rng.standard_normal(3)
    numeric = (_net_loss(net, x + 1e-6 * direction) - _net_loss(net, x - 1e-6 * direction)) / 2e-6
    gradient = srcgrad.grad(_net_loss, wrt=1)(net, x)
    assert float(gradient @ direction) == pytest.approx(numeric, rel=1e-6)
    pushforward = srcgrad.jvp(_net_loss, wrt=1)
    _, pushed = pushforward(net, x, dx=direction)  # (the tangent of x is named dx)
    assert pushed == pytest.approx(numeric, rel=1e-6)
    weights = srcgrad.grad(_net_loss)(net, x)
    for layer, grad_layer in zip(net.layers, weights.layers, strict=True):
        moved = [_Net([type(m)(m.w + (s * 1e-6 * direction if m is layer else 0.0))
                       for m in net.layers]) for s in (1, -1)]
        expected = (_net_loss(moved[0], x) - _net_loss(moved[1], x)) / 2e-6
        assert float(grad_layer.w @ direction) == pytest.approx(expected, rel=1e-6)
