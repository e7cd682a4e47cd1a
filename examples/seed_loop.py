"""The autograd tutorial's data-dependent loop, the srcgrad way.

PyTorch:  y = x * 2; while y.data.norm() < 1000: y = y * 2; y.backward(v); x.grad
srcgrad:  srcgrad.vjp(seed_loop)(x, v)

Run it:  python examples/seed_loop.py
Read the emitted code:  srcgrad grad examples/seed_loop.py:seed_loop --kind vjp
"""

import numpy as np

import srcgrad


def seed_loop(x):
    y = x * 2
    while np.linalg.norm(y) < 1000:
        y = y * 2
    return y


def main() -> None:
    x = np.random.default_rng(0).standard_normal(3)
    y = seed_loop(x)
    print(y)
    v = np.array([0.1, 1.0, 0.0001])
    print(srcgrad.vjp(seed_loop)(x, v))


if __name__ == "__main__":
    main()
