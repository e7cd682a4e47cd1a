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


# The tutorial draws x with torch.randn(3) and prints this y, reached after ten doublings
# (y = 1024 x, as the x.grad it prints, 1024 v, shows); so its x was this y / 1024.
TUTORIAL_Y = np.array([228.6181, -1148.1552, 1098.7129])


def main() -> None:
    """Print the tutorial's y and x.grad = 1024 v = [102.4, 1024, 0.1024] from its x, then
    the same for a fresh random x, which takes its own number k of doublings: 2**k v."""
    v = np.array([0.1, 1.0, 0.0001])
    with np.printoptions(precision=4, suppress=True):
        x = TUTORIAL_Y / 1024  # dividing by a power of two is exact
        print(f"y: {seed_loop(x)}")
        print(f"x.grad: {srcgrad.vjp(seed_loop)(x, v)}")

        x = np.random.default_rng(0).standard_normal(3)
        y = seed_loop(x)
        doublings = round(np.log2(np.linalg.norm(y) / np.linalg.norm(x)))
        print(f"a random x: y: {y} after {doublings} doublings")
        print(f"x.grad: {srcgrad.vjp(seed_loop)(x, v)}")


if __name__ == "__main__":
    main()
