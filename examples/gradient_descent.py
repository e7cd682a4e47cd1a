"""A gradient-descent step on loss = (w - 5)^2 from w = 1 with learning rate 0.1 (exercise 2
of the autograd basics tutorial), the srcgrad way.

PyTorch:
    w = torch.tensor(1.0, requires_grad=True)
    loss = (w - 5)**2
    loss.backward()
    with torch.no_grad():
        w -= learning_rate * w.grad
srcgrad:
    w = w - learning_rate * srcgrad.grad(quadratic_loss)(w)

The gradient is 2 (w - 5) = -8, so w becomes 1 + 0.8 = 1.8. It is an ordinary value that a
function returns, so the step is ordinary arithmetic outside the differentiated function
and needs no no_grad. srcgrad.optim.SGD takes the same step in place on an array.

PyTorch accumulates: a second loss.backward() before zero_grad() adds into w.grad, giving
-16, and a step from it moves w to 2.6. srcgrad's gradient functions return a fresh value
on every call; an optimizer's accumulate(), step() and zero_grad() give PyTorch's buffer
where you want one (to sum the gradients of several batches).

Run it:  python examples/gradient_descent.py
"""

import numpy as np

import srcgrad
from srcgrad.optim import SGD


def quadratic_loss(w):
    return (w - 5) ** 2


def main() -> None:
    learning_rate = 0.1
    gradient = srcgrad.grad(quadratic_loss)

    w = 1.0
    w = w - learning_rate * gradient(w)
    print(f"Updated value of w: {w}")

    w = np.array(1.0)
    optimizer = SGD(w, lr=learning_rate)
    optimizer.step(gradient(w))  # writes into w
    print(f"Updated value of w (SGD): {w}")

    w = np.array(1.0)
    optimizer = SGD(w, lr=learning_rate)
    print(f"Gradient, called twice: {gradient(w)}, {gradient(w)}")
    optimizer.accumulate(gradient(w))
    optimizer.accumulate(gradient(w))
    print(f"Accumulated twice, like two backward() calls: {optimizer.grad_buffer['params']}")
    optimizer.step()  # from the buffer: the step is twice as long
    print(f"Updated value of w without zero_grad: {w}")
    optimizer.zero_grad()
    print(f"After zero_grad: {optimizer.grad_buffer}")


if __name__ == "__main__":
    main()
