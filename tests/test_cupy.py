"""Derivatives on real CuPy arrays, and float32 kept float32 on every backend here.

The CuPy tests need a CUDA GPU and CuPy (`pip install "srcgrad[gpu]"`); elsewhere they are
skipped, saying why. The whole rule spec table and program corpus run on CuPy with

    SRCGRAD_TEST_BACKEND=cupy python -m pytest tests/test_rules_spec.py tests/test_corpus.py \
        tests/test_programs.py tests/test_cupy.py

which fails at once, rather than skipping, when CuPy or the GPU is missing (conftest.py).
The dtype tests run everywhere, on NumPy and on the strict stand-in for CuPy.
"""

from __future__ import annotations

import numpy as np
import pytest
from rulespec import check_on_backend

import srcgrad
import srcgrad.runtime as rt


def _gpu_problem():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "CuPy sees no GPU"
    except (ImportError, RuntimeError) as error:  # no CuPy, or CUDA failing to start
        return f"{type(error).__name__}: {error}"
    return None


GPU_PROBLEM = _gpu_problem()
needs_gpu = pytest.mark.skipif(
    GPU_PROBLEM is not None,
    reason=f'needs a CUDA GPU and CuPy (pip install "srcgrad[gpu]"): {GPU_PROBLEM}')


# -- programs --------------------------------------------------------------------------------

def mlp_loss(W1, b1, W2, X, y):
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2 - y) ** 2)


def relu_loss(W, X):
    return np.maximum(X @ W, 0.0).sum()


def logistic_loss(w, X, y):
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z)


def softmax_cross_entropy(W, X, Y):
    z = X @ W
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(log_p * Y).sum() / X.shape[0]


def reductions(x):
    return x.var() + np.linalg.norm(x) + x.max() + x[[0, 0, 1]].sum() + x.mean(axis=0).sum()


def _arguments(dtype, seed=0):
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.standard_normal(shape).astype(dtype)

    labels = np.eye(3, dtype=dtype)[rng.integers(0, 3, 16)]
    return {
        mlp_loss: (normal(4, 8), normal(8), normal(8, 2), normal(16, 4), normal(16, 2)),
        relu_loss: (normal(4, 3), normal(16, 4)),
        logistic_loss: (normal(4), normal(16, 4), (normal(16) > 0).astype(dtype)),
        softmax_cross_entropy: (normal(4, 3), normal(16, 4), labels),
        reductions: (normal(5, 3),),
    }


PROGRAMS = list(_arguments(np.float64))


# -- float32 stays float32 --------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "strict"])
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda f: f.__name__)
def test_float32_arguments_get_float32_derivatives(program, backend):
    args = _arguments(np.float32)[program]
    if backend == "strict":
        args = tuple(rt.to_strict(a) for a in args)
    gradient = srcgrad.grad(program)(*args)
    value, tangent = srcgrad.jvp(program)(*args, args[0])
    for result in (gradient, value, tangent):
        assert result.dtype == np.float32, (program.__name__, backend, result.dtype)
    if backend == "strict":
        assert isinstance(gradient, rt.StrictArray)
    reference = srcgrad.grad(program)(*_arguments(np.float64)[program])
    host = rt.from_strict(gradient) if backend == "strict" else gradient
    np.testing.assert_allclose(host, reference, rtol=2e-3, atol=2e-4)


# -- real CuPy -------------------------------------------------------------------------------

@needs_gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda f: f.__name__)
def test_programs_on_cupy_match_numpy(program, dtype):
    import cupy

    args = _arguments(dtype)[program]
    want = srcgrad.grad(program)(*args)
    got = srcgrad.grad(program)(*(cupy.asarray(a) for a in args))
    assert isinstance(got, cupy.ndarray) and got.dtype == dtype
    tolerance = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=tolerance, atol=tolerance)


@needs_gpu
def test_spec_rows_on_cupy_match_numpy():
    import importlib

    wanted = {"np_tanh(2, 3)", "matmul(2, 3)-(3, 4)", "sum(2, 3, 4)-(0, 2)-False",
              "logaddexp(3, 4)-(4,)", "einsum-ij,jk->ik", "unindex-repeated",
              "norm(3, 4)-None-1-False", "prod-one-zero", "where(3,)-(3,)-(3,)"}
    cases = []
    for module in ("arithmetic", "arrays", "elementwise", "helpers", "reductions"):
        cases += importlib.import_module(f"specs.{module}").CASES
    from corpus import calls_and_data, control_flow

    cases += control_flow.CASES + calls_and_data.CASES
    wanted |= {"rnn", "softmax_loops", "slot_repeated_indices-(3,)", "dict_of_params"}
    chosen = [case for case in cases if case.name in wanted]
    assert len(chosen) == len(wanted), sorted(wanted - {c.name for c in chosen})
    for case in chosen:
        check_on_backend(case, "cupy", rtol=1e-10, atol=1e-12)


@needs_gpu
def test_cupy_beside_numpy_is_refused_naming_the_arguments():
    import cupy

    with pytest.raises(rt.MixedBackendError, match=r"w is numpy, X is cupy"):
        srcgrad.grad(logistic_loss)(np.ones(4), cupy.ones((16, 4)), cupy.ones(16))
