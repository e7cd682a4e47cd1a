"""Adjoint helpers for Python containers (lists, tuples, dicts) holding arrays.

The adjoint of a container is a container of the same kind and length whose entries are
adjoints; an entry (or the whole container) may be the placeholder None or 0.0, meaning
zero, so that untouched slots cost nothing. Helpers never mutate their arguments.
"""

from __future__ import annotations

__all__ = ["add_tree", "item_part", "item_adjoint", "drop_last", "zeros_tree"]


def _is_zero(value) -> bool:
    return value is None or (type(value) is float and value == 0.0)


def add_tree(xp, a, b):
    """Elementwise sum of two adjoints (arrays, or containers of them, or placeholders)."""
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    if isinstance(a, dict):
        keys = list(a) + [k for k in b if k not in a]
        return {k: add_tree(xp, a.get(k), b.get(k)) for k in keys}
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            raise ValueError(f"cannot add adjoints of containers of lengths {len(a)} and {len(b)}")
        return [add_tree(xp, x, y) for x, y in zip(a, b, strict=True)]
    return a + b


def item_part(xp, container, key, g):
    """The adjoint of `container` when only `container[key]` (with adjoint g) is used."""
    if isinstance(container, dict):
        return {key: g}
    part = [None] * len(container)
    part[key] = g
    return part


def item_adjoint(xp, b, key, like):
    """Entry `key` of the container adjoint `b`, as an array shaped like `like`."""
    if _is_zero(b):
        return xp.zeros_like(like)
    try:
        entry = b[key]
    except (KeyError, IndexError):
        return xp.zeros_like(like)
    if _is_zero(entry):
        return xp.zeros_like(like)
    return entry


def drop_last(xp, b, container):
    """The adjoint of a list before its last `append`: `b` without its last entry."""
    if _is_zero(b):
        return None
    return list(b[: len(container) - 1])


def zeros_tree(xp, value):
    """A zero tangent shaped like `value` (an array or a container of arrays)."""
    if isinstance(value, dict):
        return {k: zeros_tree(xp, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [zeros_tree(xp, v) for v in value]
    return xp.zeros_like(value)
