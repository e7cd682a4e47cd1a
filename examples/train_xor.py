"""The autograd tutorial's one-hidden-layer network (2-2-1, sigmoid, MSE on XOR), trained
for 5000 epochs with SGD, the srcgrad way: differentiate the loss with respect to the model.

PyTorch:  loss = criterion(model(X), y); optimizer.zero_grad(); loss.backward(); optimizer.step()
srcgrad:  grads = srcgrad.grad(loss)(model, X, y); optimizer.step(grads)

The tutorial's network starts from PyTorch's random weights, so the numbers it prints (the
loss from 0.250029 at epoch 500 down to 0.249923 at epoch 5000, first-layer weight
gradients of order 1e-4) cannot be reproduced. This script starts from seeded weights,
drawn as torch.nn.Linear draws them, and prints its own, with the same picture: the loss
sits near 0.25, the loss of answering 0.5 for every input, and creeps down, and the
first-layer gradients are small.

Run it:  python examples/train_xor.py
"""

import numpy as np

import srcgrad
from srcgrad.optim import SGD


class Linear:
    """y = x W^T + b, initialised like torch.nn.Linear (uniform in +-1/sqrt(fan_in))."""

    def __init__(self, n_in, n_out, rng):
        bound = 1.0 / np.sqrt(n_in)
        self.weight = rng.uniform(-bound, bound, (n_out, n_in))
        self.bias = rng.uniform(-bound, bound, n_out)

    def __call__(self, x):
        return x @ self.weight.T + self.bias


class Net:
    def __init__(self, rng):
        self.fc1 = Linear(2, 2, rng)
        self.fc2 = Linear(2, 1, rng)

    def __call__(self, x):
        h = 1.0 / (1.0 + np.exp(-self.fc1(x)))
        return 1.0 / (1.0 + np.exp(-self.fc2(h)))


def loss(model, X, y):
    return ((model(X) - y) ** 2).mean()


X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def train(epochs=5000, lr=0.1, seed=0, report=500):
    model = Net(np.random.default_rng(seed))
    optimizer = SGD(model, lr=lr)
    value_and_gradient = srcgrad.value_and_grad(loss)
    history = []
    for epoch in range(1, epochs + 1):
        value, grads = value_and_gradient(model, X, Y)
        optimizer.step(grads)
        if epoch % report == 0:  # the loss before this epoch's step, as loss.item() is
            history.append((epoch, float(value)))
    return model, history, grads


def main() -> None:
    _, history, grads = train()
    for epoch, value in history:
        print(f"Epoch {epoch}, Loss: {value}")
    print("Gradients of the first layer weights:")
    print(grads.fc1.weight)


if __name__ == "__main__":
    main()
