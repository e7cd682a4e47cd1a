"""Jets of prod and einsum: exact values against brute force, and derivatives of order four
and five composed through them (the spec rows in specs/helpers_jets.py check every rule
against finite differences, and the rules of those rules once more)."""

import itertools
import math

import numpy as np
import pytest

import srcgrad
from srcgrad.runtime import NUMPY as xp


def _brute_prod_jet(a, masks, target, terms):
    """Entry i: the sum over every choice, for each j != i, of a_j or a term with a mask,
    the masks disjoint and covering target, of the product of the choices."""
    n = len(a)
    out = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for choice in itertools.product(range(-1, len(masks)), repeat=len(others)):
            used = [masks[r] for r in choice if r >= 0]
            if sum(used) != target or any(u & v for u, v in itertools.combinations(used, 2)):
                continue
            out[i] += math.prod(a[j] if r < 0 else terms[r][j] for j, r in zip(others, choice))
    return out


@pytest.mark.parametrize("pattern", [[1, 1, 1, 1], [1, 0, 1, 1], [0, 1, 0, 1], [0, 0, 0, 1]])
@pytest.mark.parametrize("masks,target", [((), 0), ((1,), 1), ((1, 2), 3), ((1, 2, 4), 7),
                                          ((1, 2, 3), 3), ((1, 2, 4, 3), 7)])
def test_prod_jet_is_exact_with_zeros(pattern, masks, target):
    rng = np.random.default_rng(len(masks) * 10 + target)
    a = rng.uniform(0.5, 2.0, 4) * np.array(pattern, dtype=float)
    terms = [rng.standard_normal(4) for _ in masks]
    got = xp.prod_jet_partials(a, masks, target, tuple(terms))
    np.testing.assert_allclose(got, _brute_prod_jet(a, masks, target, terms), rtol=1e-12,
                               atol=1e-12)


def test_prod_jet_agrees_with_the_partials_helpers():
    rng = np.random.default_rng(0)
    a, v = rng.uniform(0.5, 2.0, (3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(xp.prod_jet_partials(a, (), 0, (), 1), xp.prod_partials(a, 1))
    np.testing.assert_allclose(xp.prod_jet_partials(a, (1,), 1, (v,), 1),
                               xp.prod_second_partials(a, v, 1))


def test_einsum_jet_sums_the_replacements_that_cover_the_target():
    rng = np.random.default_rng(1)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    ra, rb, rc = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    y = np.einsum("ij,jk,k->i", a, b, c)
    got = xp.einsum_jet(y, "ij,jk,k->i", (a, b, c), (1, 2, 1), (0, 1, 2), 3, (ra, rb, rc))
    # mask 1 at a and at c, mask 2 at b: {a->ra, b->rb} and {c->rc, b->rb}
    expected = np.einsum("ij,jk,k->i", ra, rb, c) + np.einsum("ij,jk,k->i", a, rb, rc)
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(
        xp.einsum_jet(y, "ij,jk,k->i", (a, b, c), xp.jet_set_masks(1, 3),
                      xp.jet_set_positions(1, 3), 1, (ra, rb, rc)),
        xp.einsum_tangent(y, "ij,jk,k->i", (a, b, c), (ra, rb, rc)))


def _third_gradient_derivative(f):
    """x, u -> the third derivative of grad f at x along u, u, u (forward over forward over
    forward over reverse)."""
    third = srcgrad.jvp(srcgrad.jvp(srcgrad.jvp(srcgrad.grad(f))))

    def run(x, u):
        out = third(x, u, u, u)
        while isinstance(out, tuple):  # (primal, tangent) pairs nest; the last is wanted
            out = out[-1]
        while isinstance(out, list):
            out = out[-1]
        return out

    return run


def product(x):
    return np.prod(x)


def quartic(x):
    return np.einsum("i,i,i,i->", x, x, x, x)


@pytest.mark.parametrize("pattern", [[1, 1, 1, 1, 1], [1, 0, 1, 1, 1], [0, 1, 1, 0, 1]])
def test_fourth_derivative_of_prod(pattern):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.5, 1.5, 5) * np.array(pattern, dtype=float)
    u = rng.standard_normal(5)
    got = _third_gradient_derivative(product)(x, u)
    expected = np.zeros(5)
    for i in range(5):
        for j, k, m in itertools.permutations([t for t in range(5) if t != i], 3):
            rest = [t for t in range(5) if t not in (i, j, k, m)]
            expected[i] += u[j] * u[k] * u[m] * math.prod(x[t] for t in rest)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_fourth_derivative_of_einsum():
    rng = np.random.default_rng(3)
    x, u = rng.standard_normal(4), rng.standard_normal(4)
    # f = sum x^4, grad = 4 x^3, its third derivative along u is 24 u^3
    np.testing.assert_allclose(_third_gradient_derivative(quartic)(x, u), 24 * u ** 3,
                               rtol=1e-10)


def test_fifth_order_through_einsum_is_zero_and_fourth_order_of_hessian_matches():
    rng = np.random.default_rng(4)
    x, u = rng.standard_normal(3), rng.standard_normal(3)
    fourth = srcgrad.jvp(srcgrad.jvp(srcgrad.jvp(srcgrad.jvp(srcgrad.grad(quartic)))))
    out = fourth(x, u, u, u, u)
    while isinstance(out, (tuple, list)):
        out = out[-1]
    np.testing.assert_allclose(out, np.zeros(3), atol=1e-12)  # grad is cubic
    hessian = srcgrad.hessian(quartic)
    np.testing.assert_allclose(hessian(x), np.diag(12 * x ** 2), rtol=1e-12)
