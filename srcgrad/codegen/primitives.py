"""How normalized expressions map to rules.

After normalization every assignment's value is one of a few shapes; `classify` says which
rule (if any) gives its derivative. The mapping reads the expression itself (an operator
node, `xp.<kernel>(...)`, a builtin's name), so emitted code, which has the same shapes,
can be classified and differentiated again.
"""

from __future__ import annotations

import ast
import builtins
import operator

from srcgrad.records import record
from srcgrad.rules import registry

__all__ = [
    "OPERATOR_KEYS",
    "NONDIFF_ATTRIBUTES",
    "Kind",
    "Classified",
    "classify",
    "lookup",
    "operator_node",
]

OPERATOR_KEYS: dict[type, object] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.MatMult: operator.matmul,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
    ast.Invert: operator.invert,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
_OPERATOR_NODES = {key: node for node, key in OPERATOR_KEYS.items()}

# Array attributes that are metadata, not values: reading them gives no gradient path.
NONDIFF_ATTRIBUTES = frozenset({"shape", "ndim", "size", "dtype", "itemsize", "nbytes"})


class Kind:
    COPY = "copy"  # y = x, y = 2.0
    RULE = "rule"  # a primitive with a rule (possibly non-differentiable)
    METADATA = "metadata"  # comparisons, x.shape: never carries a gradient
    PACK = "pack"  # [a, b], (a, b), {"w": w}: a container of values
    OPAQUE = "opaque"  # a call srcgrad cannot see into


@record
class Classified:
    kind: str
    rule: registry.Rule | None = None


def lookup(obj) -> registry.Rule | None:
    """The rule for a Python object (np.tanh, operator.mul, math.exp, ...), if any."""
    _load_rules()
    try:
        key = registry.ALIASES.get(obj, obj)
        return registry.RULES.get(key)
    except TypeError:  # unhashable
        return None


def operator_node(key) -> type | None:
    """The ast operator class that spells the primitive `key`, if it is an operator."""
    return _OPERATOR_NODES.get(key)


def classify(value: ast.expr) -> Classified:
    """Classify a normalized right-hand side."""
    _load_rules()
    if isinstance(value, (ast.Name, ast.Constant)):
        return Classified(Kind.COPY)
    if isinstance(value, (ast.BinOp, ast.UnaryOp)):
        return Classified(Kind.RULE, registry.RULES[OPERATOR_KEYS[type(value.op)]])
    if isinstance(value, ast.Subscript):
        return Classified(Kind.RULE, registry.RULES[operator.getitem])
    if isinstance(value, ast.Compare):
        return Classified(Kind.METADATA)
    if isinstance(value, ast.Attribute):
        if value.attr in NONDIFF_ATTRIBUTES:
            return Classified(Kind.METADATA)
        if isinstance(value.value, ast.Name) and value.value.id != "xp":
            return Classified(Kind.RULE, lookup(_attribute_key()))  # obj.weight
        return Classified(Kind.OPAQUE)
    if isinstance(value, (ast.Tuple, ast.List, ast.Dict)):
        return Classified(Kind.PACK)
    if isinstance(value, ast.Call):
        func = value.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id == "xp" and func.attr in registry.KERNELS:
                return Classified(Kind.RULE, registry.KERNELS[func.attr])
        if isinstance(func, ast.Name) and hasattr(builtins, func.id):
            found = lookup(getattr(builtins, func.id))
            if found is not None:
                return Classified(Kind.RULE, found)
        return Classified(Kind.OPAQUE)
    return Classified(Kind.OPAQUE)


def _attribute_key():
    from srcgrad.runtime import containers

    return containers.attribute


_loaded = False


def _load_rules() -> None:
    global _loaded
    if not _loaded:
        import srcgrad.rules  # noqa: F401  (registers every rule module)

        _loaded = True
