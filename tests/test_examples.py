"""The example scripts run and print the numbers the seed tutorials print."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import srcgrad

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

import train_xor  # noqa: E402


def test_xor_network_gradient_matches_finite_differences():
    model = train_xor.Net(np.random.default_rng(1))
    grads = srcgrad.grad(train_xor.loss)(model, train_xor.X, train_xor.Y)
    eps = 1e-6
    for layer, grad_layer in ((model.fc1, grads.fc1), (model.fc2, grads.fc2)):
        for name in ("weight", "bias"):
            array = getattr(layer, name)
            index = (0,) * array.ndim
            array[index] += eps
            up = train_xor.loss(model, train_xor.X, train_xor.Y)
            array[index] -= 2 * eps
            down = train_xor.loss(model, train_xor.X, train_xor.Y)
            array[index] += eps
            numeric = (up - down) / (2 * eps)
            assert getattr(grad_layer, name)[index] == pytest.approx(numeric, rel=1e-6, abs=1e-12)


def test_xor_training_follows_plain_gradient_descent():
    model, history, _ = train_xor.train(epochs=20, lr=0.5, report=10, seed=2)
    reference = train_xor.Net(np.random.default_rng(2))
    for _ in range(20):  # the same 20 steps, written out by hand
        g = srcgrad.grad(train_xor.loss)(reference, train_xor.X, train_xor.Y)
        for layer, grad_layer in ((reference.fc1, g.fc1), (reference.fc2, g.fc2)):
            layer.weight = layer.weight - 0.5 * grad_layer.weight
            layer.bias = layer.bias - 0.5 * grad_layer.bias
    np.testing.assert_allclose(model.fc1.weight, reference.fc1.weight, rtol=1e-12)
    np.testing.assert_allclose(model.fc2.bias, reference.fc2.bias, rtol=1e-12)
    assert history[-1][1] < history[0][1] or history[-1][1] < 0.2501


@pytest.mark.parametrize("script", ["basics.py", "seed_loop.py", "no_grad.py", "hessian.py",
                                    "train_xor.py"])
def test_example_script_runs(script):
    done = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_basics_prints_the_seed_numbers():
    done = subprocess.run([sys.executable, str(EXAMPLES / "basics.py")], capture_output=True,
                          text=True, timeout=120, check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "Gradient of x: 3.0" and lines[1] == "Gradient of y: 8.0"
    assert lines[2] == "Gradient of x: 94.0"
    assert lines[3] == "Updated value of w: 1.8"
    assert lines[4] == "x.grad: 256.0"
