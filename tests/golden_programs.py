"""Functions whose emitted derivatives are pinned in tests/golden/."""

import numpy as np


def seed_example(x, y):
    z = x * y + y**2
    return z


def polynomial(x):
    return 3 * x**3 + 2 * x**2 + x


def broadcast_affine(x, w, b):
    h = x * w + b
    scaled = h / 2.0 - x
    return scaled[0, 1:] ** 2


def indexing(x, idx):
    picked = x[idx]
    window = x[1:, None]
    return picked * 2.0 + window[..., 0].T


def doubling_while(x):
    y = x * 2
    while np.linalg.norm(y) < 1000:
        y = y * 2
    return y


def tanh_rnn(h, W, U, xs):
    for x in xs:
        h = np.tanh(W @ h + U @ x)
    return (h ** 2).sum()


GOLDEN = {
    "seed_example": (seed_example, "grad", {"wrt": ("x", "y")}),
    "polynomial": (polynomial, "grad", {}),
    "broadcast_affine_vjp": (broadcast_affine, "vjp", {"wrt": (0, 1, 2)}),
    "indexing_vjp": (indexing, "vjp", {}),
    "polynomial_value_and_grad": (polynomial, "value_and_grad", {}),
    "doubling_while_vjp": (doubling_while, "vjp", {}),
    "tanh_rnn_grad": (tanh_rnn, "grad", {"wrt": ("h", "W", "U")}),
}

ARGUMENTS = {
    "seed_example": lambda: (2.0, 3.0),
    "polynomial": lambda: (1.5,),
    "broadcast_affine_vjp": lambda: (np.arange(6.0).reshape(2, 3), np.array([0.5, -1.0, 2.0]),
                                     0.25, np.ones(2)),
    "indexing_vjp": lambda: (np.arange(4.0), np.array([0, 0, 2]), np.ones(3)),
    "polynomial_value_and_grad": lambda: (1.5,),
    "doubling_while_vjp": lambda: (np.array([0.5, -1.2, 2.0]), np.array([0.1, 1.0, 0.0001])),
    "tanh_rnn_grad": lambda: (np.ones(3) * 0.1, np.eye(3) * 0.5, np.ones((3, 2)) * 0.2,
                              np.arange(8.0).reshape(4, 2) / 8),
}
