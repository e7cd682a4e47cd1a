"""How emitted code reads: arguments and keys spliced from rule templates, respelled the way
a person writes them (`xp.sum(g, axis=None)` -> `xp.sum(g)`, `x[slice(1, None)]` -> `x[1:]`).
Changes no value.
"""

from __future__ import annotations

import ast
import inspect
from functools import cache

from srcgrad.codegen.syntax import rewrite

__all__ = ["respell"]


@cache
def _defaults(kernel: str) -> dict | None:
    """Parameter defaults of a backend kernel or helper, by position and name."""
    from srcgrad import runtime

    try:
        signature = inspect.signature(getattr(runtime.NUMPY, kernel))
    except (AttributeError, TypeError, ValueError):
        return None
    return {p.name: p.default for p in signature.parameters.values()
            if p.default is not p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} | {
        i: p.default for i, p in enumerate(signature.parameters.values())
        if p.default is not p.empty and p.kind is p.POSITIONAL_OR_KEYWORD}


def _same_constant(node: ast.expr, value) -> bool:
    return (isinstance(node, ast.Constant) and type(node.value) is type(value)
            and node.value == value)


def _drop_defaults(node: ast.Call) -> None:
    """`xp.sum(g, axis=None, keepdims=False)` -> `xp.sum(g)`: arguments equal to the
    kernel's own defaults (spliced in from rule templates) say nothing to a reader."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == "xp"):
        return
    defaults = _defaults(func.attr)
    if not defaults:
        return
    node.keywords = [k for k in node.keywords
                     if not (k.arg in defaults and _same_constant(k.value, defaults[k.arg]))]
    while node.args and not node.keywords and len(node.args) - 1 in defaults and (
            _same_constant(node.args[-1], defaults[len(node.args) - 1])):
        node.args.pop()


def _as_slice(node: ast.expr) -> ast.expr:
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "slice"
            and not node.keywords and 1 <= len(node.args) <= 3):
        args = [None if isinstance(a, ast.Constant) and a.value is None else a for a in node.args]
        if len(args) == 1:
            args = [None, args[0]]
        return ast.Slice(*(args + [None] * (3 - len(args))))
    if isinstance(node, ast.Tuple):
        return ast.Tuple(elts=[_as_slice(e) for e in node.elts], ctx=ast.Load())
    return node


def _respelled(node: ast.AST) -> ast.AST:
    if node.__class__ is ast.Call:
        _drop_defaults(node)
    elif node.__class__ is ast.Subscript:
        # `x[slice(1, None)]` (a key spliced from a rule) -> `x[1:]`, as a person writes it
        node.slice = _as_slice(node.slice)
    return node


def respell(function: ast.FunctionDef) -> None:
    """Respell `function`'s body in place (see the module docstring)."""
    function.body = [rewrite(stmt, _respelled) for stmt in function.body]
