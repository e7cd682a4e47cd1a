"""Derivative rules, as data: importing this package registers every rule module."""

from srcgrad.rules import (  # noqa: F401
    arithmetic,
    arrays,
    elementwise,
    helpers,
    helpers_arrays,
    helpers_containers,
    helpers_jets,
    helpers_products,
    helpers_reductions,
    reductions,
)
