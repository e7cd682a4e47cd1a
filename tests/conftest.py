import os
import sys
from pathlib import Path

import pytest

# The spec tables and their checker live beside the tests, not in the package.
sys.path.insert(0, str(Path(__file__).parent))

# SRCGRAD_TEST_BACKEND picks the backend every spec row is rerun on (rulespec.check_case):
# "strict" (the default: the CPU stand-in for CuPy), "cupy" (a GPU), or "dask".
BACKEND_ENV = "SRCGRAD_TEST_BACKEND"
BACKEND_NEEDS = {
    "strict": None,
    "cupy": 'a CUDA GPU and CuPy (pip install "srcgrad[gpu]")',
    "dask": 'Dask (pip install "srcgrad[dask]")',
}


def _backend_problem(name):
    """Why the tests cannot run on backend `name`, or None when they can."""
    if name not in BACKEND_NEEDS:
        return f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NEEDS)}"
    try:
        if name == "cupy":
            import cupy

            count = cupy.cuda.runtime.getDeviceCount()
            if count < 1:
                return "CuPy sees no GPU"
        elif name == "dask":
            import dask.array  # noqa: F401
    except (ImportError, RuntimeError) as error:  # no library, or CUDA failing to start
        return f"{type(error).__name__}: {error}"
    return None


# SRCGRAD_CHECK_CHANGES=1 checks, in every compilation, that each optimizer pass that says
# it changed nothing left the code as it was (a pass that misreports ends the
# optimization early; tests/test_optimizer_sweeps.py checks a sample on every run).
CHECK_CHANGES_ENV = "SRCGRAD_CHECK_CHANGES"


def pytest_configure(config):
    if os.environ.get(CHECK_CHANGES_ENV) == "1":
        from srcgrad.codegen import optimize

        optimize.CHECK_CHANGES = True
    name = os.environ.get(BACKEND_ENV, "").strip().lower() or "strict"
    problem = _backend_problem(name)
    if problem is not None:
        # Fail the whole run: a GPU run that silently skipped would pass for a green one.
        raise pytest.UsageError(
            f"{BACKEND_ENV}={name} needs {BACKEND_NEEDS.get(name) or 'a known backend'}, "
            f"but: {problem}")
