"""A second user module: functions that the programs in `calls_and_data.py` import.

srcgrad differentiates these into their own derivative functions in the emitted module and
runs each with this module's globals (so `_LEAK` below must be seen from here, not from the
caller's module).
"""

import numpy as np

_LEAK = 0.1


def affine(W, x, b):
    return W @ x + b


def softplus(x):
    return np.log1p(np.exp(x))


def leaky(x):
    return np.maximum(x, _LEAK * x)


def mse(prediction, target):
    difference = prediction - target
    return np.mean(difference * difference)


def scaled_tanh(x, scale=2.0):
    return scale * np.tanh(x / scale)


def layer(x, W, b, activate=True):
    z = W @ x + b
    if activate:
        return np.tanh(z)
    return z


def softplus_times_input(x):
    return softplus(x) * x


def split_halves(x):
    half = x.shape[0] // 2
    return x[:half], x[half:]


def predict(params, x):
    return params["W"] @ x + params["b"]
