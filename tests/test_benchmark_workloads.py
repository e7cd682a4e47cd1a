"""The benchmark workloads are right: srcgrad's gradient equals the hand-written one, and
the hand-written one matches central finite differences. Small sizes, no timing, no peers."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))

import workloads

CASES = list(workloads.cases(test=True))


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _scalar_objective(case):
    """The primal as a scalar function of its wrt arguments (for a vjp, <v, f(x)>)."""
    positions = case.wrt_positions

    def objective(*wrt_values):
        args = list(case.args)
        for position, value in zip(positions, wrt_values, strict=True):
            args[position] = value
        output = case.workload.primal(*args)
        if case.cotangent is not None:
            return float(np.sum(case.cotangent * output))
        return float(output)

    return objective


def test_every_workload_has_a_test_case():
    assert {case.workload.key for case in CASES} == {"W1", "W2", "W3", "W4", "W5", "W6"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_srcgrad_equals_the_hand_written_gradient(case):
    got = _as_tuple(case.srcgrad_derivative()(*case.grad_args))
    want = case.hand_gradient()
    assert len(got) == len(want) == len(case.workload.wrt)
    for g, w in zip(got, want, strict=True):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12 * np.max(np.abs(w)))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_hand_written_gradient_matches_finite_differences(case):
    rng = np.random.default_rng(1)
    objective = _scalar_objective(case)
    point = [case.args[p] for p in case.wrt_positions]
    gradient = case.hand_gradient()
    step = 1e-6
    for _ in range(3):
        direction = [rng.normal(size=np.shape(value)) for value in point]
        if isinstance(point[0], float):
            direction = [float(d) for d in direction]
        plus = objective(*(p + step * d for p, d in zip(point, direction, strict=True)))
        minus = objective(*(p - step * d for p, d in zip(point, direction, strict=True)))
        numeric = (plus - minus) / (2 * step)
        analytic = sum(float(np.sum(g * d)) for g, d in zip(gradient, direction, strict=True))
        assert numeric == pytest.approx(analytic, rel=1e-6, abs=1e-8)


def test_hand_written_gradient_leaves_its_inputs_alone():
    for case in CASES:
        before = [np.copy(a) for a in case.grad_args]
        case.hand_gradient()
        for old, new in zip(before, case.grad_args, strict=True):
            np.testing.assert_array_equal(old, new)


def test_the_twenty_line_function_compiles_to_its_gradient():
    """The compile-time benchmark's function (benchmarks/twenty_lines.py) is 20 lines,
    and its gradient matches finite differences (on both sides of its `if`)."""
    import inspect

    import twenty_lines

    import srcgrad

    assert len(inspect.getsource(twenty_lines.model_loss).splitlines()) == 20
    args = list(twenty_lines.inputs(np.random.default_rng(0)))
    for scale in (1.0, 0.05):  # the data loss over 10 (penalty halved), then under
        case = [*args[:4], args[4] * scale, *args[5:]]
        srcgrad.check_grad(twenty_lines.model_loss, *case, wrt=twenty_lines.WRT)
    timing = twenty_lines.compile_times(repetitions=2)
    assert timing["lines"] == 20 and timing["samples"] == 2
    assert 0 < timing["min_s"] <= timing["median_s"]


def test_ratios_pair_the_samples_of_one_repetition():
    """A machine that slows down for a while slows both samples of a repetition: the
    ratio of each pair stays, where the ratio of the medians would swing with when the
    slow spell came (here it would say 0.55)."""
    import report

    rows = {"hand": {"per_call": [1.0, 1.0, 2.0, 2.0, 2.0], "median_s": 2.0},
            "srcgrad": {"per_call": [1.1, 1.1, 1.1, 2.2, 2.2], "median_s": 1.1},
            "other": {"median_s": 3.0}}  # no samples to pair: the ratio of the medians
    report.add_ratios(rows)
    assert rows["srcgrad"]["ratio_hand"] == pytest.approx(1.1)
    assert rows["hand"]["ratio_hand"] == 1.0
    assert rows["other"]["ratio_hand"] == pytest.approx(1.5)
    assert "ratio_primal" not in rows["srcgrad"]  # no primal row


def test_a_target_between_the_quartiles_of_the_paired_ratios_says_so():
    import report

    def document(per_call):
        rows = {"hand": {"per_call": [1.0] * 5, "median_s": 1.0},
                "srcgrad": {"per_call": per_call, "median_s": sorted(per_call)[2]}}
        report.add_ratios(rows)
        return {"results": [{"workload": "W6", "case": "W6 n=10", "rows": rows}]}

    noisy = dict((t, v) for t, _, v in report.targets(document([0.9, 0.94, 1.01, 1.06, 1.1])))
    assert noisy["W6 n=10: srcgrad <= 1.0x hand"] == (
        "missed (within this run's noise: quartiles 0.92-1.08)")
    steady = dict((t, v) for t, _, v in report.targets(document([1.04, 1.05, 1.05, 1.06, 1.06])))
    assert steady["W6 n=10: srcgrad <= 1.0x hand"] == "missed"
