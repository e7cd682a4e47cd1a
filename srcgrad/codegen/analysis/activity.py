"""Activity analysis: which values carry derivatives.

A value is *varied* when it depends differentiably on a `wrt` parameter (forward analysis)
and *useful* when the output depends differentiably on it (backward analysis). Only values
that are both, the *active* ones, get adjoint or tangent code. Dependence flows through the
operands a rule differentiates (`d[p]` in its adjoint): `x.shape`, comparisons, an index,
`axis=`, and non-differentiable primitives (`np.floor`, `np.argmax`) stop it. A call
srcgrad cannot see into is assumed to depend on all its operands, so that the reverse pass
can report it if a derivative would have to flow through it.
"""

from __future__ import annotations

import ast
from types import MappingProxyType

from srcgrad.codegen import primitives, template
from srcgrad.codegen.analysis import cfg as cfg_module
from srcgrad.codegen.analysis import shift
from srcgrad.codegen.analysis.dataflow import BACKWARD, FORWARD, solve
from srcgrad.codegen.syntax import walk
from srcgrad.records import record

__all__ = ["Activity", "analyze", "differentiable_operands", "assigned_name", "is_slot_update",
           "is_append", "output_names"]


def assigned_name(stmt: ast.AST) -> str | None:
    """The name an assignment binds, or the array a slot assignment (`y[k] = v`) updates."""
    if isinstance(stmt, ast.Assign):
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            return target.id
        if is_slot_update(stmt):
            return target.value.id
    if is_append(stmt):
        return stmt.value.func.value.id
    return None


def is_append(stmt: ast.AST) -> bool:
    """`items.append(v)` in normalized code: an in-place update of the list `items`."""
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute) and stmt.value.func.attr == "append"
            and isinstance(stmt.value.func.value, ast.Name))


def is_slot_update(stmt: ast.AST) -> bool:
    """`y[key] = v` in normalized code: an in-place update of the array `y`."""
    return (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript)
            and isinstance(stmt.targets[0].value, ast.Name))


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in walk(node) if isinstance(n, ast.Name) and n.id != "xp"}


def differentiable_operands(value: ast.expr) -> frozenset[str]:
    """Names a derivative can flow through in a normalized right-hand side."""
    found = primitives.classify(value)
    if found.kind == primitives.Kind.COPY:
        return frozenset(_names(value))
    if found.kind == primitives.Kind.METADATA:
        return frozenset()
    if found.kind == primitives.Kind.PACK:
        parts = value.values if isinstance(value, ast.Dict) else value.elts
        return frozenset(p.id for p in parts if isinstance(p, ast.Name))
    if found.kind == primitives.Kind.OPAQUE:
        return frozenset(_names(value))
    rule = found.rule
    if not rule.differentiable:
        return frozenset()
    binding = template.bind(rule, value)
    names = set()
    for param in template.differentiable_params(rule):
        names.update(n for n in binding.names(param) if n)
        names.update(binding.embedded(param))  # so the reverse pass can report them
    return frozenset(names)


def output_names(function: ast.FunctionDef, has_aux: bool = False) -> frozenset[str]:
    """Names whose value the function returns as its (differentiated) output."""
    names = set()
    for node in walk(function):
        if isinstance(node, ast.Return) and node.value is not None:
            value = node.value
            if has_aux and isinstance(value, ast.Tuple):
                value = value.elts[0]
            names |= _names(value)
    return frozenset(names)


@record
class Activity:
    """Side table of the analysis; statements are keys, never annotated."""

    varied_before: MappingProxyType
    varied_after: MappingProxyType
    useful_after: MappingProxyType
    wrt: frozenset

    def active_target(self, stmt: ast.stmt) -> bool:
        name = assigned_name(stmt)
        return name is not None and name in self.varied_after[stmt] and name in self.useful_after[stmt]

    def varied_operand(self, stmt: ast.stmt, name: str) -> bool:
        return name in self.varied_before[stmt]


def analyze(function: ast.FunctionDef, wrt, has_aux: bool = False) -> Activity:
    """Activity of every assignment in a normalized function, for parameters `wrt`.

    A reduction that the output provably does not depend on (a softmax's max shift, see
    :mod:`shift`) is a constant: no derivative flows through it.
    """
    graph = cfg_module.build(function)
    constants = shift.invariant_reductions(function)
    operands = {}
    for node in graph.nodes:
        name = assigned_name(node.ast_node)
        if name is not None and node.ast_node in constants:
            operands[node] = (name, frozenset())
        elif name is not None and is_append(node.ast_node):
            appended = node.ast_node.value.args[0]
            extra = {appended.id} if isinstance(appended, ast.Name) else set()
            operands[node] = (name, frozenset({name}) | extra)
        elif name is not None and is_slot_update(node.ast_node):
            # The updated array depends on its old contents and on the value written.
            operands[node] = (name, frozenset({name}) | differentiable_operands(node.ast_node.value))
        elif name is not None:
            operands[node] = (name, differentiable_operands(node.ast_node.value))

    def varied(node, facts):
        if isinstance(node.ast_node, ast.For):  # a loop counter takes integer values
            return facts - {node.ast_node.target.id}
        if node not in operands:
            return facts
        name, uses = operands[node]
        return facts | {name} if uses & facts else facts - {name}

    def useful(node, facts):
        if isinstance(node.ast_node, ast.Return):
            return facts | output_names(ast.Module(body=[node.ast_node], type_ignores=[]), has_aux)
        if node not in operands:
            return facts
        name, uses = operands[node]
        if name in facts:
            return (facts - {name}) | uses
        return facts

    forward = solve(graph, FORWARD, varied, boundary=frozenset(wrt))
    backward = solve(graph, BACKWARD, useful)
    keyed = lambda table: MappingProxyType(  # noqa: E731
        {n.ast_node: table[n] for n in graph.nodes if n.ast_node is not None}
    )
    return Activity(
        varied_before=keyed(forward.before),
        varied_after=keyed(forward.after),
        useful_after=keyed(backward.after),
        wrt=frozenset(wrt),
    )
