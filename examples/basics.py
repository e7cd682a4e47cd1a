"""The seed tutorials' first examples, the srcgrad way.

Run it:  python examples/basics.py
Or generate a gradient module:  srcgrad grad examples/basics.py:f --wrt x,y
"""

import numpy as np

import srcgrad


def f(x, y):
    """Example 1: z = x * y + y ** 2."""
    z = x * y + y**2
    return z


def polynomial(x):
    """Exercise 1: y = 3x^3 + 2x^2 + x."""
    return 3 * x**3 + 2 * x**2 + x


def quadratic_loss(w):
    """Exercise 2: loss = (w - 5)^2."""
    return (w - 5) ** 2


def squared_quadratic(x):
    """The autograd module: y = x^2 + 2x + 1, loss = y^2."""
    y = x**2 + 2 * x + 1
    loss = y**2
    return loss


def mean_of_cubes(x):
    """The autograd tutorial: y = x + 2, z = 3 y^2, out = z.mean()."""
    y = x + 2
    z = y * y * 3
    out = z.mean()
    return out


def linear_loss(input_tensor, weight, bias):
    """Example 2: a 1x1 linear layer and loss = (output - 2)^2."""
    output = input_tensor @ weight.T + bias
    loss = ((output - 2.0) ** 2).sum()
    return loss


def square(x):
    """Computing gradients: y = x^2 at x = [2.0], whose gradient PyTorch prints as
    tensor([4.]). Like PyTorch's backward(), grad takes a one-element y as a scalar."""
    y = x**2
    return y


def main() -> None:
    dx, dy = srcgrad.grad(f, wrt=("x", "y"))(2.0, 3.0)
    print(f"Gradient of x: {dx}")
    print(f"Gradient of y: {dy}")

    print(f"Gradient of x: {srcgrad.grad(polynomial)(3.0)}")

    w = 1.0
    learning_rate = 0.1
    w = w - learning_rate * srcgrad.grad(quadratic_loss)(w)
    print(f"Updated value of w: {w}")

    print(f"x.grad: {srcgrad.grad(squared_quadratic)(3.0)}")

    x = np.ones((2, 2))
    print(f"d(out)/dx:\n{srcgrad.grad(mean_of_cubes)(x)}")

    input_tensor = np.array([[1.0]])
    weight = np.array([[0.5]])
    bias = np.array([-0.25])
    grads = srcgrad.grad(linear_loss, wrt=(0, 1, 2))(input_tensor, weight, bias)
    for name, value in zip(("input_tensor", "weight", "bias"), grads, strict=True):
        print(f"Gradient of {name}: {value}")

    print(f"x.grad: {srcgrad.grad(square)(np.array([2.0]))}")


if __name__ == "__main__":
    main()
