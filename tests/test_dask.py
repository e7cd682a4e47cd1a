"""Emitted derivatives run on Dask arrays: lazily, chunk by chunk, with NumPy's numbers.

The rule spec tables and the program corpora run on Dask (floating arguments split into
two chunks along every axis, integer and boolean ones left NumPy) against NumPy, with a
scheduler that refuses to compute while the derivative runs, so that every result is
still lazy when it comes back. By default a quarter of the rows run (every fourth, in table
order); `SRCGRAD_TEST_BACKEND=dask python -m pytest tests/test_dask.py` runs them all
(and reruns every spec row of the other test modules on Dask too).

What Dask cannot run is listed in rulespec.UNSUPPORTED with the error the user sees; programs
that branch or loop on array values compute those values when they test them
(COMPUTES_TO_DECIDE), as any Dask program does.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import specs
from corpus import calls_and_data, control_flow
from rulespec import TEST_BACKEND, check_on_backend
from rulespec import UNSUPPORTED as UNSUPPORTED_ON

import srcgrad
import srcgrad.runtime as rt

REPO = Path(__file__).resolve().parents[1]


def _spec_cases():
    cases = []
    for module in pkgutil.iter_modules(specs.__path__):
        cases += list(getattr(importlib.import_module(f"specs.{module.name}"), "CASES", []))
    return cases


ALL_CASES = _spec_cases() + control_flow.CASES + calls_and_data.CASES

# What Dask cannot run, and why: rulespec.UNSUPPORTED['dask'].
UNSUPPORTED = UNSUPPORTED_ON["dask"]

# Programs whose `if`/`while`/`float()` reads an array value: Dask computes it there.
COMPUTES_TO_DECIDE = frozenset({
    "and_or_conditions", "and_value", "bisection_steps", "branch_all_positive",
    "branch_on_sum", "break_inner_only", "break_on_data", "break_out_of_while_in_for",
    "builtin_float", "call_in_branch", "call_with_returns_per_row", "chained_comparison",
    "continue_on_data", "double_until_large", "early_return_in_branch",
    "early_return_in_for_else", "everything_at_once", "first_large_row", "float_of_elements",
    "for_else", "grow_and_count", "halve_until_small", "ifexp_on_reduction", "ifexp_scalar",
    "inner_while_trips_vary", "leaky_relu_by_elements", "logsumexp_loops", "nested_ifs",
    "newton_sqrt_to_tolerance", "not_conditions", "or_value", "pass_in_branch",
    "return_from_while_in_for", "return_inside_loop_on_data", "returns_one_argument",
    "rows_branch_on_data", "running_max_ifexp", "scale_set_in_one_branch",
    "search_with_returns", "self_assignment_after_branch", "sign_branch", "slot_after_early_return",
    "slot_at_argmax", "swap_if_larger", "update_after_early_return", "while_else",
    "while_return", "while_true_break",
})

RUN_ALL = TEST_BACKEND == "dask"
SUPPORTED = [c for c in ALL_CASES if c.name not in UNSUPPORTED]
SAMPLE = SUPPORTED if RUN_ALL else SUPPORTED[::4]


class ComputedTooEarly(RuntimeError):
    pass


def refuse_to_compute(*args, **kwargs):
    raise ComputedTooEarly("the derivative computed a Dask array before the caller asked")


def lazily():
    return dask.config.set(scheduler=refuse_to_compute)


@pytest.mark.parametrize("case", SAMPLE, ids=[c.name for c in SAMPLE])
def test_case_on_dask_matches_numpy(case):
    computes = case.fn.__name__ in COMPUTES_TO_DECIDE
    check_on_backend(case, "dask", rtol=1e-9, atol=1e-12,
                     during=contextlib.nullcontext if computes else lazily)


def test_the_sample_is_broad():
    assert len(SAMPLE) >= 300
    kinds = {c.covers[0].__module__ if c.covers else "programs" for c in SAMPLE}
    assert len(kinds) >= 5, kinds


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_on_dask_fails_clearly(name):
    (case,) = [c for c in ALL_CASES if c.name == name]
    error, pattern = UNSUPPORTED[name]
    with pytest.raises(error, match=pattern):
        check_on_backend(case, "dask")


def test_programs_that_branch_on_data_still_match_numpy():
    # They compute to decide, so they run here without the refusing scheduler.
    cases = [c for c in ALL_CASES if c.fn.__name__ in COMPUTES_TO_DECIDE][::4]
    assert len(cases) >= 15
    for case in cases:
        check_on_backend(case, "dask")


# -- logistic regression over a chunked data set ---------------------------------------------

def logistic_loss(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def logistic_data(rows=4000, features=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-X @ rng.standard_normal(features)))) * 1.0
    w = rng.standard_normal(features) * 0.1
    return w, 0.25, X, y


def test_logistic_regression_gradient_on_chunks_matches_numpy():
    w, b, X, y = logistic_data()
    gradient = srcgrad.grad(logistic_loss, wrt=("w", "b"))
    want_w, want_b = gradient(w, b, X, y)
    Xd, yd = da.from_array(X, chunks=(500, 6)), da.from_array(y, chunks=500)
    with lazily():
        got_w, got_b = gradient(w, b, Xd, yd)
    assert isinstance(got_w, da.Array) and isinstance(got_b, da.Array)
    # The rows are reduced chunk by chunk: the graph reads each of the 8 chunks of X.
    assert len({key for key in dict(got_w.__dask_graph__()) if "array-" in str(key)}) >= 8
    got_w, got_b = dask.compute(got_w, got_b, scheduler="threads")
    np.testing.assert_allclose(got_w, want_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_b, want_b, rtol=1e-10, atol=1e-12)


def test_value_and_gradient_stay_lazy_until_computed():
    w, b, X, y = logistic_data(rows=600)
    Xd, yd = da.from_array(X, chunks=(200, 6)), da.from_array(y, chunks=200)
    with lazily():
        value, (gw, gb) = srcgrad.value_and_grad(logistic_loss, wrt=("w", "b"))(w, b, Xd, yd)
        _, tangent = srcgrad.jvp(logistic_loss, wrt="w")(w, b, Xd, yd, np.ones_like(w))
        with pytest.raises(ComputedTooEarly):
            float(value)  # the guard is live: asking for a number computes
    assert all(isinstance(v, da.Array) for v in (value, gw, gb, tangent))
    assert float(value) == pytest.approx(logistic_loss(w, b, X, y), rel=1e-12)
    assert float(tangent) == pytest.approx(
        float(srcgrad.grad(logistic_loss)(w, b, X, y).sum()), rel=1e-10)


def test_float32_stays_float32_on_dask():
    w, b, X, y = logistic_data(rows=100)
    X32 = da.from_array(X.astype(np.float32), chunks=(50, 6))
    gw = srcgrad.grad(logistic_loss)(w.astype(np.float32), np.float32(b), X32,
                                     y.astype(np.float32))
    assert gw.dtype == np.float32


def test_training_steps_mix_numpy_parameters_and_dask_data():
    w, b, X, y = logistic_data(rows=800)
    Xd, yd = da.from_array(X, chunks=(100, 6)), da.from_array(y, chunks=100)
    gradient = srcgrad.grad(logistic_loss, wrt=("w", "b"))
    w_np, b_np, w_da, b_da = w, b, w, b
    for _ in range(5):
        gw, gb = gradient(w_np, b_np, X, y)
        w_np, b_np = w_np - 0.5 * gw, b_np - 0.5 * gb
        gw, gb = dask.compute(*gradient(w_da, b_da, Xd, yd))
        w_da, b_da = w_da - 0.5 * gw, b_da - 0.5 * gb
    np.testing.assert_allclose(w_da, w_np, rtol=1e-10, atol=1e-12)


# -- backend selection -------------------------------------------------------------------------

def test_dask_arrays_select_the_dask_backend_and_numpy_beside_them_is_fine():
    x = da.ones(4, chunks=2)
    assert rt.namespace(x=x).name == "dask"
    assert rt.namespace(w=np.ones(4), X=x, lr=0.1, params={"b": np.zeros(2)}).name == "dask"
    assert rt.get_backend("dask") is rt.namespace(x=x)


def test_dask_beside_strict_or_cupy_is_refused_naming_the_arguments():
    class FakeCupyArray:
        pass

    FakeCupyArray.__module__ = "cupy"
    with pytest.raises(rt.MixedBackendError, match=r"x is dask, W is strict; .*from_array"):
        rt.namespace(x=da.ones(2), W=rt.to_strict(np.ones(2)))
    with pytest.raises(rt.MixedBackendError, match=r"x is dask, W is cupy; .*cupy.asarray"):
        rt.namespace(x=da.ones(2), W=FakeCupyArray())


def test_missing_dask_kernel_is_named_with_what_to_do():
    with pytest.raises(AttributeError, match=r"dask backend has no kernel 'argsort' .*compute"):
        _ = rt.get_backend("dask").argsort


def test_scatter_add_accumulates_repeated_and_lazy_indices():
    xp = rt.get_backend("dask")
    target = da.zeros((3, 4), chunks=2)
    xp.add_at(target, (np.array([0, 0, 2]), slice(1, 3)), da.ones((3, 2), chunks=1))
    xp.add_at(target, (da.from_array(np.array([1, 1])), 0), np.array([5.0, 7.0]))
    want = np.zeros((3, 4))
    np.add.at(want, (np.array([0, 0, 2]), slice(1, 3)), 1.0)
    np.add.at(want, (np.array([1, 1]), 0), np.array([5.0, 7.0]))
    np.testing.assert_array_equal(target.compute(), want)


def test_importing_srcgrad_needs_no_dask():
    code = ("import sys\n"
            "sys.modules['dask'] = None  # importing dask fails\n"
            "import numpy as np, srcgrad, srcgrad.runtime as rt\n"
            "assert srcgrad.grad(np.tanh) is not None and rt.namespace(x=np.ones(2)).name\n"
            "try:\n"
            "    rt.get_backend('dask')\n"
            "except ImportError as error:\n"
            "    assert 'pip install \"srcgrad[dask]\"' in str(error), error\n"
            "else:\n"
            "    raise SystemExit('expected ImportError')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


# -- a real cluster ----------------------------------------------------------------------------

def test_gradient_computes_on_a_local_cluster_of_worker_processes():
    distributed = pytest.importorskip("distributed")
    w, b, X, y = logistic_data(rows=3000)
    want_w, want_b = srcgrad.grad(logistic_loss, wrt=("w", "b"))(w, b, X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        Xd = client.persist(da.from_array(X, chunks=(500, 6)))
        yd = client.persist(da.from_array(y, chunks=500))
        got_w, got_b = client.compute(srcgrad.grad(logistic_loss, wrt=("w", "b"))(
            w, b, Xd, yd), sync=True)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(got_w, want_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_b, want_b, rtol=1e-10, atol=1e-12)


def test_example_trains_on_threads_and_a_cluster_and_matches_numpy():
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "dask_logistic_regression.py"),
         "--rows", "20000", "--chunks", "4", "--steps", "3", "--workers", "2"],
        capture_output=True, text=True, timeout=300, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("matches NumPy: True") == 2, done.stdout
