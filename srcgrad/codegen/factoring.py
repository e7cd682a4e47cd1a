"""Common factors of an adjoint's contributions, multiplied in once (specialized code).

The product rule gives every path through `z = a * c` its own copy of the other factor:
`sum(tanh(x) ** 2 * exp(-x))` has the adjoint `e * 2 * t * (1 - t * t) - t ** 2 * e`
(t = tanh(x), e = exp(-x)): four multiplications by t or e where two do, and both t and
e live while either term is made. Written as `(2 * (1 - t * t) - t) * t`, then `* e`,
the sum needs one buffer besides t, and e, computed only now (its definition moves down
to its one use), can take t's memory once t is dead.

Exact in real arithmetic; in floating point the operations are regrouped, so the result
differs from the unfactored one by rounding, and where a partial product overflows in one
grouping and not in the other (`exp(-x)` at x = -800 multiplied in last gives -inf, as the
hand-written gradient does, where the unfactored sum gave inf * 0 = nan).
"""

from __future__ import annotations

import ast
import collections

from srcgrad.codegen.analysis import layouts
from srcgrad.codegen.syntax import names_in, stores_in, walk

__all__ = ["factor_contributions"]

_LARGEST_POWER = 4  # `t ** n` counts as n factors t up to here


class _Program:
    """What the rewrite needs to know of the function: where each name is stored and
    read, and the top-level statement that defines each name stored exactly once."""

    def __init__(self, function: ast.FunctionDef):
        self.stores: collections.Counter = collections.Counter()
        self.loads: collections.Counter = collections.Counter()
        for node in walk(function):
            if isinstance(node, ast.Name):
                counts = self.loads if isinstance(node.ctx, ast.Load) else self.stores
                counts[node.id] += 1
        for argument in walk(function.args):
            if isinstance(argument, ast.arg):
                self.stores[argument.arg] += 1
        self.parameters = {a.arg for a in function.args.args}
        self.defined: dict = {}  # name -> index of its top-level definition
        for index, stmt in enumerate(function.body):
            if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)):
                self.defined[stmt.targets[0].id] = index

    def fixed(self, name: str) -> bool:
        """Does `name` hold one value all through the function (a parameter never
        rebound, or a name one top-level statement assigns and nothing else)?"""
        if name in self.parameters:
            return self.stores[name] == 1
        return self.stores[name] == 1 and name in self.defined


def factor_contributions(function: ast.FunctionDef, argument_layouts: dict,
                         primal: frozenset, shapes=None) -> bool:
    """Take the factors (names) shared by every term of an adjoint's sum out of the sum.
    Top-level statements of derivative code only, on values of known shape; the
    temporaries a term is made of (products read nowhere else) are read into it first.
    `shapes` is the layouts analysis of the function as it is, when the caller has it.
    Returns whether anything changed."""
    if shapes is None:
        shapes = layouts.analyze(function, argument_layouts)
    changed = False
    index = 0
    program = _Program(function)
    while index < len(function.body):
        body = function.body
        found = _factored(body[index], index, body, program, primal, shapes)
        if found is None:
            index += 1
            continue
        statements, dead = found
        changed = True
        body[index:index + 1] = statements
        last = statements[-1]
        function.body = [s for i, s in enumerate(body) if i not in dead]
        _sink(function, last.value.right.id, last)
        index = function.body.index(last) + 1
        program = _Program(function)
    return changed


def _factored(stmt, index, body, program, primal, shapes):
    """(the statements `target = rest * c1`, `target = target * c2`, ... that replace
    `stmt`, the indices of the statements they make dead), when `stmt` is `target = <a
    sum of terms sharing the factors c1, c2, ...>` or completes such a sum (`target =
    target + b` after `target = a`); None otherwise."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id not in primal
            and isinstance(stmt.value, ast.BinOp)
            and isinstance(stmt.value.op, (ast.Add, ast.Sub)) and shapes.of(stmt.value)):
        return None
    target = stmt.targets[0].id
    found = _accumulated(body, index, target)
    if found is None:
        return None
    earlier, sums = found
    read_in: set = set()
    terms = [(sign, _factors(term, index, body, program, read_in))
             for value in sums for sign, term in _terms(value, 1)]
    if len(terms) < 2:
        return None
    common = None
    for _, factors in terms:
        count = collections.Counter(f.id for f in factors if isinstance(f, ast.Name))
        common = count if common is None else common & count
    common = collections.Counter({name: n for name, n in common.items()
                                  if name != target and program.fixed(name)})
    if not common:
        return None
    total = None
    for sign, factors in terms:
        left = collections.Counter(common)
        rest = []
        for factor in factors:
            if isinstance(factor, ast.Name) and left[factor.id]:
                left[factor.id] -= 1
            else:
                rest.append(factor)
        rest = _product(rest)
        if total is None:
            total = rest if sign > 0 else ast.UnaryOp(op=ast.USub(), operand=rest)
        else:
            total = ast.BinOp(left=total, op=ast.Add() if sign > 0 else ast.Sub(), right=rest)
    # the factor defined last is multiplied in last: its definition can move down to it
    order = sorted(common.elements(), key=lambda name: program.defined.get(name, -1))
    values = [ast.BinOp(left=total, op=ast.Mult(), right=ast.Name(order[0], ast.Load()))]
    values += [ast.BinOp(left=ast.Name(target, ast.Load()), op=ast.Mult(),
                         right=ast.Name(name, ast.Load())) for name in order[1:]]
    statements = [ast.copy_location(ast.Assign(targets=[ast.Name(target, ast.Store())],
                                               value=value), stmt) for value in values]
    return statements, earlier | {program.defined[name] for name in read_in}


def _accumulated(body, index, target):
    """(indices of the statements before `body[index]` that make the sum it completes,
    the values summed: `a`, `b`, `c` for `y = a`, `y = y + b`, `y = y - c` with nothing
    else reading or writing y in between), or None."""
    sums, earlier = [], set()
    rebound: set = set()  # names stored after body[j], before body[index]
    j = index
    while True:
        stmt = body[j]
        value = stmt.value
        if names_in(value) & rebound:
            return None  # its value would not be what it was at body[j]
        if (isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub))
                and isinstance(value.left, ast.Name) and value.left.id == target):
            if target in names_in(value.right):
                return None
            sums.insert(0, value.right if isinstance(value.op, ast.Add)
                        else ast.UnaryOp(op=ast.USub(), operand=value.right))
        elif target in names_in(value):
            return None
        else:
            sums.insert(0, value)
            return earlier, sums
        j -= 1
        while j >= 0 and target not in names_in(body[j]):
            rebound |= stores_in(body[j])
            j -= 1
        if j < 0 or not (isinstance(body[j], ast.Assign) and len(body[j].targets) == 1
                         and isinstance(body[j].targets[0], ast.Name)
                         and body[j].targets[0].id == target):
            return None
        earlier.add(j)


def _terms(expr, sign):
    """(sign, term) of a sum written with + and - (and unary minus)."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Sub)):
        right_sign = sign if isinstance(expr.op, ast.Add) else -sign
        return _terms(expr.left, sign) + _terms(expr.right, right_sign)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        return _terms(expr.operand, -sign)
    return [(sign, expr)]


def _factors(expr, index, body, program, read_in):
    """The factors of a product (`a * b * 2`; `t ** 2` is t, t); a name defined before
    `index` as a product of values that stay fixed, and read only here, is read in."""
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult):
        return (_factors(expr.left, index, body, program, read_in)
                + _factors(expr.right, index, body, program, read_in))
    if (isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Pow)
            and isinstance(expr.left, ast.Name) and program.fixed(expr.left.id)
            and isinstance(expr.right, ast.Constant) and type(expr.right.value) is int
            and 2 <= expr.right.value <= _LARGEST_POWER):
        return [expr.left] * expr.right.value
    if isinstance(expr, ast.Name):
        where = program.defined.get(expr.id)
        if (where is not None and where < index and program.fixed(expr.id)
                and program.loads[expr.id] == 1 and expr.id not in read_in):
            value = body[where].value
            if _is_product(value) and all(program.fixed(n.id) for n in walk(value)
                                          if isinstance(n, ast.Name)):
                read_in.add(expr.id)
                return _factors(value, index, body, program, read_in)
    return [expr]


def _is_product(expr) -> bool:
    return isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Mult, ast.Pow))


def _product(factors):
    if not factors:
        return ast.Constant(1)
    product = factors[0]
    for factor in factors[1:]:
        product = ast.BinOp(left=product, op=ast.Mult(), right=factor)
    return product


def _sink(function: ast.FunctionDef, name: str, use: ast.stmt) -> None:
    """Move the definition of `name`, read only by `use`, down to just before `use` (and
    so on for what only that definition reads), so that its value is made when needed."""
    program = _Program(function)
    body = function.body
    where = program.defined.get(name)
    if (where is None or not program.fixed(name) or not _pure(body[where].value)
            or program.loads[name] != sum(isinstance(n, ast.Name) and n.id == name
                                          for n in walk(use))):
        return
    operands = names_in(body[where].value)
    for stmt in body[where + 1:body.index(use)]:
        if stores_in(stmt) & operands:
            return  # an operand changes on the way: the value would not be the same
    definition = body.pop(where)
    body.insert(body.index(use), definition)
    for operand in {n.id for n in walk(definition.value) if isinstance(n, ast.Name)}:
        _sink(function, operand, definition)


def _pure(expr) -> bool:
    """Operators and backend kernels on names and numbers: nothing to run early or late."""
    for node in walk(expr):
        if isinstance(node, ast.Call):
            func = node.func
            if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id == "xp"):
                return False
        elif not isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant,
                                   ast.Attribute, ast.keyword, ast.operator, ast.unaryop,
                                   ast.expr_context)):
            return False
    return True
