"""Shape classes: which names certainly have the same shape, and which are 0-d.

No shapes are known at compile time, but many equalities are: `y = tanh(x)` has x's shape,
`y = x * 2.0` too, an adjoint has its primal's shape, and a scalar output forces every
elementwise operand it came from to be 0-d. The optimizer uses this to drop
`xp.unbroadcast(g, x)` when `g` certainly already has `x`'s shape.

The analysis covers straight-line bodies; for any other body it knows nothing (so nothing
is dropped).
"""

from __future__ import annotations

import ast

from srcgrad.codegen import primitives
from srcgrad.codegen.syntax import walk
from srcgrad.records import record
from srcgrad.rules import registry

__all__ = ["ShapeClasses", "analyze", "SCALAR", "all_statements", "is_pop"]

SCALAR = "<python number>"  # broadcasts against anything and has shape ()

_ELEMENTWISE_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod)
# helper -> index of the argument whose shape the result has
_SHAPED_LIKE = {"unbroadcast": 1, "broadcast_like": 1, "unreduce": 1, "unindex": 1, "matmul_adjoint_a": 1,
                "matmul_adjoint_b": 2}


def _combine(classes):
    found = None
    for item in classes:
        if item is None:
            return None
        if item == SCALAR:
            continue
        if found is None:
            found = item
        elif found != item:
            return None
    return SCALAR if found is None else found


@record
class ShapeClasses:
    """`class_at[i]` maps names to classes before statement i; `zero_d` holds 0-d classes."""

    class_at: tuple
    zero_d: frozenset
    placeholders: frozenset = frozenset()  # (none: straight-line code has exact classes)

    def same_shape(self, index: int, expr: ast.expr, like: ast.expr) -> bool:
        env = self.class_at[index]
        a, b = class_of(expr, env), class_of(like, env)
        if a is None or b is None:
            return False
        if a == b and a != SCALAR:
            return True
        scalar_like = {SCALAR} | self.zero_d
        return a in scalar_like and b in scalar_like


def _elementwise_operands(expr: ast.expr):
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, _ELEMENTWISE_OPERATORS):
        return [expr.left, expr.right]
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
        return [expr.operand]
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        func = expr.func
        if isinstance(func.value, ast.Name) and func.value.id == "xp":
            found = registry.KERNELS.get(func.attr)
            if found is not None and found.key in registry.ELEMENTWISE:
                return [*expr.args, *(k.value for k in expr.keywords)]
    return None


def class_of(expr: ast.expr, env: dict):
    if isinstance(expr, ast.Name):
        return env.get(expr.id)
    if isinstance(expr, ast.Constant):
        return SCALAR if isinstance(expr.value, (int, float)) and not isinstance(
            expr.value, bool) else None
    operands = _elementwise_operands(expr)
    if operands is not None:
        return _combine(class_of(o, env) for o in operands)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        func = expr.func
        if isinstance(func.value, ast.Name) and func.value.id == "xp":
            position = _SHAPED_LIKE.get(func.attr)
            if position is not None and len(expr.args) > position:
                return class_of(expr.args[position], env)
    return None


def all_statements(body):
    """Every statement, nested ones included, in program order."""
    for stmt in body:
        yield stmt
        for field in ("body", "orelse"):
            yield from all_statements(getattr(stmt, field, []) or [])


def is_pop(value: ast.expr) -> bool:
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == "pop")


@record
class _FlowInsensitive:
    """Classes that hold for a name at every point (for bodies with branches and loops),
    but where a name in `placeholders` may still hold its 0.0 placeholder."""

    env: dict
    zero_d: frozenset
    placeholders: frozenset

    def same_shape(self, index, expr: ast.expr, like: ast.expr) -> bool:
        return ShapeClasses((self.env,), self.zero_d).same_shape(0, expr, like)


def _analyze_flow_insensitive(function: ast.FunctionDef) -> _FlowInsensitive:
    """One class per name, valid at every point: a name assigned values of different
    classes gets a class of its own. Restores from the stack and 0.0 placeholders (which
    are widened before any rule reads them) do not change a name's class; the names that
    have one are listed, since the widening itself must stay where it may still be one."""
    args = function.args
    env = {a.arg: a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    statements = list(all_statements(function.body))
    assigned = [s for s in statements if isinstance(s, ast.Assign)
                and isinstance(s.targets[0], ast.Name) and not is_pop(s.value)]
    computed = {s.targets[0].id for s in assigned if not isinstance(s.value, ast.Constant)}
    for stmt in statements:
        if isinstance(stmt, ast.For):
            env[stmt.target.id] = f"{stmt.target.id}#loop"
    for _ in range(len(assigned) + 2):
        before = dict(env)
        for stmt in statements:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and getattr(
                    stmt.value.func, "attr", None) == "require_same_shape":
                value, reference = stmt.value.args[:2]
                found = class_of(reference, env)
                if isinstance(value, ast.Name) and env.get(value.id) == value.id and found:
                    env[value.id] = found
            if stmt not in assigned:
                continue
            target = stmt.targets[0].id
            if isinstance(stmt.value, ast.Constant) and target in computed:
                continue
            found = class_of(stmt.value, env) or f"{target}#own"
            if target not in env:
                env[target] = found
            elif env[target] != found:
                env[target] = None  # its shape may differ from one point to another
        if env == before:
            break
    zero_d = set()
    for stmt in statements:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and getattr(
                stmt.value.func, "attr", None) == "require_scalar":
            found = class_of(stmt.value.args[0], env)
            if found is not None and found != SCALAR:
                zero_d.add(found)
    placeholders = {s.targets[0].id for s in assigned if isinstance(s.value, ast.Constant)}
    return _FlowInsensitive(env, frozenset(zero_d), frozenset(placeholders & computed))


def analyze(function: ast.FunctionDef):
    """Shape classes of a function: per statement for straight-line bodies, one class per
    name for bodies with branches and loops."""
    primitives.classify(ast.Constant(0))  # make sure the rules are registered
    body = function.body
    if any(isinstance(s, (ast.If, ast.For, ast.While, ast.With, ast.Try)) for s in body):
        return _analyze_flow_insensitive(function)
    args = function.args
    env = {a.arg: a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    class_at = []
    for index, stmt in enumerate(body):
        class_at.append(dict(env))
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            target = stmt.targets[0].id
            found = class_of(stmt.value, env)
            env[target] = found if found is not None else f"{target}#{index}"
        elif isinstance(stmt, ast.Assign):
            for node in walk(stmt.targets[0]):
                if isinstance(node, ast.Name):
                    env[node.id] = f"{node.id}#{index}"
    zero_d = set()
    for index, stmt in enumerate(body):
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            func = stmt.value.func
            if isinstance(func, ast.Attribute) and func.attr == "require_scalar":
                found = class_of(stmt.value.args[0], class_at[index])
                if found is not None and found != SCALAR:
                    zero_d.add(found)
            if isinstance(func, ast.Attribute) and func.attr == "require_same_shape":
                # From here on the (co)tangent provably has its reference's shape.
                cotangent, output = stmt.value.args[:2]
                found = class_of(output, class_at[index])
                if isinstance(cotangent, ast.Name) and found is not None:
                    for later in class_at[index + 1:]:
                        if later.get(cotangent.id) == cotangent.id:
                            later[cotangent.id] = found
                    if env.get(cotangent.id) == cotangent.id:
                        env[cotangent.id] = found
    changed = True
    while changed:  # a 0-d elementwise result has 0-d operands
        changed = False
        for index, stmt in enumerate(body):
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)):
                continue
            after = class_at[index + 1] if index + 1 < len(body) else env
            if after.get(stmt.targets[0].id) not in zero_d:
                continue
            for operand in _elementwise_operands(stmt.value) or []:
                found = class_of(operand, class_at[index])
                if found is not None and found != SCALAR and found not in zero_d:
                    zero_d.add(found)
                    changed = True
    return ShapeClasses(tuple(class_at), frozenset(zero_d))
