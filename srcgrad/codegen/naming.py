"""Deterministic names for the emitted code.

Temporaries are named after what they hold (`tanh_x`, `x_times_w`), adjoints are `b` +
the primal name (`bx`), tangents `d` + the primal name (`dx`). Collisions get `_2`, `_3`, ...
in order of first request, so the same program always gets the same names.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re

__all__ = ["Namer", "expression_name", "RESERVED"]

# Names emitted code itself uses; a user's variable with one of these names is renamed.
RESERVED = frozenset({"xp", "rt", "stack", "constants"})

_OPERATOR_WORDS = {
    ast.Add: "plus",
    ast.Sub: "minus",
    ast.Mult: "times",
    ast.Div: "over",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.Pow: "pow",
    ast.MatMult: "matmul",
    ast.USub: "neg",
    ast.UAdd: "pos",
    ast.Not: "not",
    ast.Invert: "invert",
    ast.BitAnd: "and",
    ast.BitOr: "or",
    ast.BitXor: "xor",
    ast.LShift: "lshift",
    ast.RShift: "rshift",
}

_MAX_LENGTH = 20


def _atom_word(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        value = node.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value).replace("-", "neg").replace(".", "_").replace("+", "")
        return re.sub(r"\W", "", text)
    return ""


def expression_name(node: ast.expr, kernel: str | None = None) -> str:
    """A readable name for a temporary holding `node` (a normalized one-op expression)."""
    words: list[str] = []
    short = "t"
    if kernel is not None:
        args = node.args if isinstance(node, ast.Call) else []
        first = _atom_word(args[0]) if args else ""
        words = [kernel, first] if first else [kernel]
        short = kernel
    elif isinstance(node, ast.BinOp):
        op = _OPERATOR_WORDS.get(type(node.op), "op")
        words = [_atom_word(node.left), op, _atom_word(node.right)]
        short = op
    elif isinstance(node, ast.UnaryOp):
        op = _OPERATOR_WORDS.get(type(node.op), "op")
        words = [op, _atom_word(node.operand)]
        short = op
    elif isinstance(node, ast.Subscript):
        base = _atom_word(node.value)
        index = _atom_word(node.slice)
        words = [base, index] if index else [base, "item"]
        short = f"{base}_item" if base else "item"
    elif isinstance(node, ast.Attribute):
        words = [_atom_word(node.value), node.attr]
        short = node.attr
    elif isinstance(node, ast.Compare):
        words = [_atom_word(node.left), "cmp"]
        short = "cmp"
    name = "_".join(w for w in words if w)
    if not name or len(name) > _MAX_LENGTH or not all(words):
        name = short
    return name


_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))


class Namer:
    """Hands out fresh, deterministic, collision-free identifiers."""

    def __init__(self, taken=()):
        self._taken: set[str] = set(taken) | set(RESERVED)

    def reserve(self, name: str) -> None:
        self._taken.add(name)

    def taken(self, name: str) -> bool:
        return name in self._taken

    def fresh(self, base: str) -> str:
        base = re.sub(r"\W", "_", base) or "t"
        if base[0].isdigit():
            base = f"t{base}"
        if keyword.iskeyword(base) or base in _BUILTINS:  # `sum_`, never shadow `sum`
            base = f"{base}_"
        candidate = base
        counter = 2
        while candidate in self._taken:
            candidate = f"{base}_{counter}"
            counter += 1
        self._taken.add(candidate)
        return candidate
