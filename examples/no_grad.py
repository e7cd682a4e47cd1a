"""`torch.no_grad()` and `.detach()`, the srcgrad way.

Run it:  python examples/no_grad.py
"""

import numpy as np

import srcgrad


def scaled_loss(w, x):
    with srcgrad.no_grad():
        scale = np.abs(x).max()  # runs, but carries no gradient
    target = srcgrad.detach(w * 2.0)  # a constant as far as the gradient is concerned
    return ((w * x / scale - target) ** 2).sum()


def main() -> None:
    w = np.array([0.5, -1.0, 2.0])
    x = np.array([1.0, 2.0, -4.0])
    print(srcgrad.grad(scaled_loss)(w, x))
    print(srcgrad.grad(scaled_loss).source)


if __name__ == "__main__":
    main()
