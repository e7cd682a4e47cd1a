"""A 64-64-10 ReLU network on scikit-learn's 8x8 handwritten digits, trained with srcgrad.

The 1797 images are split 75/25 (stratified, seeded) into training and test sets; the model
is an `srcgrad.nn.Sequential`, the loss `nn.cross_entropy`, and each minibatch step is

    optimizer.step(srcgrad.grad(loss)(model, X_batch, labels_batch))

A progress bar over the epochs goes to stderr. After training the parameters are saved
with `np.savez(path, **model.state_dict())` and loaded into a fresh model, which must
predict exactly what the trained one does.

Run it (scikit-learn comes with `pip install "srcgrad[examples]"`):

    python examples/digits_mlp.py [--epochs 20] [--seed 0] [--save digits_mlp.npz]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import srcgrad
from srcgrad import nn
from srcgrad.optim import Adam


class ProgressBar:
    """A progress bar over `total` steps, written to `stream` (standard error by default).

    On a terminal it redraws one line in place. Anywhere else (a pipe, a log file, CI) it
    writes a plain line at each tenth of the way, so logs hold a few readable lines rather
    than carriage returns.
    """

    def __init__(self, total: int, stream=None, width: int = 30, label: str = "epoch"):
        self.total = max(int(total), 1)
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.label = label
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._tenths_written = 0
        self._last_length = 0
        self._start = time.perf_counter()

    def update(self, done: int, note: str = "") -> None:
        """Show that `done` of the `total` steps are finished, with `note` after the bar."""
        filled = self.width * done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.perf_counter() - self._start
        count = f"{done:>{len(str(self.total))}}/{self.total}"
        line = f"{self.label} {count} [{bar}] {elapsed:5.1f}s {note}".rstrip()
        if self.interactive:
            padding = " " * max(self._last_length - len(line), 0)
            self.stream.write("\r" + line + padding)
            self._last_length = len(line)
        else:
            tenths = 10 * done // self.total
            if tenths <= self._tenths_written and done < self.total:
                return
            self._tenths_written = tenths
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line on a terminal; elsewhere every line already ended."""
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------- data and model

def load_data(seed: int = 0, test_size: float = 0.25):
    """(X_train, X_test, y_train, y_test): pixels scaled to [0, 1], integer labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.data.astype(np.float64) / 16.0
    return train_test_split(images, digits.target, test_size=test_size,
                            random_state=seed, stratify=digits.target)


def build_model(hidden: int = 64, seed: int = 0) -> nn.Sequential:
    """Linear(64, hidden), ReLU, Linear(hidden, 10), initialised from `seed`."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(64, hidden, rng=rng), nn.ReLU(),
                         nn.Linear(hidden, 10, rng=rng))


def loss(model, images, labels):
    return nn.cross_entropy(model(images), labels)


def predict(model, images) -> np.ndarray:
    return np.argmax(model(images), axis=1)


def accuracy(model, images, labels) -> float:
    return float(np.mean(predict(model, images) == labels))


# ---------------------------------------------------------------- training

@dataclass
class TrainingRun:
    """What `train` returns: the model, its final test accuracy, the training wall time in
    seconds, and (epoch, mean training loss, test accuracy) for every epoch."""
    model: nn.Sequential
    test_accuracy: float
    seconds: float
    history: list[tuple[int, float, float]] = field(default_factory=list)


def train(data, epochs: int = 20, batch_size: int = 64, lr: float = 1e-2, hidden: int = 64,
          seed: int = 0, progress: bool = True) -> TrainingRun:
    """Train with Adam on shuffled minibatches of `data` (what `load_data` returns)."""
    X_train, X_test, y_train, y_test = data
    rng = np.random.default_rng(seed)
    model = build_model(hidden, seed)
    optimizer = Adam(model, lr=lr)
    loss_and_grad = srcgrad.value_and_grad(loss)
    bar = ProgressBar(epochs) if progress else None
    history = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X_train))
        losses = []
        for first in range(0, len(order), batch_size):
            batch = order[first:first + batch_size]
            value, grads = loss_and_grad(model, X_train[batch], y_train[batch])
            optimizer.step(grads)
            losses.append(value)
        history.append((epoch, float(np.mean(losses)), accuracy(model, X_test, y_test)))
        if bar is not None:
            bar.update(epoch, f"loss {history[-1][1]:.4f}  test accuracy {history[-1][2]:.3f}")
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    return TrainingRun(model, history[-1][2], seconds, history)


def save_parameters(model: nn.Module, path) -> None:
    """Write the model's parameters to `path` in .npz format, one array per dotted name."""
    with open(path, "wb") as file:  # a file object: np.savez would append ".npz" to a name
        np.savez(file, **model.state_dict())


def load_parameters(path, hidden: int = 64) -> nn.Sequential:
    """A fresh model of the `build_model(hidden)` shape holding the parameters in `path`."""
    model = build_model(hidden)
    with np.load(path) as saved:
        model.load_state_dict(saved)
    return model


def main(argv=None) -> TrainingRun:
    """Train, report, save and reload as the command line asks; returns the run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="passes over the training set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, init, shuffles")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam's learning rate")
    parser.add_argument("--hidden", type=int, default=64, help="width of the hidden layer")
    parser.add_argument("--save", default="digits_mlp.npz", help="where to save the parameters")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")

    data = load_data(args.seed)
    X_train, X_test = data[:2]
    print(f"{len(X_train)} training and {len(X_test)} test images of 8x8 digits")
    run = train(data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                hidden=args.hidden, seed=args.seed, progress=not args.no_progress)
    print(f"trained {args.epochs} epochs in {run.seconds:.2f} s")
    print(f"test accuracy {run.test_accuracy:.4f}")

    save_parameters(run.model, args.save)
    restored = load_parameters(args.save, args.hidden)
    same = np.array_equal(restored(X_test), run.model(X_test))
    print(f"saved to {args.save}; a fresh model loaded from it gives "
          f"{'identical' if same else 'DIFFERENT'} outputs on the test set")
    if not same:
        raise SystemExit(1)
    return run


if __name__ == "__main__":
    main()
