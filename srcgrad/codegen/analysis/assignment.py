"""Assignment facts: which names are overwritten, and whether a name may (not) hold a value
at a given point. The reverse pass records a value before it is overwritten only where an
older value may exist, and pre-sets to None a recorded name that may still be unbound.
"""

from __future__ import annotations

import ast
from collections import Counter
from types import MappingProxyType

from srcgrad.codegen.analysis import cfg as cfg_module
from srcgrad.codegen.analysis.dataflow import FORWARD, solve
from srcgrad.codegen.syntax import walk
from srcgrad.records import record

__all__ = ["Assignments", "analyze", "targets"]


def targets(stmt: ast.AST) -> frozenset[str]:
    """Names a statement (or a loop header) assigns."""
    if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute) and stmt.value.func.attr == "append"
            and isinstance(stmt.value.func.value, ast.Name)):
        return frozenset({stmt.value.func.value.id})
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript):
        base = stmt.targets[0].value
        return frozenset({base.id}) if isinstance(base, ast.Name) else frozenset()
    if isinstance(stmt, ast.Assign):
        nodes = stmt.targets
        if len(nodes) == 1 and nodes[0].__class__ is ast.Name:
            return frozenset((nodes[0].id,))
    elif isinstance(stmt, ast.For):
        nodes = [stmt.target]
    else:
        return frozenset()
    return frozenset(n.id for t in nodes for n in walk(t) if isinstance(n, ast.Name))


@record
class Assignments:
    multi: frozenset  # names with more than one assignment, or assigned in a loop
    assigned_before: MappingProxyType  # statement -> names that may hold a value before it
    unassigned_before: MappingProxyType  # statement -> names that may be unbound before it

    def is_multi(self, name: str) -> bool:
        return name in self.multi

    def may_be_assigned_before(self, stmt: ast.AST, name: str) -> bool:
        return name in self.assigned_before[stmt]

    def may_be_unassigned_before(self, stmt: ast.AST, name: str) -> bool:
        return name in self.unassigned_before[stmt]


def _inside(node: ast.AST, loop: ast.AST) -> bool:
    return any(node is inner for inner in walk(loop)) and node is not loop


def analyze(function: ast.FunctionDef) -> Assignments:
    graph = cfg_module.build(function)
    args = function.args
    params = frozenset(a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs])
    sites: Counter = Counter()
    in_loop: set[str] = set()
    for node in walk(function):
        for target in targets(node):
            sites[target] += 1
        if isinstance(node, (ast.For, ast.While)):
            for inner in walk(node):
                if inner is not node or isinstance(node, ast.For):
                    in_loop |= targets(inner)
    multi = frozenset(n for n, count in sites.items() if count > 1 or n in params) | in_loop
    locals_ = frozenset(sites) - params

    def assigned(node, facts):
        return facts | targets(node.ast_node)

    def unassigned(node, facts):
        return facts - targets(node.ast_node)

    may_assigned = solve(graph, FORWARD, assigned, boundary=params)
    may_unassigned = solve(graph, FORWARD, unassigned, boundary=locals_)

    def before(facts, transfer_out):
        table = {}
        for node in graph.nodes:
            if node.ast_node is None:
                continue
            if isinstance(node.ast_node, (ast.For, ast.While)):
                # For a loop, "before" means on entry, not after a previous iteration.
                entering = [p for p in node.predecessors
                            if p.ast_node is None or not _inside(p.ast_node, node.ast_node)]
                value = frozenset()
                for pred in entering:
                    value |= transfer_out[pred]
                table[node.ast_node] = value
            else:
                table[node.ast_node] = facts[node]
        return MappingProxyType(table)

    return Assignments(
        multi=multi,
        assigned_before=before(may_assigned.before, may_assigned.after),
        unassigned_before=before(may_unassigned.before, may_unassigned.after),
    )
