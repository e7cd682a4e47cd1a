"""Results of their own: the function a user calls returns no array that an argument, a
global or another result also holds (`analysis/aliases.py` finds them), since callers
update gradients in place; those it may share go out through `xp.own`, a copy."""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis.aliases import shared_results
from srcgrad.codegen.syntax import Comment, call, statements, walk

__all__ = ["own_results"]


def own_results(function: ast.FunctionDef, argument_layouts: dict, repeats=False) -> bool:
    """Return `xp.own(b)` for each returned `b` that may be an argument's array (copy
    propagation makes the gradient of `sum(a * b)` with respect to `a` the array `b`),
    or another result's; numbers (the arguments of layout `()`) need no copy. `repeats`:
    the function computes tangents, where a list argument times an int is repeated."""
    numbers = frozenset(n for n, layout in argument_layouts.items() if layout == ())
    shared = {id(leaf) for leaf in shared_results(
        function, numbers, frozenset(argument_layouts), repeats)}
    if not shared:
        return False

    def owned(node):
        if id(node) in shared:
            return ast.copy_location(call("xp.own", [node]), node)
        if node.__class__ is ast.Tuple:
            node.elts = [owned(item) for item in node.elts]
        return node

    for stmt in statements(function.body):
        if stmt.__class__ is ast.Return and stmt.value is not None:
            stmt.value = owned(stmt.value)
    last = function.body[-1]
    if last.__class__ is ast.Return and any(
            n.__class__ is ast.Attribute and n.attr == "own" for n in walk(last)):
        function.body.insert(-1, Comment(_OWN_NOTE))
    return True


_OWN_NOTE = "xp.own: a copy of a result that may be an argument's array or another result's"
