"""Liveness: which names a statement's value may still be read from afterwards."""

from __future__ import annotations

import ast
from types import MappingProxyType

from srcgrad.codegen.analysis import cfg as cfg_module
from srcgrad.codegen.analysis.dataflow import BACKWARD, solve
from srcgrad.codegen.syntax import loads, walk
from srcgrad.records import record

__all__ = ["Liveness", "analyze", "uses", "defines"]


def defines(stmt: ast.AST) -> frozenset[str]:
    if stmt.__class__ is ast.Assign and len(stmt.targets) == 1 and (
            stmt.targets[0].__class__ is ast.Name):
        return frozenset((stmt.targets[0].id,))  # (the common case, first)
    if isinstance(stmt, ast.For):
        return frozenset(n.id for n in walk(stmt.target) if isinstance(n, ast.Name))
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return frozenset(
            n.id for t in targets for n in walk(t)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        )
    return frozenset()


def uses(stmt: ast.AST) -> frozenset[str]:
    if stmt is None:
        return frozenset()
    if stmt.__class__ is ast.Assign and stmt.targets[0].__class__ is ast.Name:
        return frozenset(loads(stmt.value))  # (the common case, first)
    parts = [stmt.value] if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else [stmt]
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript):
        parts.append(stmt.targets[0])  # `y[k] = v` reads y (and k) and keeps y alive
    if isinstance(stmt, (ast.If, ast.While)):
        parts = [stmt.test]
    elif isinstance(stmt, ast.For):
        parts = [stmt.iter]
    found = set()
    for part in parts:
        if part is not None:
            found |= loads(part)
    return frozenset(found)


@record
class Liveness:
    live_after: MappingProxyType  # statement -> names read later
    defined: MappingProxyType  # statement -> names it binds

    def is_dead(self, stmt: ast.stmt) -> bool:
        targets = self.defined[stmt]
        return bool(targets) and not (targets & self.live_after[stmt])


def analyze(function: ast.FunctionDef, removable=None) -> Liveness:
    """The names live after each statement. With `removable` (statement -> bool: may it
    go when nothing reads what it binds?), what such a statement reads counts only when
    something reads what it binds (strongly live names): then every removable statement
    that binds no live name can go at once, chains of dead temporaries included."""
    graph = cfg_module.build(function)
    # what each statement binds and reads, found once (the solver visits nodes repeatedly)
    effects = {node: (defines(node.ast_node), uses(node.ast_node)) for node in graph.nodes}
    optional = frozenset() if removable is None else frozenset(
        node for node in graph.nodes if node.ast_node is not None and effects[node][0]
        and removable(node.ast_node))

    def transfer(node, live):
        killed, read = effects[node]
        if node in optional and live.isdisjoint(killed):
            return live
        return (live - killed) | read

    facts = solve(graph, BACKWARD, transfer)
    statements = [n for n in graph.nodes if n.ast_node is not None]
    return Liveness(MappingProxyType({n.ast_node: facts.after[n] for n in statements}),
                    MappingProxyType({n.ast_node: effects[n][0] for n in statements}))
