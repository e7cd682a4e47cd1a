"""srcgrad.extend: rules for the user's own functions, checked like built-in ones."""

import numpy as np
import pytest

import srcgrad
import srcgrad.extend as ext
from srcgrad.errors import RuleError
from srcgrad.extend import adjoint, d, tangent, xp  # noqa: F401  (template names)
from srcgrad.testing import GradientCheckError


def softclip(x, limit=2.0):
    return limit * np.tanh(x / limit)


@ext.rule(softclip)
def softclip_rule(y, x, limit=2.0):
    with adjoint:
        d[x] = d[y] * (1.0 - (y / limit) ** 2)
    with tangent:
        d[y] = d[x] * (1.0 - (y / limit) ** 2)


def wrongly_ruled(x):
    return x * x


@ext.rule(wrongly_ruled)
def wrong_rule(y, x):
    with adjoint:
        d[x] = d[y] * x  # should be 2 x
    with tangent:
        d[y] = d[x] * x


def uses_softclip(x):
    return (softclip(x * 3.0) ** 2).sum()


def uses_wrong(x):
    return wrongly_ruled(x).sum()


def test_a_registered_rule_is_used_in_both_modes():
    x = np.array([-1.0, 0.2, 0.7])
    srcgrad.check_grad(uses_softclip, x)
    source = srcgrad.grad(uses_softclip).source
    assert "xp.user_" in source and "softclip" in source


def test_check_grad_catches_a_wrong_rule():
    with pytest.raises(GradientCheckError):
        srcgrad.check_grad(uses_wrong, np.array([1.0, 2.0]))
    np.testing.assert_allclose(srcgrad.grad(uses_wrong)(np.array([1.0, 2.0])), [1.0, 2.0])


def test_a_rule_must_have_both_blocks():
    def lonely(x):
        return x

    with pytest.raises(RuleError, match="with tangent"):
        @ext.rule(lonely)
        def lonely_rule(y, x):
            with adjoint:
                d[x] = d[y]


def test_a_malformed_rule_is_located():
    def other(x):
        return x

    with pytest.raises(RuleError) as caught:
        @ext.rule(other)
        def other_rule(y, x):
            with adjoint:
                d[z] = d[y]  # noqa: F821 - the mistake under test
            with tangent:
                d[y] = d[x]
    assert caught.value.location is not None
    assert caught.value.location.line > 0
