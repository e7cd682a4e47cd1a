"""Which names hold Python containers (lists, tuples, dicts) rather than arrays.

Container adjoints and tangents are containers too and are combined entry by entry, so the
transformations need to know, per name, which kind of value it holds. A name holds a
container when it is assigned a list, tuple or dict display, or a copy of a container.
"""

from __future__ import annotations

from srcgrad.codegen.syntax import walk

import ast

__all__ = ["containers"]


def containers(function: ast.FunctionDef) -> frozenset[str]:
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in walk(function):
            if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
                continue
            value, target = node.value, node.targets[0].id
            if target in found:
                continue
            if isinstance(value, (ast.List, ast.Tuple, ast.Dict)) or (
                    isinstance(value, ast.Name) and value.id in found):
                found.add(target)
                changed = True
    return frozenset(found)
