"""A model whose submodules are declared by annotation, and losses over it and over a model
holding a list of differently typed layers (used by tests/test_module_resolution.py)."""

import numpy as np

from srcgrad import nn


class TwoLayer(nn.Module):
    fc1: nn.Linear
    fc2: nn.Linear

    def __init__(self, rng=0):
        self.fc1 = nn.Linear(3, 4, rng=rng)
        self.fc2 = nn.Linear(4, 2, rng=rng + 1)

    def forward(self, x):
        return self.fc2(np.tanh(self.fc1(x)))


class Stack(nn.Module):
    def __init__(self, widths, rng=0):
        self.blocks = []
        for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
            self.blocks += [nn.Linear(n_in, n_out, rng=rng + i), nn.Tanh()]
        self.head = nn.Linear(widths[-1], 1, rng=rng + 99)

    def forward(self, x):
        first = self.blocks[0](x)  # a constant index into the list
        for block in self.blocks:
            x = block(x)
        return self.head(x) + 0.1 * np.mean(first)


def loss(model: TwoLayer, x):
    return np.sum(model(x) ** 2)


def stack_loss(model, x):
    return np.mean(model(x) ** 2)
