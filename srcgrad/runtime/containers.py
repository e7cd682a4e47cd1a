"""Adjoints of Python containers (lists, tuples, dicts) holding arrays.

The adjoint of a container is a `Cotangents`: entries in the container's order (or by its
keys), each an adjoint or None for zero, added entry by entry with `+`, so that emitted
code accumulates container adjoints exactly like array adjoints. A whole-container
adjoint may also be the placeholder 0.0 or None (all zero). Helpers never mutate their
arguments.
"""

from __future__ import annotations

import numpy as np

__all__ = ["add_tree", "item_part", "item_adjoint", "drop_last", "zeros_tree", "cotangents",
           "Cotangents", "as_gradient", "push_adjoint", "attribute", "attribute_part",
           "attribute_tangent", "undrop_last", "copy_of", "own", "item_record", "item_restore",
           "keys"]


# what the arithmetic of a list's adjoint says (`unbroadcast` says it too): the operators
# that take a list for an array reach it only when a list was joined or repeated
LIST_ARITHMETIC = (
    "srcgrad: the adjoint of a list or tuple reached the rule of an arithmetic operator: "
    "concatenating (+) or repeating (*) lists or tuples cannot be differentiated in reverse "
    "mode; build the list with its items written out ([a, b]) or with .append")


# ... and what forward mode says of lists joined where only one carries a tangent, in code
# written for arguments of any type (code for the call's own lists joins their tangents)
LIST_JOINED_TANGENT = (
    "srcgrad: a list or tuple carrying a tangent was joined with `+` to one that carries "
    "none, in code written for arguments of any type: it cannot tell where the tangent's "
    "items go; call the derivative itself (its code knows the lists), take the derivative "
    "with respect to both, or build the list with its items written out ([a, b])")


def _is_zero(value) -> bool:
    return value is None or (type(value) is float and value == 0.0)


def _add(a, b):
    if _is_zero(a):
        return b
    if _is_zero(b):
        return a
    return a + b


class Cotangents:
    """The adjoint of a list, tuple or dict: one entry (or None for zero) per item."""

    __slots__ = ("entries",)

    def __init__(self, entries):
        self.entries = dict(entries) if isinstance(entries, dict) else list(entries)

    def _pairs(self, other):
        other = other.entries if isinstance(other, Cotangents) else other
        if isinstance(self.entries, dict):
            other = dict(other)
            keys = list(self.entries) + [k for k in other if k not in self.entries]
            return {k: _add(self.entries.get(k), other.get(k)) for k in keys}
        other = list(other)
        if len(other) != len(self.entries):
            raise ValueError(f"adding adjoints of containers of lengths {len(self.entries)} "
                             f"and {len(other)}")
        return [_add(a, b) for a, b in zip(self.entries, other, strict=True)]

    def __add__(self, other):
        if _is_zero(other):
            return self
        if not isinstance(other, (Cotangents, list, tuple, dict)):
            return NotImplemented
        return Cotangents(self._pairs(other))

    __radd__ = __add__

    def _arithmetic(self, *_):  # (the rule of `p * 2` for a list argument `p`, say)
        raise ValueError(LIST_ARITHMETIC)

    def __mul__(self, other):
        """`b * 1.0`, the copy derivative code makes of an adjoint it goes on to update (a
        list times a float is no Python: no rule's `*` of a list's adjoint meets it);
        anything else is the arithmetic of a list."""
        if type(other) is float and other == 1.0:
            return Cotangents(self.entries)
        return self._arithmetic()

    __rmul__ = __mul__
    __truediv__ = __rtruediv__ = __sub__ = __rsub__ = __neg__ = _arithmetic

    def __getitem__(self, key):
        return self.entries[key]

    def __len__(self):
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __repr__(self):
        return f"Cotangents({self.entries!r})"

    def plain(self, zeros_like=None):
        """As a plain list or dict; None entries become zeros shaped like `zeros_like`'s
        items when given."""
        if zeros_like is None:
            return self.entries
        if isinstance(self.entries, dict):
            return {k: v if v is not None else zeros_like[k] * 0.0
                    for k, v in self.entries.items()}
        return [v if v is not None else z * 0.0 for v, z in zip(self.entries, zeros_like,
                                                                 strict=True)]


def cotangents(xp, entries):
    """Wrap the per-item adjoints a rule returns for a list argument (a zero placeholder
    stays one)."""
    if _is_zero(entries):
        return entries
    return entries if isinstance(entries, Cotangents) else Cotangents(entries)


def copy_of(xp, value, order="K"):
    """`value.copy()`: a list's or dict's shallow copy (the same items), an array's copy
    (in `order`)."""
    if isinstance(value, (list, dict)):
        return value.copy()
    return xp.copy(value) if order == "K" else xp.copy(value, order=order)


def keys(xp, mapping):
    """`mapping.keys()` as a list, in the mapping's order: what a loop over a dict, its
    `.keys()`, `.values()` or `.items()` reads its entries by (`for name in params` is
    `for index in range(len(names))` reading `params[names[index]]`)."""
    return list(mapping.keys())


def own(xp, value):
    """``value`` as the caller's own: a copy of an array, numbers as they are, containers
    and objects (a module's gradient) with each array copied. A derivative returns a result
    through it where the result could otherwise be the array of an argument, or of another
    result: the caller may update what a derivative returns in place."""
    kind = type(value)
    if value is None or isinstance(value, (int, float, complex, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [own(xp, item) for item in value]
        return kind(*items) if hasattr(value, "_fields") else kind(items)
    if isinstance(value, dict):
        return {key: own(xp, item) for key, item in value.items()}
    if kind is Cotangents:
        return Cotangents(own(xp, value.entries))
    if hasattr(value, "shape"):
        copy = getattr(value, "copy", None)
        return value if copy is None else copy()
    fields = _fields(value)
    if fields:
        import copy as copying  # an object: a shallow copy holding copies of its arrays

        out = copying.copy(value)
        for name, item in fields.items():
            owned = own(xp, item)
            if owned is not item:
                object.__setattr__(out, name, owned)
        return out
    return value


def _fields(value) -> dict:
    """The attributes of an object (those in `__dict__` and in `__slots__`), or {} for a
    value that is not one."""
    if isinstance(value, type):
        return {}
    found = dict(vars(value)) if hasattr(value, "__dict__") else {}
    for kind in type(value).__mro__:
        for name in getattr(kind, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and hasattr(value, name):
                found[name] = getattr(value, name)
    return found


def add_tree(xp, a, b):
    """The sum of two adjoints (arrays, `Cotangents`, or placeholders), or of two tangents;
    tuples and lists (container tangents) add entry by entry."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            raise ValueError(f"adding tangents of containers of lengths {len(a)} and {len(b)}")
        return type(a)(add_tree(xp, x, y) for x, y in zip(a, b))
    return _add(a, b)


def item_part(xp, container, key, g):
    """The adjoint of `container` when only `container[key]` (with adjoint g) is used
    (`container` may also be a container adjoint, giving the structure)."""
    if isinstance(container, dict) or isinstance(getattr(container, "entries", None), dict):
        return Cotangents({key: g})
    part = [None] * len(container)
    part[key] = g
    return Cotangents(part)


def item_adjoint(xp, b, key, like):
    """Entry `key` of the container adjoint `b`, as an array shaped like `like` (a zero
    entry for a container `like` is the placeholder None: its items may differ in shape)."""
    try:
        entry = None if _is_zero(b) else b[key]
    except (KeyError, IndexError):
        entry = None
    if not _is_zero(entry):
        return entry
    return None if isinstance(like, (list, tuple, dict)) else xp.zeros_like(like)


def drop_last(xp, b, container):
    """The adjoint of a list before its last `append`: `b` without its last entry."""
    if _is_zero(b):
        return None
    return Cotangents(list(b)[: len(container) - 1])


def undrop_last(xp, c):
    """The adjoint of `drop_last(b, container)` with respect to `b` (it is linear in `b`):
    `c` with a zero entry on the end (a zero placeholder stays one)."""
    if _is_zero(c):
        return None
    return Cotangents(list(c) + [None])


def zeros_tree(xp, value):
    """A zero tangent shaped like `value` (an array or a container of arrays)."""
    if isinstance(value, dict):
        return {k: zeros_tree(xp, v) for k, v in value.items()}
    if isinstance(value, list):
        return [zeros_tree(xp, v) for v in value]
    if isinstance(value, tuple):  # (a tuple's zero is a tuple, a namedtuple's its type)
        items = [zeros_tree(xp, v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, Cotangents):  # a container adjoint's zero: no entries (adds up)
        entries = value.entries
        return Cotangents(dict.fromkeys(entries) if isinstance(entries, dict)
                          else [None] * len(entries))
    if value is None or type(value).__name__ == "Like":
        return None  # placeholders carry no tangent
    if type(value) in (int, float):  # a number, or the 0.0 placeholder of an adjoint
        return 0.0
    if hasattr(value, "__dict__") and not hasattr(value, "shape"):
        return None  # an object: its zero is the placeholder (as_gradient builds the zeros)
    return xp.zeros_like(value)


def as_gradient(xp, gradient, like):
    """`gradient` in the structure of `like`: a dict, list or tuple for a container argument
    (entries in `like`'s order, zeros where nothing flowed back), `gradient` itself else."""
    kind = type(like)
    if kind is np.ndarray:  # (the common cases first, as the general ones below take them)
        return xp.zeros_like(like) if _is_zero(gradient) else gradient
    if kind is dict and type(gradient) is Cotangents and type(gradient.entries) is dict:
        entries = gradient.entries
        return {k: as_gradient(xp, entries.get(k), v) for k, v in like.items()}
    if hasattr(like, "_fields") and isinstance(gradient, Cotangents) and isinstance(
            gradient.entries, dict):  # a namedtuple read by attribute
        return type(like)(*(as_gradient(xp, gradient.entries.get(f), getattr(like, f))
                            for f in like._fields))
    if not isinstance(like, (list, tuple, dict)) and hasattr(like, "__dict__") and not hasattr(
            like, "shape"):
        return _object_gradient(xp, gradient, like)
    if isinstance(like, (list, tuple, dict)):
        if _is_zero(gradient):
            entries = {} if isinstance(like, dict) else [None] * len(like)
        else:
            entries = gradient.entries if isinstance(gradient, Cotangents) else gradient
        if isinstance(like, dict):
            return {k: as_gradient(xp, entries.get(k) if isinstance(entries, dict) else None, v)
                    for k, v in like.items()}
        converted = [as_gradient(xp, g, v) for g, v in zip(entries, like, strict=True)]
        if hasattr(like, "_fields"):  # a namedtuple
            return type(like)(*converted)
        return type(like)(converted) if isinstance(like, tuple) else converted
    if _is_zero(gradient) and hasattr(like, "shape"):
        return xp.zeros_like(like)
    return gradient


def push_adjoint(xp, b, g, container):
    """The adjoint of a list before `x = container.pop()`: `b` (one entry per item left)
    with x's adjoint `g` back on the end."""
    entries = [None] * len(container) if _is_zero(b) else list(b)
    return Cotangents(entries + [g])


def attribute(xp, obj, name):
    """`obj.<name>`: an attribute of a parameter object (the key of its rule)."""
    return getattr(obj, name)


def attribute_part(xp, obj, name, g):
    """The adjoint of `obj` when only `obj.<name>` (with adjoint g) is used."""
    if hasattr(obj, "shape") and not hasattr(obj, "__dict__"):
        raise TypeError(f"the array attribute `.{name}` has no derivative rule; use the NumPy "
                        "function instead")
    return Cotangents({name: g})


def attribute_tangent(xp, t, name):
    """`t.<name>` of an object's tangent, given as an object like it or as a dict."""
    if _is_zero(t):
        return 0.0
    if isinstance(t, (dict, Cotangents)):
        try:
            return t[name]
        except KeyError:
            return 0.0
    return getattr(t, name)


def _object_gradient(xp, gradient, like):
    """A gradient shaped like the object `like`: a copy of it whose array attributes hold
    their gradients (zeros where nothing flowed back); one already shaped so stays."""
    import copy
    import dataclasses

    if type(gradient) is type(like):
        return gradient

    entries = {} if _is_zero(gradient) else dict(gradient.entries if isinstance(
        gradient, Cotangents) else gradient)
    fields = vars(like) if hasattr(like, "__dict__") else {}
    updates = {k: as_gradient(xp, entries.get(k), v) for k, v in fields.items()
               if hasattr(v, "shape") or isinstance(v, (float, list, tuple, dict))
               or hasattr(v, "__dict__")}
    if dataclasses.is_dataclass(like) and not isinstance(like, type):
        names = {f.name for f in dataclasses.fields(like)}
        return dataclasses.replace(like, **{k: v for k, v in updates.items() if k in names})
    out = copy.copy(like)
    for k, v in updates.items():
        object.__setattr__(out, k, v)
    return out


_MISSING = object()


def item_record(xp, container, key):
    """What `container[key] = v` overwrites (a copy), or a marker when the key is new."""
    if isinstance(container, dict) and key not in container:
        return _MISSING
    old = container[key]
    return xp.copy(old) if hasattr(old, "shape") else old


def item_restore(xp, container, key, old):
    """Undo `container[key] = v` given what `item_record` kept."""
    if old is _MISSING:
        del container[key]
    else:
        container[key] = old
