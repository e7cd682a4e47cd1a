"""Derivative rules, as data: importing this package registers every rule module."""

from srcgrad.rules import arithmetic, arrays, elementwise, reductions  # noqa: F401
