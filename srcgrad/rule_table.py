"""The table of primitives with derivative rules, as `srcgrad rules` prints it: how user
code spells each one, the modes it supports, and the public NumPy functions without one.

Modes are "reverse", "forward", "both" (differentiable in both), or None (any).
"""

from __future__ import annotations

import warnings

__all__ = ["rows", "missing_functions"]

_OPERATOR_SYMBOLS = {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
    "pow": "**", "matmul": "@", "neg": "-x", "pos": "+x", "invert": "~", "not_": "not",
    "and_": "&", "or_": "|", "xor": "^", "lshift": "<<", "rshift": ">>", "getitem": "x[i]",
}


def _public(namespace) -> dict[str, object]:
    """The public attributes of a module, without the warnings deprecated ones give."""
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in dir(namespace):
            if not name.startswith("_"):
                try:
                    found[name] = getattr(namespace, name)
                except AttributeError:
                    pass
    return found


def _spelling_index() -> dict[int, list[str]]:
    """id(object) -> how user code spells it (`np.tanh`, `math.exp`, `abs`, `+`)."""
    import builtins
    import math
    import operator

    import numpy as np

    import srcgrad.control

    index: dict[int, list[str]] = {}
    for name, obj in _public(operator).items():
        if name in _OPERATOR_SYMBOLS:
            index.setdefault(id(obj), []).append(_OPERATOR_SYMBOLS[name])
    for namespace, prefix in ((np, "np."), (np.linalg, "np.linalg."), (math, "math."),
                              (builtins, ""), (srcgrad.control, "srcgrad.")):
        for name, obj in sorted(_public(namespace).items()):
            if callable(obj):
                index.setdefault(id(obj), []).append(prefix + name)
    return index


def _modes(entry) -> set[str]:
    if not entry.differentiable:
        return {"reverse", "forward"}  # a zero derivative, in either mode
    return {mode for mode, block in (("reverse", entry.adjoint), ("forward", entry.tangent))
            if block}


def _wanted(modes: set[str], mode: str | None) -> bool:
    if mode is None:
        return True
    if mode == "both":
        return modes == {"reverse", "forward"}
    return mode in modes


def _covered(mode: str | None) -> set[int]:
    """ids of the objects with a rule (in `mode`), by key or alias."""
    from srcgrad.rules.registry import ALIASES, RULES

    keys = {id(k) for k, entry in RULES.items() if _wanted(_modes(entry), mode)}
    return keys | {id(a) for a, k in ALIASES.items() if id(k) in keys}


def missing_functions(mode: str | None = None) -> list[str]:
    """Public `numpy` and `numpy.linalg` functions with no rule (in `mode`) and no alias."""
    import numpy as np

    import srcgrad.rules  # noqa: F401 - registers the rule modules

    covered = _covered(mode)
    return [prefix + name
            for namespace, prefix in ((np, "np."), (np.linalg, "np.linalg."))
            for name, obj in sorted(_public(namespace).items())
            if callable(obj) and not isinstance(obj, type) and id(obj) not in covered]


def rows(mode: str | None = None) -> list[tuple[str, str, str, str]]:
    """(primitive, spellings, modes, derivative) for every user-facing rule, sorted. Rules
    of the runtime's own helpers (for derivatives of derivatives) are not listed."""
    import srcgrad.rules  # noqa: F401 - registers the rule modules
    from srcgrad.rules.registry import ALIASES, METHODS, RULES

    index = _spelling_index()
    found = []
    for key, entry in RULES.items():
        modes = _modes(entry)
        module = getattr(key, "__module__", None) or "?"
        if not _wanted(modes, mode) or module.startswith("srcgrad.runtime"):
            continue
        spellings = list(index.get(id(key), []))
        for other, target in ALIASES.items():
            if target is key:
                spellings += [s for s in index.get(id(other), []) if s not in spellings]
        spellings += [f"x.{name}()" for name, target in METHODS.items()
                      if ALIASES.get(target, target) is key]
        found.append((entry.kernel or entry.name,
                      ", ".join(spellings) or f"{module}.{entry.name}",
                      "both" if len(modes) == 2 else next(iter(modes), "none"),
                      "differentiable" if entry.differentiable else "flat"))
    return sorted(found)
