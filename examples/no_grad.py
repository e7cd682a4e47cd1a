"""`torch.no_grad()` and `.detach()`, the srcgrad way.

PyTorch:  with torch.no_grad(): ...         srcgrad:  with srcgrad.no_grad(): ...
          t.detach()                                  srcgrad.detach(t), srcgrad.stop_gradient(t)

srcgrad's markers go inside the differentiated function: the code runs as written and the
values it marks carry no gradient. The autograd tutorial prints `(x ** 2).requires_grad`,
True, and False inside `torch.no_grad()`; srcgrad's values hold no such flag, and the
gradient shows the same thing: 2x through x ** 2, zeros when x ** 2 is computed under
no_grad. Updating parameters needs no no_grad: the update is ordinary code outside the
differentiated function (examples/gradient_descent.py).

Run it:  python examples/no_grad.py
"""

import numpy as np

import srcgrad


def scaled_loss(w, x):
    with srcgrad.no_grad():
        scale = np.abs(x).max()  # runs, but carries no gradient
    target = srcgrad.detach(w * 2.0)  # a constant as far as the gradient is concerned
    return ((w * x / scale - target) ** 2).sum()


def squares(x):
    """x ** 2 carries a gradient (in PyTorch, `(x ** 2).requires_grad` is True)."""
    y = x**2
    return y.sum()


def squares_under_no_grad(x):
    """The same under no_grad: x ** 2 carries none (False inside `torch.no_grad()`)."""
    with srcgrad.no_grad():
        y = x**2
    return y.sum()


def main() -> None:
    x = np.array([1.0, 2.0, -4.0])
    print(f"gradient of (x ** 2).sum(): {srcgrad.grad(squares)(x)}")
    print(f"the same under no_grad: {srcgrad.grad(squares_under_no_grad)(x)}")

    w = np.array([0.5, -1.0, 2.0])
    print(f"gradient of scaled_loss: {srcgrad.grad(scaled_loss)(w, x)}")
    print(srcgrad.grad(scaled_loss).source)
    print(srcgrad.grad(squares_under_no_grad).source)


if __name__ == "__main__":
    main()
