"""Markers users write inside differentiated functions to steer the derivative.

They are ordinary functions at run time; the compiler recognises them by identity.
This module imports nothing, so rule tables can refer to it without import cycles.
"""

__all__ = ["stop_gradient"]


def stop_gradient(x):
    """Return `x` unchanged; inside a differentiated function no gradient flows through it
    (PyTorch's `.detach()`)."""
    return x
