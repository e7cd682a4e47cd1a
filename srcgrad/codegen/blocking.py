"""Long elementwise chains over large arrays, run block by block so that their temporaries
stay in the cache.

A chain of elementwise statements over arrays of one shape (`t = xp.tanh(x); g = t * t;
g -= t; ...`, W6's gradient) reads and writes every temporary once per statement: on
arrays larger than the cache, each statement streams its operands from memory. Run over
blocks of rows, the same statements find their operands in the cache. The chain becomes a
nested function of the arrays it reads, called through `xp.blockwise`:

    # elementwise from here: xp.blockwise runs it on blocks of rows that fit in the cache
    def chain(x):
        tanh_x = xp.tanh(x)
        ...
        return bx
    bx = xp.blockwise(chain, x)

The statements are the ones that were there, so the function computes the same values
bit for bit, in blocks or whole; `xp.blockwise` decides at run time (NumPy arrays of one
shape, C-contiguous, large enough) and otherwise makes one call.

Blocks pay when the statements pass many more arrays through memory than the chain takes
in and hands back (at least twice as many): then most of them stay in the cache.

A statement joins a chain when it is elementwise (arithmetic, comparisons, the
elementwise kernels, `out=` into a name of the chain), its result has the chain's shape,
and every name it reads from before the chain holds either an array of that shape
(passed in, sliced into blocks) or a number (read from the enclosing function). A chain
writes into no array from before it, by an update or an `out=` at any depth (a slice of
a shared buffer would see blocks of other arrays change in another order), and the names
it hands back are distinct arrays it made.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis import layouts
from srcgrad.codegen.syntax import Comment, call, fix_locations, fresh, loads, name, walk

__all__ = ["block_elementwise", "MIN_STATEMENTS"]

MIN_STATEMENTS = 3  # operations: shorter chains keep their few passes over memory
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.FloorDiv)
_UPDATES = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_COMPARISONS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)


def _looks_elementwise(expr: ast.expr) -> bool:
    """Only names, numbers and elementwise operations (shapes not yet asked)."""
    kind = expr.__class__
    if kind is ast.Name:
        return True
    if kind is ast.Constant:
        return type(expr.value) in (int, float, bool)
    if kind is ast.BinOp:
        return (isinstance(expr.op, _OPERATORS) and _looks_elementwise(expr.left)
                and _looks_elementwise(expr.right))
    if kind is ast.UnaryOp:
        return isinstance(expr.op, (ast.USub, ast.UAdd)) and _looks_elementwise(expr.operand)
    if kind is ast.Compare:
        return (len(expr.ops) == 1 and isinstance(expr.ops[0], _COMPARISONS)
                and _looks_elementwise(expr.left) and _looks_elementwise(expr.comparators[0]))
    if kind is ast.Call:
        func = expr.func
        return (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == "xp"
                and layouts.elementwise_kernel(func.attr, len(expr.args))
                and all(_looks_elementwise(a) for a in expr.args)
                and all(k.arg == "out" and isinstance(k.value, ast.Name) for k in expr.keywords))
    return False


def _candidate(stmt: ast.stmt) -> bool:
    """Could `stmt` be part of a chain (judging its form only)?"""
    if isinstance(stmt, ast.Assign):
        return (len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and _looks_elementwise(stmt.value))
    if isinstance(stmt, ast.AugAssign):
        return (isinstance(stmt.target, ast.Name) and isinstance(stmt.op, _UPDATES)
                and _looks_elementwise(stmt.value))
    return False


def _runs(body: list[ast.stmt]) -> list[tuple[int, int]]:
    """(start, end) of the stretches of candidate statements (comments inside them
    included) with at least MIN_STATEMENTS statements."""
    runs, start, count = [], None, 0
    for index, stmt in enumerate([*body, None]):
        if stmt is not None and _candidate(stmt):
            if start is None:
                start, count = index, 0
            count += 1
            last = index
        elif stmt is not None and isinstance(stmt, Comment) and start is not None:
            continue
        else:
            if start is not None and count >= MIN_STATEMENTS:
                runs.append((start, last + 1))
            start = None
    return runs


class _Chain:
    """What a stretch of statements reads and binds, grown one statement at a time."""

    def __init__(self, shapes: layouts.Shapes, shape):
        self.shapes, self.shape = shapes, shape
        self.inputs: list[str] = []  # arrays of the chain's shape read from before it
        self.numbers: set[str] = set()  # numbers read from before it
        self.buffers: dict[str, int] = {}  # name bound in the chain -> the array it holds
        self.arrays = 0  # arrays made so far
        self.traffic = 0  # arrays the statements read and write, whole, one after another

    def _array_like(self, expr) -> bool:
        return self.shapes.equal(self.shapes.of(expr), self.shape)

    def _reads(self, expr: ast.expr) -> bool:
        """Does every name `expr` reads hold an array of the chain's shape or a number?"""
        for node in walk(expr):
            if node.__class__ is ast.Call and any(
                    k.value.id not in self.buffers for k in node.keywords):
                return False  # (`out=` an array from before the chain, at any depth)
            if node.__class__ is ast.Name and node.id not in self.buffers:
                if node.id == "xp":
                    continue
                found = self.shapes.of(node)
                if found == ():
                    self.numbers.add(node.id)
                elif self.shapes.equal(found, self.shape):
                    if node.id not in self.inputs:
                        self.inputs.append(node.id)
                else:
                    return False
        return True

    def _written(self, expr: ast.expr) -> int | None:
        """The array `expr` gives: a name's, the one a kernel writes into (`out=b`), or a
        new one (None: an array from before the chain)."""
        if isinstance(expr, ast.Name):
            return self.buffers.get(expr.id)
        if isinstance(expr, ast.Call) and expr.keywords:  # (`out=b`, the only keyword)
            return self.buffers.get(expr.keywords[0].value.id)
        self.arrays += 1
        return self.arrays

    def add(self, stmt: ast.stmt) -> bool:
        """Take `stmt` into the chain; False (the chain unchanged) when it cannot join."""
        if isinstance(stmt, Comment):
            return True
        saved = (list(self.inputs), set(self.numbers), self.arrays)
        if isinstance(stmt, ast.AugAssign):
            target = stmt.target.id
            joins = (target in self.buffers and self._array_like(stmt.target)
                     and self._reads(stmt.value))
            buffer = self.buffers.get(target)
        else:
            target = stmt.targets[0].id
            joins = (self._array_like(stmt.targets[0]) and self._array_like(stmt.value)
                     and self._reads(stmt.value))
            buffer = self._written(stmt.value) if joins else None
        if not joins or buffer is None:
            self.inputs, self.numbers, self.arrays = saved
            return False
        self.buffers[target] = buffer
        self.traffic += self._traffic(stmt)
        return True

    def _traffic(self, stmt: ast.stmt) -> int:
        """How many arrays `stmt`'s operations read and write."""
        def is_array(expr) -> bool:
            return self.shapes.of(expr) != ()

        count = 0
        if isinstance(stmt, ast.AugAssign):
            count += 2 + is_array(stmt.value)  # the target read and written
        for node in walk(stmt.value):
            kind = node.__class__
            if kind is ast.BinOp:
                operands = (node.left, node.right)
            elif kind is ast.UnaryOp:
                operands = (node.operand,)
            elif kind is ast.Compare:
                operands = (node.left, *node.comparators)
            elif kind is ast.Call:
                operands = node.args
            else:
                continue
            if is_array(node):
                count += 1 + sum(is_array(operand) for operand in operands)
        return count


def _read_later(body: list[ast.stmt], end: int) -> set[str]:
    found: set[str] = set()
    for stmt in body[end:]:
        found |= loads(stmt)
    return found


def _block(body: list[ast.stmt], start: int, end: int, shapes: layouts.Shapes,
           taken: set[str]) -> int:
    """Turn the longest chain that starts at `start` (and ends before `end`) into a
    blockwise call; how many statements it took (0: none, or none worth it)."""
    first = body[start]
    shape = shapes.of(first.value)
    if not shape or all(d == 1 for d in shape):
        return 0
    chain = _Chain(shapes, shape)
    stop, count = start, 0
    for index in range(start, end):
        if not chain.add(body[index]):
            break
        if not isinstance(body[index], Comment):
            stop = index + 1
            count += not (isinstance(body[index], ast.Assign)
                          and isinstance(body[index].value, ast.Name))  # (a copy is no pass)
    if count < MIN_STATEMENTS or chain.numbers & set(chain.buffers):
        return 0
    later = _read_later(body, stop)
    outputs = [n for n in chain.buffers if n in later]
    if not outputs or len({chain.buffers[n] for n in outputs}) < len(outputs):
        return 0  # nothing to hand back, or two names of one array
    if chain.traffic < 2 * (len(chain.inputs) + len(outputs)):
        return 0  # most of what it reads and writes comes in or goes out anyway
    kernel = fresh("chain", taken)

    def handed_back(store: bool) -> ast.expr:
        if len(outputs) == 1:
            return name(outputs[0], store)
        return ast.Tuple([name(n, store) for n in outputs], ast.Store() if store else ast.Load())

    definition = ast.FunctionDef(
        name=kernel,
        args=ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in chain.inputs],
                           kwonlyargs=[], kw_defaults=[], defaults=[]),
        body=[*body[start:stop], ast.Return(handed_back(False))],
        decorator_list=[], returns=None)
    if "type_params" in ast.FunctionDef._fields:  # (Python 3.12 on)
        definition.type_params = []
    targets = handed_back(True)
    blockwise = ast.Assign(targets=[targets], value=call(
        "xp.blockwise", [name(kernel), *(name(n) for n in chain.inputs)]))
    note = Comment("elementwise from here: xp.blockwise runs it on blocks of rows that fit "
                   "in the cache")
    position = (first.lineno, first.col_offset, first.lineno, first.col_offset)
    body[start:stop] = [fix_locations(note, position), fix_locations(definition, position),
                        fix_locations(blockwise, position)]
    return stop - start


def block_elementwise(function: ast.FunctionDef, shapes: layouts.Shapes) -> bool:
    """Run the long elementwise chains of `function`'s top level block by block; True
    when there was one. `shapes` are those of its names (an analysis of the code before
    its temporaries were updated in place, which binds no new names and keeps their
    shapes, is good)."""
    runs = _runs(function.body)
    if not runs:
        return False
    taken = {n.id for n in walk(function) if isinstance(n, ast.Name)}
    body = function.body
    changed = False
    shift = 0  # how many statements fewer the body has now than when `runs` were found
    for start, end in runs:
        index, end = start - shift, end - shift
        while end - index >= MIN_STATEMENTS:
            took = 0 if isinstance(body[index], Comment) else _block(
                body, index, end, shapes, taken)
            if took:
                changed = True
                shift += took - 3  # (three statements stand for them now)
                end -= took - 3
                index += 3
            else:
                index += 1
    return changed
