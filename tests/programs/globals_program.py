"""A function reading a module-level value (tests/test_api.py rebinds it between calls)."""

SCALE = 2.0


def scaled_by_global(x):
    return x * SCALE
