"""The autograd tutorial's one-hidden-layer network (2-2-1, sigmoid, MSE on XOR), trained
for 5000 epochs with SGD, the srcgrad way: differentiate the loss with respect to the model.

PyTorch:  loss = criterion(model(X), y); optimizer.zero_grad(); loss.backward(); optimizer.step()
srcgrad:  grads = srcgrad.grad(loss)(model, X, y); optimizer.step(grads)

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
    gradient = srcgrad.grad(loss)
    history = []
    for epoch in range(1, epochs + 1):
        grads = gradient(model, X, Y)
        optimizer.step(grads)
        if epoch % report == 0:
            history.append((epoch, loss(model, X, Y)))
    return model, history, grads


def main() -> None:
    model, history, grads = train()
    for epoch, value in history:
        print(f"Epoch {epoch}, Loss: {value}")
    print("Gradients of the first layer weights:")
    print(grads.fc1.weight)


if __name__ == "__main__":
    main()
