"""Every rule, checked numerically from the spec tables in tests/specs/."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import srcgrad.rules  # noqa: F401  (registers the rules)
from srcgrad.rules import registry

import specs
from rulespec import check_case


def _cases():
    cases = []
    for module in pkgutil.iter_modules(specs.__path__):
        loaded = importlib.import_module(f"specs.{module.name}")
        cases += list(getattr(loaded, "CASES", []))
    return cases


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_matches_finite_differences(case):
    check_case(case)


def test_case_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_registered_primitive_has_a_spec_row():
    covered = {key for case in CASES for key in case.covers}
    from srcgrad.runtime import containers

    # Reading an attribute of a parameter object needs an object argument, which the spec
    # checker cannot perturb: tests/test_parameter_trees.py checks it against finite
    # differences instead.
    checked_elsewhere = {containers.attribute, containers.attribute_part,
                         containers.attribute_tangent}
    builtin = {key: rule for key, rule in registry.RULES.items()
               if not (rule.kernel or "").startswith("user_")  # srcgrad.extend rules of tests
               and key not in checked_elsewhere}
    missing = [rule.name for key, rule in builtin.items() if key not in covered]
    assert not missing, f"primitives without a spec row: {sorted(missing)}"


def test_forward_and_reverse_modes_cover_the_same_primitives():
    one_sided = [rule.name for rule in registry.RULES.values()
                 if rule.differentiable and bool(rule.adjoint) != bool(rule.tangent)]
    assert not one_sided, f"rules with only one of adjoint/tangent: {sorted(one_sided)}"
    assert all(rule.adjoint and rule.tangent
               for rule in registry.RULES.values() if rule.differentiable)
