"""srcgrad: ahead-of-time, source-to-source automatic differentiation for Python/NumPy.

    @srcgrad.grad(wrt=("x", "y"))
    def f(x, y):
        return x * y + y ** 2

    f(2.0, 3.0)      # (3.0, 8.0)
    print(f.source)  # the emitted gradient, as Python you can read
"""

from srcgrad.api import Derivative, grad, jvp, show, value_and_grad, vjp
from srcgrad.control import stop_gradient
from srcgrad.errors import SrcgradError

__version__ = "0.1.0"

__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "show",
    "stop_gradient",
    "Derivative",
    "SrcgradError",
    "__version__",
]
