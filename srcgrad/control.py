"""Markers users write inside differentiated functions to steer the derivative.

They are ordinary functions at run time; the compiler recognises them by identity.
This module imports nothing, so rule tables can refer to it without import cycles.
"""

__all__ = ["stop_gradient", "detach", "no_grad"]


def stop_gradient(x):
    """Return `x` unchanged; inside a differentiated function no gradient flows through it
    (PyTorch's `.detach()`)."""
    return x


detach = stop_gradient


class no_grad:  # noqa: N801 - named like the PyTorch context manager it stands in for
    """`with srcgrad.no_grad():` inside a differentiated function: the block runs as usual,
    but nothing it assigns carries a gradient (PyTorch's `torch.no_grad()`)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False
