"""What emitted derivative code imports as ``rt``: array backends and adjoint helpers.

Emitted code calls ``xp = rt.namespace(x=x, W=W)`` once per call and then every kernel
and helper as ``xp.<name>(...)``. The runtime holds no AD logic and imports neither CuPy
(loaded lazily on first use) nor the compiler.
"""

from .adjoints import NonScalarOutputError, SharedMemoryError
from .backend import NUMPY, Backend, MixedBackendError, get_backend, namespace, register_kernel
from .strict import StrictArray, from_strict, to_strict

__all__ = [
    "namespace",
    "get_backend",
    "register_kernel",
    "Backend",
    "NUMPY",
    "MixedBackendError",
    "StrictArray",
    "to_strict",
    "from_strict",
    "NonScalarOutputError",
    "SharedMemoryError",
]
