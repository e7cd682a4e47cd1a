"""Every example of the four seed tutorials, in its srcgrad form under examples/, gives the
tutorial's numbers: checked against the closed form, and against PyTorch's printed values
where the tutorial prints them (quoted below, with the tutorial that printed them).

The tutorials: the autograd basics tutorial (examples 1 and 2, exercises 1 and 2), the
autograd module tutorial (y = x^2 + 2x + 1, grad_fn, no_grad), the computing-gradients
tutorial (y = x^2, the one-hidden-layer network) and the 60-minute-blitz autograd tutorial
(mean(3 (x + 2)^2), requires_grad_, the while loop, no_grad).
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import srcgrad
from srcgrad import nn

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

import basics
import gradient_descent
import inspect_graph
import linear_layer
import no_grad
import seed_loop
import train_xor


@functools.cache
def run_example(script: str) -> list[str]:
    """The lines `python examples/<script>` prints (run once per test session)."""
    done = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def numbers(line: str) -> list[float]:
    return [float(s) for s in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", line)]


# -- the autograd basics tutorial ---------------------------------------------------------

@pytest.mark.parametrize(("x", "y"), [(2.0, 3.0), (-1.5, 0.25), (0.0, -4.0)])
def test_basic_ops_gradients(x, y):
    # z = x y + y^2: dz/dx = y, dz/dy = x + 2y; the tutorial's x = 2, y = 3 give 3 and 8.
    assert srcgrad.grad(basics.f, wrt=("x", "y"))(x, y) == (y, x + 2 * y)


@pytest.mark.parametrize("x", [3.0, -2.0, 0.5])
def test_polynomial_gradient(x):
    # y = 3x^3 + 2x^2 + x: dy/dx = 9x^2 + 4x + 1, 94 at the tutorial's x = 3.
    assert srcgrad.grad(basics.polynomial)(x) == pytest.approx(9 * x**2 + 4 * x + 1, rel=1e-15)


def test_polynomial_at_three_is_94():
    assert srcgrad.grad(basics.polynomial)(3.0) == 94.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_layer_gradients_closed_form(seed):
    rng = np.random.default_rng(seed)
    model = nn.Linear(1, 1, rng=seed)
    x = rng.normal(size=(1, 1))
    dmodel, dx = srcgrad.grad(linear_layer.loss, wrt=("model", "input_tensor"))(model, x)
    w, b = model.weight[0, 0], model.bias[0]
    r = 2.0 * (w * x[0, 0] + b - 2.0)  # d loss / d output
    assert isinstance(dmodel, nn.Linear)
    assert dx.shape == (1, 1) and dmodel.weight.shape == (1, 1) and dmodel.bias.shape == (1,)
    assert dx[0, 0] == pytest.approx(r * w, rel=1e-12)
    assert dmodel.weight[0, 0] == pytest.approx(r * x[0, 0], rel=1e-12)
    assert dmodel.bias[0] == pytest.approx(r, rel=1e-12)


def test_linear_layer_starts_like_torch_nn_linear():
    # nn.Linear(1, 1) draws weight and bias uniformly in +-1/sqrt(1); rng=0 is the script's.
    model = nn.Linear(1, 1, rng=0)
    assert -1.0 <= model.weight[0, 0] <= 1.0 and -1.0 <= model.bias[0] <= 1.0
    assert model.weight[0, 0] != nn.Linear(1, 1, rng=1).weight[0, 0]


def test_linear_layer_script_prints_gradients_and_the_closed_form():
    lines = run_example("linear_layer.py")
    model = nn.Linear(1, 1, rng=0)
    r = 2.0 * (model.weight[0, 0] + model.bias[0] - 2.0)  # input 1.0
    assert numbers(lines[0]) == pytest.approx([model.weight[0, 0], model.bias[0]], rel=1e-6)
    assert lines[1].startswith("Gradient of input_tensor: [[")
    assert numbers(lines[1]) == pytest.approx([r * model.weight[0, 0]], rel=1e-6)
    assert numbers(lines[2]) == pytest.approx([r], rel=1e-6)
    assert numbers(lines[3]) == pytest.approx([r], rel=1e-6)
    assert numbers(lines[4]) == pytest.approx([r * model.weight[0, 0], r, r], rel=1e-12)


def test_gradient_descent_step():
    # loss = (w - 5)^2 at w = 1: gradient 2 (1 - 5) = -8; w - 0.1 * -8 = 1.8.
    assert srcgrad.grad(gradient_descent.quadratic_loss)(1.0) == -8.0
    assert 1.0 - 0.1 * srcgrad.grad(gradient_descent.quadratic_loss)(1.0) == 1.8


def test_gradient_descent_script():
    lines = run_example("gradient_descent.py")
    assert lines == [
        "Updated value of w: 1.8",
        "Updated value of w (SGD): 1.8",
        "Gradient, called twice: -8.0, -8.0",
        "Accumulated twice, like two backward() calls: -16.0",
        "Updated value of w without zero_grad: 2.6",  # 1 - 0.1 * (-16)
        "After zero_grad: {}",
    ]


def test_basics_script_prints_every_basics_number():
    lines = run_example("basics.py")
    assert lines[:5] == ["Gradient of x: 3.0", "Gradient of y: 8.0", "Gradient of x: 94.0",
                         "Updated value of w: 1.8", "x.grad: 256.0"]
    assert lines[5] == "d(out)/dx:" and numbers(lines[6] + lines[7]) == [4.5] * 4
    # linear_loss with weight 0.5, bias -0.25, input 1: r = 2 (0.25 - 2) = -3.5.
    assert [numbers(line) for line in lines[8:11]] == [[-1.75], [-3.5], [-3.5]]
    # The computing-gradients tutorial printed: tensor([4.])
    assert lines[11] == "x.grad: [4.]"


# -- the autograd module tutorial ---------------------------------------------------------

@pytest.mark.parametrize("x", [3.0, -0.5, 2.0])
def test_squared_quadratic_gradient(x):
    # loss = (x^2 + 2x + 1)^2 = (x + 1)^4: d/dx = 4 (x + 1)^3, 256 at x = 3.
    for f in (basics.squared_quadratic, inspect_graph.squared_quadratic):
        assert srcgrad.grad(f)(x) == pytest.approx(4 * (x + 1) ** 3, rel=1e-14)


def _adjoint_comments(function) -> list[tuple[int, str]]:
    """(line, text) of each `# grad of line N: ...` comment in grad(function).source."""
    source = srcgrad.grad(function).source
    return [(int(n), text) for n, text in re.findall(r"# grad of line (\d+): (.*)", source)]


def _body_lines(function) -> dict[str, int]:
    """Each statement of `function`'s body, stripped, by its line number in the file."""
    lines, first = inspect.getsourcelines(function)
    return {line.strip(): first + i for i, line in enumerate(lines)}


def test_grad_fn_analogue_names_each_line_in_reverse():
    # PyTorch's y.grad_fn / out.grad_fn: AddBackward, MulBackward, MeanBackward. srcgrad's
    # emitted source has one block per line, last line first, commented with that line.
    lines = _body_lines(inspect_graph.mean_of_cubes)
    assert _adjoint_comments(inspect_graph.mean_of_cubes) == [
        (lines["out = z.mean()"], "out = z.mean()"),
        (lines["z = y * y * 3"], "z = y * y * 3"),
        (lines["y = x + 2"], "y = x + 2"),
    ]
    lines = _body_lines(inspect_graph.squared_quadratic)
    assert _adjoint_comments(inspect_graph.squared_quadratic) == [
        (lines["loss = y**2"], "loss = y**2"),
        (lines["y = x**2 + 2 * x + 1"], "y = x**2 + 2 * x + 1"),
    ]


def test_emitted_source_runs_on_its_own(tmp_path):
    path = tmp_path / "squared_quadratic_grad.py"
    path.write_text(srcgrad.grad(inspect_graph.squared_quadratic).source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("squared_quadratic_grad", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.squared_quadratic_grad(3.0) == 256.0


# -- the 60-minute-blitz autograd tutorial ------------------------------------------------

def test_mean_of_cubes_forward_values():
    # The tutorial printed: y = tensor([[3., 3.], [3., 3.]]), z = tensor([[27., 27.],
    # [27., 27.]]), out = tensor(27.).
    x = np.ones((2, 2))
    assert inspect_graph.mean_of_cubes(x) == 27.0
    assert basics.mean_of_cubes(x) == 27.0


def test_mean_of_cubes_gradient_is_torch_4_5():
    # The tutorial printed: x.grad = tensor([[4.5000, 4.5000], [4.5000, 4.5000]]).
    for f in (basics.mean_of_cubes, inspect_graph.mean_of_cubes):
        gradient = srcgrad.grad(f)(np.ones((2, 2)))
        assert gradient.shape == (2, 2)
        assert_array_equal(gradient, np.full((2, 2), 4.5))


def test_mean_of_cubes_gradient_closed_form():
    # out = mean(3 (x + 2)^2) over 4 entries: d out / dx_i = 3/2 (x_i + 2).
    x = np.random.default_rng(3).normal(size=(2, 2))
    assert_allclose(srcgrad.grad(inspect_graph.mean_of_cubes)(x), 1.5 * (x + 2), rtol=1e-14)


def test_requires_grad_then_sum_of_squares():
    # a = (3a) / (a - 1), then b = (a * a).sum() with a requiring grad: db/da = 2a.
    a = np.random.default_rng(0).standard_normal((2, 2))
    a = (a * 3) / (a - 1)
    assert_allclose(srcgrad.grad(inspect_graph.sum_of_squares, wrt="a")(a), 2 * a, rtol=1e-15)


def test_inspect_graph_script():
    lines = run_example("inspect_graph.py")
    assert lines[:6] == ["[[1. 1.]", " [1. 1.]]", "[[3. 3.]", " [3. 3.]]",
                         "[[27. 27.]", " [27. 27.]] 27.0"]
    text = "\n".join(lines)
    assert text.count("# Generated by srcgrad") == 3
    assert "# grad of line 30: out = z.mean()" in text
    assert "x.grad:\n[[4.5 4.5]\n [4.5 4.5]]" in text
    a = np.random.default_rng(0).standard_normal((2, 2))
    start = lines.index("a.grad (2a):")
    assert numbers(lines[start + 1] + lines[start + 2]) == pytest.approx(
        (2 * (a * 3) / (a - 1)).ravel().tolist(), rel=1e-7)
    assert lines[-1] == "x.grad: 256.0"


# The tutorial printed y = tensor([228.6181, -1148.1552, 1098.7129]) and, for the cotangent
# v = [0.1, 1.0, 0.0001], x.grad = tensor([102.4000, 1024.0000, 0.1024]).
TORCH_Y = [228.6181, -1148.1552, 1098.7129]
TORCH_X_GRAD = [102.4, 1024.0, 0.1024]
V = np.array([0.1, 1.0, 0.0001])


def test_while_loop_vjp_gives_the_tutorials_numbers():
    x = seed_loop.TUTORIAL_Y / 1024
    assert_allclose(seed_loop.seed_loop(x), TORCH_Y, rtol=1e-15)
    # PyTorch computed in float32; the closed form 1024 v holds to float64 precision.
    assert_allclose(srcgrad.vjp(seed_loop.seed_loop)(x, V), TORCH_X_GRAD, rtol=1e-7)
    assert_allclose(srcgrad.vjp(seed_loop.seed_loop)(x, V), 1024 * V, rtol=1e-15)


@pytest.mark.parametrize("scale", [1e-3, 0.3, 7.0, 400.0, 600.0])
def test_while_loop_vjp_is_v_times_two_to_the_doublings(scale):
    x = scale * np.array([0.6, -0.8, 0.0])  # |x| = scale
    doublings = 1
    while 2.0**doublings * scale < 1000:
        doublings += 1
    assert_allclose(seed_loop.seed_loop(x), x * 2.0**doublings, rtol=1e-15)
    assert_allclose(srcgrad.vjp(seed_loop.seed_loop)(x, V), V * 2.0**doublings, rtol=1e-15)


def test_seed_loop_script():
    lines = run_example("seed_loop.py")
    assert lines[0] == "y: [  228.6181 -1148.1552  1098.7129]"
    assert numbers(lines[1]) == pytest.approx(TORCH_X_GRAD, rel=1e-12)
    x = np.random.default_rng(0).standard_normal(3)
    doublings = int(numbers(lines[2].split("after")[1])[0])
    assert 2.0**doublings * np.linalg.norm(x) >= 1000 > 2.0 ** (doublings - 1) * np.linalg.norm(x)
    assert numbers(lines[3]) == pytest.approx((V * 2.0**doublings).tolist(), rel=1e-12)


def test_no_grad_requires_grad_analogue():
    # The tutorial printed True for (x ** 2).requires_grad and False inside no_grad: the
    # gradient through x ** 2 is 2x, and zero when x ** 2 is computed under no_grad.
    x = np.array([1.0, 2.0, -4.0])
    assert_array_equal(srcgrad.grad(no_grad.squares)(x), 2 * x)
    gradient = srcgrad.grad(no_grad.squares_under_no_grad)(x)
    assert gradient.shape == x.shape
    assert_array_equal(gradient, np.zeros(3))


def test_detach_and_no_grad_closed_form():
    # scale = max |x| (no_grad) and target = 2w (detached) are constants for the gradient:
    # d/dw sum((w x / s - t)^2) = 2 (w x / s - t) x / s.
    w = np.array([0.5, -1.0, 2.0])
    x = np.array([1.0, 2.0, -4.0])
    expected = 2 * (w * x / 4 - 2 * w) * x / 4
    assert_allclose(srcgrad.grad(no_grad.scaled_loss)(w, x), expected, rtol=1e-15)


def test_no_grad_script():
    lines = run_example("no_grad.py")
    values = [numbers(line.rsplit(": ", 1)[1]) for line in lines[:3]]
    assert values == [[2.0, 4.0, -8.0], [0.0, 0.0, 0.0], [-0.4375, 1.5, 12.0]]


# -- the computing-gradients tutorial -----------------------------------------------------

def test_square_gradient_is_torch_4():
    # The tutorial printed: tensor([4.]) for y = x^2 at x = [2.0].
    gradient = srcgrad.grad(basics.square)(np.array([2.0]))
    assert gradient.shape == (1,)
    assert_array_equal(gradient, [4.0])


# The tutorial printed, for its network from PyTorch's random initialisation:
# Epoch 500, Loss: 0.25002944469451904 ... Epoch 5000, Loss: 0.24992311000823975, and
# first-layer weight gradients [[-1.0688e-04, -2.0416e-04], [-2.1948e-05, -3.6009e-05]].
# srcgrad's network starts from other weights, so only the picture can agree.
TORCH_LOSSES = [0.25002944469451904, 0.25000864267349243, 0.24999231100082397,
                0.24997900426387787, 0.24996770918369293, 0.24995779991149902,
                0.24994871020317078, 0.24994011223316193, 0.24993163347244263,
                0.24992311000823975]


@pytest.fixture(scope="module")
def xor_run():
    return train_xor.train()


def test_xor_network_reports_every_500_epochs_like_the_tutorial(xor_run):
    _, history, grads = xor_run
    assert [epoch for epoch, _ in history] == list(range(500, 5001, 500))
    losses = np.array([value for _, value in history])
    # On the plateau at 0.25 like the tutorial's, within 1e-4 of each, falling every report.
    assert_allclose(losses, TORCH_LOSSES, rtol=0, atol=1e-4)
    assert np.all(np.diff(losses) < 0)
    assert grads.fc1.weight.shape == (2, 2)
    assert 0 < np.abs(grads.fc1.weight).max() < 1e-3  # the tutorial's are at most 2.1e-4


def test_xor_reported_loss_is_the_loss_before_that_epochs_step(xor_run):
    _, history, _ = xor_run
    model, _, _ = train_xor.train(epochs=499)
    assert train_xor.loss(model, train_xor.X, train_xor.Y) == history[0][1]


def test_xor_last_gradient_is_the_gradient_before_the_last_step(xor_run):
    _, _, grads = xor_run
    model, _, _ = train_xor.train(epochs=4999)
    expected = srcgrad.grad(train_xor.loss)(model, train_xor.X, train_xor.Y)
    assert_array_equal(grads.fc1.weight, expected.fc1.weight)


def test_train_xor_script(xor_run):
    lines = run_example("train_xor.py")
    _, history, grads = xor_run
    assert lines[:10] == [f"Epoch {epoch}, Loss: {value}" for epoch, value in history]
    assert lines[10] == "Gradients of the first layer weights:"
    assert numbers(lines[11] + lines[12]) == pytest.approx(grads.fc1.weight.ravel().tolist(),
                                                           rel=1e-6)
