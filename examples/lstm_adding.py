"""An LSTM learns the adding problem, differentiated by srcgrad through its loop over time.

The adding problem (Hochreiter and Schmidhuber, 1997): each input sequence holds T pairs
(value, marker), values uniform in [0, 1), and exactly two markers set, one in each half
of the sequence. The target is the sum of the two marked values. Always answering the mean,
1.0, scores a mean squared error of 1/6; a network that finds and adds the marked values
scores near 0. The LSTM reads the sequence one step at a time in a plain Python loop in
`LSTM.forward`; srcgrad turns that loop into a forward loop that keeps what the backward
sweep needs and a reversed loop that runs the adjoints (backpropagation through time).

Run it:  python examples/lstm_adding.py [--steps 500] [--length 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import srcgrad
from srcgrad import nn
from srcgrad.optim import Adam

BASELINE_MSE = 1.0 / 6.0  # the variance of the target, the error of always answering 1.0
TOLERANCE = 0.04  # a prediction within this of the target counts as correct


def adding_problem(rng: np.random.Generator, count: int, length: int):
    """`count` sequences: inputs of shape (count, length, 2) and targets of shape (count,)."""
    values = rng.uniform(0.0, 1.0, (count, length))
    markers = np.zeros((count, length))
    rows = np.arange(count)
    markers[rows, rng.integers(0, length // 2, count)] = 1.0
    markers[rows, rng.integers(length // 2, length, count)] = 1.0
    return np.stack([values, markers], axis=-1), np.sum(values * markers, axis=1)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class LSTM(nn.Module):
    """One LSTM layer over (batch, time, features) inputs and a linear readout of the last
    hidden state. The four gates (input, forget, cell, output) share one pair of Linear
    layers whose outputs are sliced into quarters, as in torch.nn.LSTM."""

    def __init__(self, n_in: int, hidden: int, rng=None):
        rng = np.random.default_rng(rng)
        self.hidden = hidden
        self.input = nn.Linear(n_in, 4 * hidden, rng=rng)
        self.recurrent = nn.Linear(hidden, 4 * hidden, bias=False, rng=rng)
        self.readout = nn.Linear(hidden, 1, rng=rng)

    def forward(self, xs):
        n = self.hidden
        h = np.zeros((xs.shape[0], n))
        c = np.zeros((xs.shape[0], n))
        for t in range(xs.shape[1]):
            gates = self.input(xs[:, t]) + self.recurrent(h)
            i = sigmoid(gates[:, :n])
            f = sigmoid(gates[:, n:2 * n])
            g = np.tanh(gates[:, 2 * n:3 * n])
            o = sigmoid(gates[:, 3 * n:])
            c = f * c + i * g
            h = o * np.tanh(c)
        return self.readout(h)[:, 0]


def loss(model, xs, targets):
    return nn.mse_loss(model(xs), targets)


def evaluate(model, xs, targets) -> tuple[float, float]:
    """(mean squared error, fraction of predictions within TOLERANCE of the target)."""
    error = model(xs) - targets
    return float(np.mean(error * error)), float(np.mean(np.abs(error) < TOLERANCE))


def train(steps: int = 500, length: int = 10, hidden: int = 16, batch_size: int = 64,
          lr: float = 1e-2, seed: int = 0, report: int = 50, log=print):
    """Train on fresh batches for `steps` Adam steps; every `report` steps, log the mean
    training loss since the last report and the error on 1000 held-out sequences.
    Returns (model, [(step, training loss, held-out mse), ...], seconds)."""
    rng = np.random.default_rng(seed)
    held_out = adding_problem(np.random.default_rng(seed + 1), 1000, length)
    model = LSTM(2, hidden, rng)
    optimizer = Adam(model, lr=lr)
    loss_and_grad = srcgrad.value_and_grad(loss)
    curve, recent = [], []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        value, grads = loss_and_grad(model, *adding_problem(rng, batch_size, length))
        optimizer.step(grads)
        recent.append(value)
        if step % report == 0 or step == steps:
            mse, _ = evaluate(model, *held_out)
            curve.append((step, float(np.mean(recent)), mse))
            recent = []
            if log is not None:
                log(f"step {step:>5}  training loss {curve[-1][1]:.5f}  held-out mse {mse:.5f}")
    return model, curve, time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500, help="Adam steps, one batch each")
    parser.add_argument("--length", type=int, default=10, help="sequence length T")
    parser.add_argument("--hidden", type=int, default=16, help="LSTM state size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    model, _, seconds = train(steps=args.steps, length=args.length, hidden=args.hidden,
                              seed=args.seed)
    test = adding_problem(np.random.default_rng(args.seed + 2), 1000, args.length)
    mse, within = evaluate(model, *test)
    print(f"trained {args.steps} steps in {seconds:.2f} s")
    print(f"test mse {mse:.5f} (always answering 1.0 scores {BASELINE_MSE:.5f}); "
          f"{within:.1%} of the sums within {TOLERANCE}")


if __name__ == "__main__":
    main()
