"""Second derivatives: Hessians and Hessian-vector products, forward mode over the emitted
gradient.

Run it:  python examples/hessian.py
"""

import numpy as np

import srcgrad


def rosenbrock(x):
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


def energy(x):
    return (np.tanh(x) ** 2).sum()


def main() -> None:
    x = np.array([0.5, -0.2, 1.3])
    print(srcgrad.hessian(rosenbrock)(x))
    v = np.array([1.0, 0.0, -1.0])
    print(srcgrad.hvp(rosenbrock)(x, v))
    print(srcgrad.hvp(energy).source)


if __name__ == "__main__":
    main()
