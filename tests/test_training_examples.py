"""The training examples: their gradients against finite differences, the results they
train to (`slow`), saving and restoring parameters, and the digits example's progress bar."""

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

import srcgrad
from srcgrad import nn

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

import digits_mlp
import lstm_adding


def finite_differences(f, array, eps=1e-6):
    """Central differences of the scalar f() in every entry of `array`, perturbed in place."""
    result = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        up = f()
        array[index] = saved - eps
        down = f()
        array[index] = saved
        result[index] = (up - down) / (2 * eps)
    return result


# ---------------------------------------------------------------- the MLP's gradient

def dict_loss(params, images, labels):
    """digits_mlp's network written over a dict of arrays instead of a Module."""
    hidden = np.maximum(images @ params["W1"].T + params["b1"], 0.0)
    return nn.cross_entropy(hidden @ params["W2"].T + params["b2"], labels)


MODULE_TO_DICT = {"0.weight": "W1", "0.bias": "b1", "2.weight": "W2", "2.bias": "b2"}


def test_mlp_gradient_wrt_module_and_wrt_dict_match_each_other_and_finite_differences():
    rng = np.random.default_rng(3)
    images, labels = rng.uniform(0.0, 1.0, (8, 64)), rng.integers(0, 10, 8)
    model = digits_mlp.build_model(hidden=5, seed=4)
    params = {MODULE_TO_DICT[name]: value.copy() for name, value in model.named_parameters()}
    assert dict_loss(params, images, labels) == pytest.approx(
        digits_mlp.loss(model, images, labels), rel=1e-14)

    module_grads = dict(srcgrad.grad(digits_mlp.loss)(model, images, labels).named_parameters())
    dict_grads = srcgrad.grad(dict_loss)(params, images, labels)
    assert isinstance(dict_grads, dict) and set(dict_grads) == set(params)
    assert set(module_grads) == set(MODULE_TO_DICT)

    for name, array in model.named_parameters():
        key = MODULE_TO_DICT[name]
        numeric = finite_differences(lambda: digits_mlp.loss(model, images, labels), array)
        numeric_dict = finite_differences(lambda: dict_loss(params, images, labels), params[key])
        assert np.abs(numeric).max() > 1e-3, name  # the check has something to compare
        np.testing.assert_allclose(module_grads[name], numeric, rtol=1e-5, atol=1e-8,
                                   err_msg=name)
        np.testing.assert_allclose(dict_grads[key], numeric_dict, rtol=1e-5, atol=1e-8,
                                   err_msg=key)
        np.testing.assert_allclose(module_grads[name], dict_grads[key], rtol=1e-12,
                                   atol=1e-15, err_msg=name)


# ---------------------------------------------------------------- the LSTM's gradient

def test_lstm_gradient_matches_finite_differences_for_every_weight():
    rng = np.random.default_rng(5)
    model = lstm_adding.LSTM(2, 3, rng=6)
    xs, targets = lstm_adding.adding_problem(rng, 5, 4)
    grads = dict(srcgrad.grad(lstm_adding.loss)(model, xs, targets).named_parameters())
    names = [name for name, _ in model.named_parameters()]
    assert names == ["input.weight", "input.bias", "recurrent.weight", "readout.weight",
                     "readout.bias"]
    assert set(grads) == set(names)
    for name, array in model.named_parameters():
        numeric = finite_differences(lambda: lstm_adding.loss(model, xs, targets), array)
        assert np.abs(numeric).max() > 1e-4, name
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-9, err_msg=name)


def test_lstm_example_prints_its_loss_curve_and_final_metric(capsys):
    lstm_adding.main(["--steps", "20", "--length", "6", "--hidden", "4"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("step    20  training loss ")
    assert lines[1].startswith("trained 20 steps in ")
    assert lines[2].startswith("test mse ")


@pytest.mark.slow
def test_lstm_learns_the_adding_problem():
    logged = []
    model, curve, seconds = lstm_adding.train(log=logged.append)
    print(f"LSTM: {curve[-1][0]} steps in {seconds:.2f} s, held-out mse {curve[-1][2]:.5f}")
    assert len(logged) == len(curve) == 10
    test = lstm_adding.adding_problem(np.random.default_rng(123), 1000, 10)
    mse, within = lstm_adding.evaluate(model, *test)
    assert curve[0][2] > 0.1  # it starts near the baseline of always answering the mean
    assert mse < lstm_adding.BASELINE_MSE / 20  # and ends far below it
    assert within > 0.4


# ---------------------------------------------------------------- digits

@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One run of the digits example's main: (run, stdout, stderr, saved path, data)."""
    pytest.importorskip("sklearn")
    path = tmp_path_factory.mktemp("digits") / "digits_mlp.npz"
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        run = digits_mlp.main(["--save", str(path)])
    return run, out.getvalue(), err.getvalue(), path, digits_mlp.load_data(0)


@pytest.mark.slow
def test_digits_mlp_reaches_95_percent_test_accuracy(digits_run):
    run, out, err, _, (_, X_test, _, y_test) = digits_run
    print(f"digits: test accuracy {run.test_accuracy:.4f}, trained in {run.seconds:.2f} s")
    assert run.test_accuracy >= 0.95
    assert run.test_accuracy == digits_mlp.accuracy(run.model, X_test, y_test)
    assert f"test accuracy {run.test_accuracy:.4f}" in out
    assert run.seconds > 0 and f"trained 20 epochs in {run.seconds:.2f} s" in out
    # stderr is not a terminal here: ten plain progress lines, no carriage returns
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 10 and lines[-1].startswith("epoch 20/20 [" + "#" * 30 + "]")


@pytest.mark.slow
def test_digits_mlp_saved_parameters_restore_identical_predictions(digits_run):
    run, out, _, path, (_, X_test, _, _) = digits_run
    assert "identical outputs" in out
    with np.load(path) as saved:
        assert sorted(saved.files) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    restored = digits_mlp.load_parameters(path)
    assert restored is not run.model
    assert np.array_equal(restored(X_test), run.model(X_test))
    assert np.array_equal(digits_mlp.predict(restored, X_test),
                          digits_mlp.predict(run.model, X_test))
    untrained = digits_mlp.build_model()
    assert not np.array_equal(untrained(X_test), run.model(X_test))


# ---------------------------------------------------------------- the progress bar

class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_writes_a_line_per_tenth_off_a_terminal():
    stream = io.StringIO()
    bar = digits_mlp.ProgressBar(25, stream=stream)
    for done in range(1, 26):
        bar.update(done, f"loss {1.0 / done:.3f}")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [line.split()[1] for line in lines] == [
        "3/25", "5/25", "8/25", "10/25", "13/25", "15/25", "18/25", "20/25", "23/25", "25/25"]
    assert lines[-1].startswith("epoch 25/25 [" + "#" * 30 + "]")
    assert lines[-1].endswith("loss 0.040")


def test_progress_bar_redraws_one_line_on_a_terminal():
    stream = Terminal()
    bar = digits_mlp.ProgressBar(3, stream=stream, width=6)
    for done in range(1, 4):
        bar.update(done, "long note" if done == 1 else "")
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    first, second, third = text.rstrip("\n").split("\r")[1:]
    assert first.endswith("long note") and len(second) == len(first)  # blanks cover the note
    assert third.startswith("epoch 3/3 [######]")
