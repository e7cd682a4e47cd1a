"""srcgrad: ahead-of-time, source-to-source automatic differentiation for Python/NumPy.

    @srcgrad.grad(wrt=("x", "y"))
    def f(x, y):
        return x * y + y ** 2

    f(2.0, 3.0)      # (3.0, 8.0)
    print(f.source)  # the emitted gradient, as Python you can read

The public names are loaded on first use, so that emitted modules, which import only
`srcgrad.runtime`, never load the compiler.
"""

from srcgrad._version import __version__

__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "jacobian",
    "hessian",
    "hvp",
    "show",
    "stop_gradient",
    "detach",
    "no_grad",
    "check_grad",
    "Derivative",
    "SrcgradError",
    "__version__",
]

_LAZY = {
    "grad": "srcgrad.api",
    "value_and_grad": "srcgrad.api",
    "vjp": "srcgrad.api",
    "jvp": "srcgrad.api",
    "jacobian": "srcgrad.composites",
    "hessian": "srcgrad.composites",
    "hvp": "srcgrad.composites",
    "show": "srcgrad.api",
    "Derivative": "srcgrad.api",
    "stop_gradient": "srcgrad.control",
    "detach": "srcgrad.control",
    "no_grad": "srcgrad.control",
    "SrcgradError": "srcgrad.errors",
    "check_grad": "srcgrad.testing",
}


_SUBMODULES = frozenset({"optim", "nn", "extend", "testing", "runtime", "errors"})


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"srcgrad.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'srcgrad' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
