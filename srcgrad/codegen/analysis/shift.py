"""Shift invariance: reductions whose value the output provably does not depend on.

The numerically stable softmax and log-sum-exp subtract a row maximum first:

    m = np.max(z, axis=1, keepdims=True)
    s = z - m
    out = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))

`out` does not change when `m` does, so the derivative through `m` is exactly zero, and
computing it (a sum of adjoints that cancels to rounding error, then the max's
subgradient) costs more than the rest of the softmax adjoint. This analysis finds such
`m` so that activity analysis can treat them as constants.

`m` qualifies when it is a reduction `xp.max/min/mean(a, axis=A, keepdims=True)` (or over
every axis), assigned once at the top level of the function, and read only by top-level
subtractions `s = x - m`. Each such `s` moves by the same `c` as `m` (`c` has `m`'s shape,
so it is constant along the reduced axes). The values computed from `s` are then followed,
statement by statement, through these rules:

    shifted by c:      x - m,  shifted + y,  shifted - y,  log(scaled),
                       max/min/mean of shifted over A (keepdims)
    scaled by e^-c:    exp(shifted),  scaled * y,  scaled / y,
                       sum/mean of scaled over A (keepdims)
    unchanged:         shifted - shifted,  scaled / scaled

where `y` does not depend on `m`. Any other use of a shifted or scaled value (a return, a
call, another operator, a statement inside a loop or branch) disqualifies `m`. Everything
the qualified `m` reaches is therefore unchanged by it, and so is the output.
"""

from __future__ import annotations

from srcgrad.codegen.syntax import walk

import ast

__all__ = ["invariant_reductions"]

_SOURCES = frozenset({"max", "min", "mean"})
_SHIFTED_REDUCTIONS = frozenset({"max", "min", "mean"})
_SCALED_REDUCTIONS = frozenset({"sum", "mean"})
_SHIFTED, _SCALED = "shifted", "scaled"


def invariant_reductions(function: ast.FunctionDef) -> frozenset[ast.stmt]:
    """The top-level statements `m = xp.<reduction>(...)` of a normalized function whose
    value the function's outputs do not depend on (see the module docstring)."""
    counts: dict[str, int] = {}
    for node in walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
    found = []
    for index, stmt in enumerate(function.body):
        name = _target(stmt)
        if name is None or counts.get(name) != 1:
            continue
        reduction = _reduction(stmt.value, _SOURCES)
        if reduction is not None and _unused_by_output(function, index, name, reduction[1],
                                                       counts):
            found.append(stmt)
    return frozenset(found)


def _target(stmt: ast.stmt) -> str | None:
    if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)):
        return stmt.targets[0].id
    return None


def _reduction(value: ast.expr, kinds) -> tuple[str, str | None, ast.expr] | None:
    """(kernel, axis, operand) for `xp.<kernel>(x, axis, keepdims=True)` with `kernel`
    in `kinds` and nothing else passed; the axis is None for a reduction over every axis
    (then keepdims does not matter). None for anything else."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name) and value.func.value.id == "xp"
            and value.func.attr in kinds and 1 <= len(value.args) <= 2):
        return None
    axis = value.args[1] if len(value.args) == 2 else None
    keepdims = None
    for keyword in value.keywords:
        if keyword.arg == "axis" and axis is None:
            axis = keyword.value
        elif keyword.arg == "keepdims" and isinstance(keyword.value, ast.Constant):
            keepdims = keyword.value.value
        else:
            return None
    if axis is None or (isinstance(axis, ast.Constant) and axis.value is None):
        return value.func.attr, None, value.args[0]
    if keepdims is not True:
        return None
    return value.func.attr, axis, value.args[0]


def _same_axes(a: ast.expr | None, b: ast.expr | None) -> bool:
    return (a is None) == (b is None) and (a is None or ast.dump(a) == ast.dump(b))


def _aligned(axis: ast.expr | None) -> bool:
    """Whether broadcasting against another operand keeps the reduced axes where they
    are: a reduction over every axis, or over axes counted from the end."""
    if axis is None:
        return True
    axes = axis.elts if isinstance(axis, ast.Tuple) else [axis]
    return all(isinstance(a, ast.Constant) and type(a.value) is int and a.value < 0
               for a in axes)


def _unused_by_output(function: ast.FunctionDef, start: int, source: str, axis,
                      counts: dict[str, int]) -> bool:
    """Whether everything computed from `source` (assigned by `function.body[start]`)
    reaches no output, following the rules of the module docstring."""
    kinds = {source: "source"}
    followed = {id(function.body[start])}
    for stmt in function.body[start + 1:]:
        name = _target(stmt)
        if name is None or not _reads(stmt, kinds):
            continue
        kind = _kind(stmt.value, kinds, axis)
        if kind is False or counts.get(name) != 1:
            return False
        followed.add(id(stmt))
        if kind is not None:  # an unchanged value: later reads of it are free
            kinds[name] = kind
    return not any(_reads(stmt, kinds) for stmt in function.body if id(stmt) not in followed)


def _reads(stmt: ast.stmt, kinds: dict) -> bool:
    return any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in kinds
               for n in walk(stmt))


def _kind(value: ast.expr, kinds: dict, axis):
    """The kind of `value` given the kinds of the names it reads: "shifted", "scaled",
    None (unchanged by the source), or False (a use the rules do not allow)."""
    def of(node):
        if isinstance(node, ast.Name):
            return kinds.get(node.id)
        return False if _reads(ast.Expr(node), kinds) else None

    if isinstance(value, ast.BinOp):
        left, right = of(value.left), of(value.right)
        if False in (left, right):
            return False
        op = type(value.op)
        if right == "source":
            return _SHIFTED if op is ast.Sub and left is None else False
        if op is ast.Sub and left == right == _SHIFTED:
            return None
        if op is ast.Div and left == right == _SCALED:
            return None
        if not _aligned(axis):  # broadcasting may add leading axes, moving axis A
            return False
        if op in (ast.Add, ast.Sub) and left == _SHIFTED and right is None:
            return _SHIFTED
        if op is ast.Add and left is None and right == _SHIFTED:
            return _SHIFTED
        if op in (ast.Mult, ast.Div) and left == _SCALED and right is None:
            return _SCALED
        if op is ast.Mult and left is None and right == _SCALED:
            return _SCALED
        return False
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name) and value.func.value.id == "xp"):
        kernel = value.func.attr
        if len(value.args) == 1 and not value.keywords and kernel in ("exp", "log"):
            operand = of(value.args[0])
            if kernel == "exp" and operand == _SHIFTED:
                return _SCALED
            if kernel == "log" and operand == _SCALED:
                return _SHIFTED
            return False
        for kinds_allowed, kind in ((_SHIFTED_REDUCTIONS, _SHIFTED),
                                    (_SCALED_REDUCTIONS, _SCALED)):
            reduction = _reduction(value, kinds_allowed)
            if (reduction is not None and of(reduction[2]) == kind
                    and (axis is None or _same_axes(reduction[1], axis))
                    and not _reads(ast.Expr(ast.Tuple([*value.args[1:]], ast.Load())), kinds)):
                return kind
    return False
