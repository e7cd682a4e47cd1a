"""Constant folding and forward constant and copy propagation in emitted functions.

`fold` does arithmetic on Python numbers and, in derivative code, drops identities
(`g * 1.0`, `0.0 + e`, `-(-e)`); `propagate` carries assignments of numbers and names
forward into the statements that read them, folding as it goes, so `b = a; c = b * 1.0`
reads `c = a` and the copies become dead (the optimizer removes them). Both report how
many rewrites they made, for the optimizer's driver.
"""

from __future__ import annotations

import ast
import operator
from numbers import Number

from srcgrad.codegen.analysis import liveness
from srcgrad.codegen.records import record_name
from srcgrad.codegen.syntax import clone, rewrite, stores_in

__all__ = ["Tally", "fold", "propagate", "number", "is_value"]

_FOLDABLE = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def number(node: ast.AST):
    """The value of a number literal (not a bool), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, Number) and not isinstance(
        node.value, bool
    ):
        return node.value
    return None


def is_value(node: ast.AST, value) -> bool:
    """Is `node` the number `value` (a Python number, not a bool)?"""
    found = number(node)
    return found is not None and found == value


def _fold_binop(node: ast.BinOp, algebra: bool) -> ast.expr:
    left, right, op = node.left, node.right, node.op
    a, b = number(left), number(right)
    if a is not None and b is not None and type(op) in _FOLDABLE:
        try:
            value = _FOLDABLE[type(op)](a, b)
        except (ZeroDivisionError, OverflowError):
            return node
        if isinstance(value, Number) and not isinstance(value, complex):
            return ast.copy_location(ast.Constant(value), node)
    if not algebra:
        return node
    if isinstance(op, (ast.Mult, ast.MatMult)) and (is_value(left, 0) or is_value(right, 0)):
        return ast.copy_location(ast.Constant(0.0), node)
    if isinstance(op, ast.Div) and is_value(left, 0):
        return ast.copy_location(ast.Constant(0.0), node)
    if isinstance(op, ast.Add) and is_value(left, 0):
        return right
    if isinstance(op, ast.Sub) and is_value(left, 0):
        return ast.copy_location(ast.UnaryOp(op=ast.USub(), operand=right), node)
    if isinstance(op, ast.Mult):
        if is_value(left, 1):
            return right
        if is_value(right, 1):
            return left
        if is_value(left, -1):
            return ast.copy_location(ast.UnaryOp(op=ast.USub(), operand=right), node)
        if is_value(right, -1):
            return ast.copy_location(ast.UnaryOp(op=ast.USub(), operand=left), node)
    if isinstance(op, ast.Div) and is_value(right, 1):
        return left
    if isinstance(op, ast.Pow) and is_value(right, 1):
        return left
    if isinstance(op, (ast.Add, ast.Sub)) and is_value(right, 0):
        return left
    if isinstance(op, ast.Sub) and isinstance(right, ast.UnaryOp) and isinstance(
        right.op, ast.USub
    ):
        return ast.copy_location(ast.BinOp(left=left, op=ast.Add(), right=right.operand), node)
    if isinstance(op, ast.Add) and isinstance(right, ast.UnaryOp) and isinstance(
        right.op, ast.USub
    ):
        return ast.copy_location(ast.BinOp(left=left, op=ast.Sub(), right=right.operand), node)
    return node


def _folded(node: ast.AST, algebra: bool) -> ast.AST:
    """One node, its children folded already."""
    kind = node.__class__
    if kind is ast.BinOp:
        return _fold_binop(node, algebra)
    if kind is ast.UnaryOp and algebra and isinstance(node.op, ast.USub):
        value = number(node.operand)
        if value is not None:
            return ast.copy_location(ast.Constant(-value), node)
        inner = node.operand
        if isinstance(inner, ast.UnaryOp) and isinstance(inner.op, ast.USub):
            return inner.operand
    if kind is ast.Subscript and algebra and is_value(node.value, 0):
        return node.value
    return node


_FOLDED_KINDS = (ast.BinOp, ast.UnaryOp, ast.Subscript)  # what `_folded` may replace


class Tally:
    """How many rewrites a pass has made."""

    __slots__ = ("count",)

    def __init__(self):
        self.count = 0


def fold(node: ast.AST, algebra: bool = True, tally: Tally | None = None,
         env: dict[str, ast.expr] | None = None) -> ast.AST:
    """Constant arithmetic on Python numbers and, in derivative code only (`algebra`),
    identities such as `g * 1.0 -> g` and zero tangents `0.0 * e -> 0.0`. Primal code keeps
    its identities: `mask * 1.0` converts booleans to floats and must stay. With `env`,
    the names it knows are first read as their values (constants and names). Changes
    `node` in place; returns the folded root; `tally` counts the rewrites."""
    tally = Tally() if tally is None else tally

    def change(n):
        kind = n.__class__
        if kind is ast.Name:
            if env and n.id in env and n.ctx.__class__ is ast.Load:
                tally.count += 1
                return ast.copy_location(clone(env[n.id]), n)
            return n
        if kind not in _FOLDED_KINDS:
            return n
        new = _folded(n, algebra)
        if new is not n:
            tally.count += 1
        return new

    return rewrite(node, change)


def _kill(env: dict, names) -> None:
    for name in names:
        env.pop(name, None)
        for key in [k for k, v in env.items() if isinstance(v, ast.Name) and v.id == name]:
            del env[key]


def _assigns_itself(stmt: ast.stmt) -> bool:
    return (type(stmt) is ast.Assign and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Name)
            and stmt.value.id == stmt.targets[0].id)


def _fold_owned(stmt: ast.stmt, algebra: bool, tally: Tally, env) -> ast.stmt:
    """`fold` for a statement assigning a name that is updated in place: a value folded to
    another name (`a * 1.0 -> a`, in derivative code) is copied instead (`a * 1.0`), and
    only a change to the statement counts as one."""
    before = ast.dump(stmt)
    stmt = fold(stmt, algebra, Tally(), env)
    if algebra and type(stmt) is ast.Assign and stmt.value.__class__ is ast.Name:
        stmt.value = ast.copy_location(
            ast.BinOp(left=stmt.value, op=ast.Mult(), right=ast.Constant(1.0)), stmt.value)
    if ast.dump(stmt) != before:
        tally.count += 1
    return stmt


def propagate(body: list[ast.stmt], primal: frozenset, tally: Tally,
              env=None, owned=frozenset()) -> list[ast.stmt]:
    """Forward constant and copy propagation (not into returns, so returned gradients keep
    their adjoint names). Statements defining `primal` names get constant arithmetic only.
    Into a branch or loop only facts about names it does not assign are carried. Names
    in `owned` are updated in place later, so each must hold an array of its own: an
    assignment to one never becomes a copy of another name (`b = a * 1.0` stays)."""
    env = {} if env is None else env
    out = []
    for stmt in body:
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            _kill(env, stores_in(stmt))
            header = "iter" if isinstance(stmt, ast.For) else "test"
            setattr(stmt, header, fold(getattr(stmt, header), False, tally, env))
            stmt.body = propagate(stmt.body, primal, tally, dict(env), owned)
            stmt.orelse = propagate(stmt.orelse, primal, tally, dict(env), owned)
            out.append(stmt)
            continue
        # (a record keeps its own name: its push and pop are matched by that name)
        if _assigns_itself(stmt) and stmt.targets[0].id not in primal:
            tally.count += 1  # `b = b` binds nothing new: it goes, and what is known stays
            continue
        known = None if isinstance(stmt, ast.Return) or record_name(stmt) else env
        defined = liveness.defines(stmt)  # (folding reads names, never binds them)
        if defined & owned:
            stmt = _fold_owned(stmt, not (defined & primal), tally, known)
        else:
            stmt = fold(stmt, not (defined & primal), tally, known)
        if _assigns_itself(stmt) and stmt.targets[0].id not in primal:
            continue  # `b = c` where c holds what b holds (and the fold counted a change)
        _kill(env, defined)
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            target = stmt.targets[0].id
            value = stmt.value
            if number(value) is not None or (isinstance(value, ast.Name) and value.id != target):
                env[target] = value
        out.append(stmt)
    return out
