"""Numerical checking of derivatives: `check_grad`.

Compares srcgrad's derivatives of a function with central finite differences in float64:
in reverse mode by the dot-product test (<v, J u> from finite differences along a random
direction u, against <J^T v, u> from `srcgrad.vjp`), in forward mode by comparing
`srcgrad.jvp`'s J u with the same finite difference. Users check their own functions and
custom rules with it; srcgrad's own tests use the same method.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["check_grad", "GradientCheckError", "CheckResult"]


class GradientCheckError(AssertionError):
    """srcgrad's derivative and finite differences disagree."""


@dataclass(frozen=True)
class CheckResult:
    """The worst errors found for one argument in one mode."""

    argument: str
    mode: str
    numeric: float
    analytic: float

    @property
    def absolute_error(self) -> float:
        return abs(self.numeric - self.analytic)

    @property
    def relative_error(self) -> float:
        return self.absolute_error / max(abs(self.numeric), abs(self.analytic), 1e-300)

    def line(self) -> str:
        return (f"{self.argument:>12}  {self.mode:<4}  finite differences {self.numeric: .10e}  "
                f"srcgrad {self.analytic: .10e}  abs {self.absolute_error:.2e}  "
                f"rel {self.relative_error:.2e}")


def _float_array(value):
    return np.asarray(value, dtype=np.float64)


def _perturb(value, direction, step):
    if isinstance(value, numbers.Number) and not isinstance(value, np.ndarray):
        return float(value) + step * float(direction)
    return _float_array(value) + step * direction


def _inner(a, b) -> float:
    return float(np.sum(_float_array(a) * _float_array(b)))


def check_grad(function, *args, wrt=0, order: int = 1, modes=("fwd", "rev"), eps: float = 1e-6,
               rtol: float = 1e-5, atol: float = 1e-8, seed: int = 0) -> list[CheckResult]:
    """Check srcgrad's derivatives of `function` at `args` against finite differences.

    `wrt` is a parameter position or name, or a tuple of them. For each of them, and each
    mode in `modes` ("rev": `srcgrad.vjp`, "fwd": `srcgrad.jvp`), the directional
    derivative along a random direction is compared with a central difference of step
    `eps`. With `order=2` the second derivative is checked too: forward mode over the
    emitted vector-Jacobian product (`jvp(vjp(f))`) against central differences of that
    product along the same direction. Raises GradientCheckError naming the worst argument
    when |numeric - analytic| > atol + rtol * max(|numeric|, |analytic|); returns the
    results otherwise.
    """
    import inspect

    import srcgrad

    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, not {order!r}")
    unknown = set(modes) - {"fwd", "rev"}
    if unknown:
        raise ValueError(f"modes must be 'fwd' and/or 'rev', not {sorted(unknown)}")
    names = list(inspect.signature(function).parameters)
    items = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    positions = [names.index(i) if isinstance(i, str) else i % len(names) for i in items]
    rng = np.random.default_rng(seed)
    output = function(*args)
    cotangent = rng.standard_normal(np.shape(output))
    if np.shape(output) == ():
        cotangent = float(cotangent)

    def objective(values) -> float:
        return _inner(function(*values), cotangent)

    results = []
    for position in positions:
        direction = rng.standard_normal(np.shape(args[position]))
        plus = list(args)
        minus = list(args)
        plus[position] = _perturb(args[position], direction, eps)
        minus[position] = _perturb(args[position], direction, -eps)
        numeric = (objective(plus) - objective(minus)) / (2 * eps)
        if "rev" in modes:
            pullback = srcgrad.vjp(function, wrt=position)
            pulled = pullback(*args, **{pullback.extra_parameters[0]: cotangent})
            results.append(CheckResult(names[position], "rev", numeric, _inner(pulled, direction)))
        if "fwd" in modes:
            tangent = direction if np.ndim(args[position]) else float(direction)
            pushforward = srcgrad.jvp(function, wrt=position)
            _, pushed = pushforward(*args, **{pushforward.extra_parameters[0]: tangent})
            results.append(CheckResult(names[position], "fwd", numeric, _inner(pushed, cotangent)))
        if order == 2:
            results.append(_second_order(function, args, position, names[position], cotangent,
                                         direction, eps, modes))
    failures = [r for r in results
                if r.absolute_error > atol + rtol * max(abs(r.numeric), abs(r.analytic))]
    if failures:
        worst = max(failures, key=lambda r: r.relative_error)
        table = "\n".join(r.line() for r in results)
        raise GradientCheckError(
            f"derivative of {getattr(function, '__name__', function)} with respect to "
            f"`{worst.argument}` ({worst.mode} mode) disagrees with finite differences:\n{table}")
    return results


def _second_order(function, args, position, argument, cotangent, direction, eps, modes):
    """<u, d/dt J(x + t u)^T v> by forward over reverse, and by central differences."""
    import srcgrad

    pullback = srcgrad.vjp(function, wrt=position)
    cotangent_name = pullback.extra_parameters[0]
    tangent = direction if np.ndim(args[position]) else float(direction)
    pushforward = srcgrad.jvp(pullback, wrt=position)
    _, pushed = pushforward(*args, **{cotangent_name: cotangent,
                                      pushforward.extra_parameters[0]: tangent})
    plus, minus = list(args), list(args)
    step = max(eps, 1e-5)  # differences of a derivative want a larger step
    plus[position] = _perturb(args[position], direction, step)
    minus[position] = _perturb(args[position], direction, -step)
    numeric = _inner((_float_array(pullback(*plus, **{cotangent_name: cotangent}))
                      - _float_array(pullback(*minus, **{cotangent_name: cotangent})))
                     / (2 * step), direction)
    return CheckResult(argument, "fwd-over-rev", numeric, _inner(pushed, direction))
