"""`grad_fn`, the recorded graph, the srcgrad way: read the emitted derivative.

PyTorch records each operation as it runs and shows the node that made a tensor:
`print(y.grad_fn)` gives `<AddBackward0 object at ...>`, `out.grad_fn` a MeanBackward node.
srcgrad records nothing while your code runs. The backward pass is Python source written
before anything runs, one block per line of your function in reverse, each under a comment
naming the line it differentiates: where PyTorch has AddBackward, MulBackward and
MeanBackward nodes, srcgrad has the blocks for `y = x + 2`, `z = y * y * 3` and
`out = z.mean()`.

PyTorch:  print(y.grad_fn); out.backward(); print(x.grad)
srcgrad:  print(srcgrad.grad(f).source); print(srcgrad.grad(f)(x))

`a.requires_grad_(True)` has no counterpart on values: what gets a gradient is the argument
named in `wrt=`, and srcgrad works out which other values need one.

Run it:  python examples/inspect_graph.py
Or from the shell:  srcgrad show examples/inspect_graph.py:mean_of_cubes
"""

import numpy as np

import srcgrad


def mean_of_cubes(x):
    """The autograd tutorial: y = x + 2, z = 3 y^2, out = z.mean()."""
    y = x + 2
    z = y * y * 3
    out = z.mean()
    return out


def sum_of_squares(a):
    """The autograd tutorial: b = (a * a).sum(), after `a.requires_grad_(True)`."""
    b = (a * a).sum()
    return b


def squared_quadratic(x):
    """The autograd module: y = x^2 + 2x + 1, loss = y^2."""
    y = x**2 + 2 * x + 1
    loss = y**2
    return loss


def main() -> None:
    x = np.ones((2, 2))
    print(x)
    y = x + 2
    print(y)
    z = y * y * 3
    out = z.mean()
    print(z, out)
    print(srcgrad.grad(mean_of_cubes).source)
    print(f"x.grad:\n{srcgrad.grad(mean_of_cubes)(x)}")

    a = np.random.default_rng(0).standard_normal((2, 2))
    a = (a * 3) / (a - 1)
    print(srcgrad.grad(sum_of_squares, wrt="a").source)
    print(f"a.grad (2a):\n{srcgrad.grad(sum_of_squares, wrt='a')(a)}")

    print(srcgrad.grad(squared_quadratic).source)
    print(f"x.grad: {srcgrad.grad(squared_quadratic)(3.0)}")


if __name__ == "__main__":
    main()
