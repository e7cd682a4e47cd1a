"""Structured control flow: canonical loops, and no `break`, `continue` or early `return`.

Runs on the user's tree before normalization and returns a new tree in which

* every `for` loop is `for <name> in range(<args>)`: loops over sequences, `enumerate`,
  `zip` and `reversed` read their elements by index at the top of the body;
* `break`, `continue` and `return` inside the body become flag assignments, and the
  statements a jump would skip are guarded by `if not <flag>:`; a loop that can be left
  early is a `while` loop that also tests its flag;
* the function ends in its only `return`.

The reverse pass then only meets if/else, `for ... in range(...)` run to completion, and
`while` loops, whose adjoints are a replayed branch flag, a reversed range and a counted
loop.
"""

from __future__ import annotations

import ast
import builtins

from srcgrad.codegen.naming import Namer
from srcgrad.codegen.source import Source, object_like
from srcgrad.codegen.syntax import clone, fix_locations, walk
from srcgrad.errors import UnsupportedSyntaxError

__all__ = ["structure"]

_LOOPS = (ast.For, ast.While)
_UNKNOWN = object()


def _name(name: str, store: bool = False) -> ast.Name:
    return ast.Name(name, ast.Store() if store else ast.Load())


def _assign(target, value) -> ast.Assign:
    target = _name(target, True) if isinstance(target, str) else target
    return ast.Assign(targets=[target], value=value)


def _call(func: str, *args) -> ast.Call:
    return ast.Call(func=_name(func), args=list(args), keywords=[])


def _item(container: str, key: ast.expr) -> ast.Subscript:
    return ast.Subscript(value=_name(container), slice=key, ctx=ast.Load())


def _dict_locals(function: ast.FunctionDef) -> frozenset:
    """The variables of `function` that every assignment gives a dict display."""
    displays: dict[str, int] = {}
    stores: dict[str, int] = {}
    for node in walk(function):
        if isinstance(node, ast.arg) or (isinstance(node, ast.Name)
                                         and isinstance(node.ctx, ast.Store)):
            label = node.arg if isinstance(node, ast.arg) else node.id
            stores[label] = stores.get(label, 0) + 1
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Dict)):
            displays[node.targets[0].id] = displays.get(node.targets[0].id, 0) + 1
    return frozenset(n for n, count in displays.items() if stores[n] == count)


def _not(name: str) -> ast.expr:
    return ast.UnaryOp(op=ast.Not(), operand=_name(name))


def _contains(body, kinds, stop_at_loops: bool) -> bool:
    """Does `body` contain a node of `kinds`, not counting nested functions (and nested
    loops when `stop_at_loops`)?"""
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, kinds):
            return True
        if isinstance(node, (ast.FunctionDef, ast.Lambda)):
            continue
        if stop_at_loops and isinstance(node, _LOOPS):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _sets(stmt: ast.stmt, flags: set[str]) -> bool:
    """May executing `stmt` raise one of `flags` (assign it True)?"""
    for node in walk(stmt):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and (
                node.value.value is True):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in flags:
                    return True
    return False


def _guard(body: list[ast.stmt], flags: list[str]) -> list[ast.stmt]:
    """After a statement that may set a flag, run the rest only while no flag is set."""
    out: list[ast.stmt] = []
    for index, stmt in enumerate(body):
        if isinstance(stmt, ast.If):
            stmt.body = _guard(stmt.body, flags)
            stmt.orelse = _guard(stmt.orelse, flags)
        out.append(stmt)
        rest = body[index + 1:]
        live = [f for f in flags if _sets(stmt, {f})]
        if rest and live:
            guarded = _guard(rest, flags)
            for flag in reversed(live):
                guarded = [ast.If(test=_not(flag), body=guarded, orelse=[])]
            out += guarded
            return out
    return out


class _Structurer:
    def __init__(self, source: Source, namer: Namer, result: str | None = None):
        self.source = source
        self.namer = namer
        self.result = result  # the variable early returns store their value in
        self.dict_locals = _dict_locals(source.tree)

    def builtin(self, node: ast.expr, name: str) -> bool:
        allowed = {"start"} if name == "enumerate" else set()
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == name
            and self.source.resolver.lookup(name) is getattr(builtins, name)
            and all(k.arg in allowed for k in node.keywords)
        )

    # -- loops over sequences become loops over an index -----------------------------------

    def canonical_for(self, loop: ast.For) -> list[ast.stmt]:
        """`for t in X` as `for k in range(...)` (plus set-up statements before it)."""
        if self.builtin(loop.iter, "range"):
            return [loop]
        before: list[ast.stmt] = []
        index = self.namer.fresh("index")
        count, element = self.view(loop.iter, before)
        header = ast.copy_location(_assign(clone(loop.target), element(_name(index))),
                                   loop.target)
        _store(header.targets[0])
        new = ast.For(target=_name(index, True), iter=_call("range", count),
                      body=[header, *loop.body], orelse=loop.orelse, type_comment=None)
        ast.copy_location(new, loop)
        for stmt in before:
            ast.copy_location(stmt, loop)
        return [*before, new]

    def view(self, iterable: ast.expr, before: list[ast.stmt]):
        """(length expression, element(index) -> expression) for what a loop iterates over;
        `zip`, `enumerate` and `reversed` nest freely."""
        if self.builtin(iterable, "enumerate") and len(iterable.args) + len(
                iterable.keywords) in (1, 2) and iterable.args:
            count, inner = self.view(iterable.args[0], before)
            start = iterable.args[1] if len(iterable.args) == 2 else None
            if iterable.keywords:
                start = iterable.keywords[0].value

            def element(k):
                counter = k if start is None else ast.BinOp(left=k, op=ast.Add(),
                                                            right=clone(start))
                return ast.Tuple(elts=[counter, inner(clone(k))], ctx=ast.Load())

            return count, element
        if self.builtin(iterable, "zip") and iterable.args:
            views = [self.view(a, before) for a in iterable.args]
            counts = [c for c, _ in views]
            count = counts[0] if len(counts) == 1 else _call("min", *counts)
            return count, lambda k: ast.Tuple(elts=[f(clone(k)) for _, f in views],
                                              ctx=ast.Load())
        if self.builtin(iterable, "reversed") and len(iterable.args) == 1:
            count, inner = self.view(iterable.args[0], before)
            length = self.namer.fresh("length")
            before.append(_assign(length, count))

            def backwards(k):
                last = ast.BinOp(left=_name(length), op=ast.Sub(), right=ast.Constant(1))
                return inner(ast.BinOp(left=last, op=ast.Sub(), right=k))

            return _name(length), backwards
        found = self.mapping(iterable)
        if found is not None:
            return self.entries(*found, before)
        seq = self.held(iterable, "items", before)
        return _call("len", _name(seq)), lambda k: _item(seq, k)

    def held(self, value: ast.expr, label: str, before: list[ast.stmt]) -> str:
        """The name `value` is read by: itself, or a new variable assigned before."""
        if isinstance(value, ast.Name):
            return value.id
        name = self.namer.fresh(label)
        before.append(_assign(name, value))
        return name

    def mapping(self, iterable: ast.expr):
        """(dict, what a trip reads: "keys", "values" or "items") when a loop runs over a
        dict: its `.keys()`, `.values()` or `.items()`, or a name `is_dict` knows for
        one. None otherwise."""
        if (isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute)
                and iterable.func.attr in ("keys", "values", "items")
                and not iterable.args and not iterable.keywords
                and self.is_dict(iterable.func.value) is not False):
            return iterable.func.value, iterable.func.attr
        if self.is_dict(iterable):
            return iterable, "keys"
        return None

    def entries(self, mapping: ast.expr, part: str, before: list[ast.stmt]):
        """The view of a loop over a dict's keys, values or items: its keys are listed
        once before the loop (`keys = params.keys()`, a list in emitted code), and each
        trip reads `keys[k]` and the entry `params[keys[k]]`."""
        held = self.held(mapping, "mapping", before)
        names = self.namer.fresh("keys")
        listed = ast.Call(func=ast.Attribute(value=_name(held), attr="keys", ctx=ast.Load()),
                          args=[], keywords=[])
        before.append(_assign(names, listed))

        def element(k):
            if part == "keys":
                return _item(names, k)
            entry = _item(held, _item(names, k))
            if part == "values":
                return entry
            return ast.Tuple(elts=[_item(names, clone(k)), entry], ctx=ast.Load())

        return _call("len", _name(names)), element

    def is_dict(self, node: ast.expr):
        """Is `node` a dict in the call compiled for: a parameter it passes a dict to, a
        variable only ever assigned dict displays, or an attribute of a parameter object
        (None: not known)?"""
        if isinstance(node, ast.Name) and (node.id in self.source.mappings
                                           or node.id in self.dict_locals):
            return True
        value = self.held_by_object(node)
        return None if value is _UNKNOWN else isinstance(value, dict)

    def held_by_object(self, node: ast.expr):
        """What an attribute chain from a parameter object (`self.layers`) holds in the
        call compiled for; `_UNKNOWN` for anything else."""
        path = []
        while isinstance(node, ast.Attribute):
            path.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.source.specimens:
            return _UNKNOWN
        value = self.source.specimens[node.id]
        for attr in reversed(path):
            value = getattr(value, attr, _UNKNOWN)
        return value

    # -- loops over lists of modules are unrolled -----------------------------------------

    def modules(self, iterable: ast.expr):
        """The objects a loop iterates over, when it runs over a list or tuple of objects
        held by a parameter object (`for layer in self.layers`): each may be of another
        type, so each iteration's calls resolve to other methods. None otherwise."""
        value = self.held_by_object(iterable)
        if isinstance(value, (list, tuple)) and value and all(object_like(v) for v in value):
            return value
        return None

    def unrolled(self, loop: ast.For) -> list[ast.stmt]:
        """`for layer in self.layers: body` as one copy of the body per layer, each after
        `layer = items[k]` with a constant k (the list's length is fixed by the objects
        the derivative is compiled for)."""
        items = self.namer.fresh("items")
        out = [ast.copy_location(_assign(items, clone(loop.iter)), loop)]
        for k in range(len(self.modules(loop.iter))):
            read = _assign(clone(loop.target),
                           ast.Subscript(value=_name(items), slice=ast.Constant(k),
                                         ctx=ast.Load()))
            _store(read.targets[0])
            out += [ast.copy_location(read, loop.target), *clone(loop.body)]
        return out + loop.orelse

    def while_from_for(self, loop: ast.For) -> list[ast.stmt]:
        """A range loop that can be left early, as a while loop over an explicit counter."""
        items = self.namer.fresh("steps")
        position = self.namer.fresh("step")
        count = self.namer.fresh("step_count")
        setup = [
            _assign(items, clone(loop.iter)),
            _assign(position, ast.Constant(0)),
            _assign(count, _call("len", _name(items))),
        ]
        test = ast.Compare(left=_name(position), ops=[ast.Lt()], comparators=[_name(count)])
        read = _assign(clone(loop.target),
                       ast.Subscript(value=_name(items), slice=_name(position), ctx=ast.Load()))
        _store(read.targets[0])
        advance = _assign(position, ast.BinOp(left=_name(position), op=ast.Add(),
                                              right=ast.Constant(1)))
        body = [read, *loop.body]
        new = ast.While(test=test, body=body, orelse=loop.orelse)
        for stmt in setup:
            ast.copy_location(stmt, loop)
        ast.copy_location(new, loop)
        return setup, new, advance

    # -- jumps ---------------------------------------------------------------------------

    def body(self, body: list[ast.stmt], returned: str | None) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            out += self.statement(stmt, returned)
        return out

    def statement(self, stmt: ast.stmt, returned: str | None) -> list[ast.stmt]:
        if isinstance(stmt, ast.If):
            stmt.body = self.body(stmt.body, returned)
            stmt.orelse = self.body(stmt.orelse, returned)
            return [stmt]
        if isinstance(stmt, ast.For) and self.modules(stmt.iter) is not None and not _contains(
                stmt.body, (ast.Break, ast.Continue, ast.Return), stop_at_loops=False):
            return self.body(self.unrolled(stmt), returned)
        if isinstance(stmt, ast.For):
            pieces = self.canonical_for(stmt)
            *setup, loop = pieces
            return [*setup, *self.loop(loop, returned)]
        if isinstance(stmt, ast.While):
            return self.loop(stmt, returned)
        if isinstance(stmt, ast.Return) and returned is not None:
            value = stmt.value if stmt.value is not None else ast.Constant(None)
            result = [_assign(self.result, value), _assign(returned, ast.Constant(True))]
            return [ast.copy_location(s, stmt) for s in result]
        return [stmt]

    def loop(self, loop, returned: str | None) -> list[ast.stmt]:
        jumps = _contains(loop.body, (ast.Break,), stop_at_loops=True)
        skips = _contains(loop.body, (ast.Continue,), stop_at_loops=True)
        leaves = returned is not None and _contains(loop.body, (ast.Return,), stop_at_loops=False)
        broke = self.namer.fresh("broke") if jumps else None
        skipped = self.namer.fresh("skipped") if skips else None
        loop.body = self.body(loop.body, returned)
        loop.body = _replace_jumps(loop.body, broke, skipped)
        orelse, loop.orelse = loop.orelse, []
        flags = [f for f in (returned if leaves else None, broke, skipped) if f]
        setup: list[ast.stmt] = []
        advance: list[ast.stmt] = []
        if isinstance(loop, ast.For) and (broke or leaves):
            more, loop, step = self.while_from_for(loop)
            setup += more
            advance = [step]
        if skipped:
            loop.body.insert(1 if advance else 0, _assign(skipped, ast.Constant(False)))
        loop.body = _guard(loop.body, flags) + advance
        if broke:
            setup.append(_assign(broke, ast.Constant(False)))
        stop_flags = [f for f in (broke, returned if leaves else None) if f]
        if stop_flags and isinstance(loop, ast.While):
            loop.test = ast.BoolOp(op=ast.And(), values=[*(_not(f) for f in stop_flags),
                                                         loop.test])
        for stmt in setup:
            ast.copy_location(stmt, loop)
            fix_locations(stmt)
        after = []
        if orelse:
            orelse = self.body(orelse, returned)
            if broke:
                after = [ast.If(test=_not(broke), body=orelse, orelse=[])]
            else:
                after = orelse
        return [*setup, loop, *after]


def _store(target: ast.expr) -> None:
    for node in walk(target):
        if hasattr(node, "ctx"):
            node.ctx = ast.Store() if isinstance(node, (ast.Name, ast.Tuple, ast.List)) else node.ctx


def _replace_jumps(body, broke, skipped):
    """`break` -> `broke = True`, `continue` -> `skipped = True` (not inside nested loops)."""

    class Replace(ast.NodeTransformer):
        def visit_For(self, node):
            return node

        def visit_While(self, node):
            return node

        def visit_Break(self, node):
            return ast.copy_location(_assign(broke, ast.Constant(True)), node)

        def visit_Continue(self, node):
            return ast.copy_location(_assign(skipped, ast.Constant(True)), node)

    replace = Replace()
    return [replace.visit(stmt) for stmt in body]


def structure(source: Source, tree: ast.FunctionDef, namer: Namer) -> ast.FunctionDef:
    """Return a copy of `tree` with canonical loops and no jumps (see the module docstring)."""
    tree = clone(tree)
    body = tree.body
    early = any(
        isinstance(node, ast.Return)
        for stmt in body[:-1] for node in walk(stmt)
    ) or (body and not isinstance(body[-1], ast.Return) and _contains(body, (ast.Return,), False))
    if not early:
        tree.body = _Structurer(source, namer).body(body, None)
    else:
        returned = namer.fresh("returned")
        result = namer.fresh("result")
        structurer = _Structurer(source, namer, result)
        final = body[-1] if isinstance(body[-1], ast.Return) else None
        main = body[:-1] if final is not None else body
        new = [_assign(returned, ast.Constant(False))]
        new += structurer.body(main, returned)
        new = _guard(new, [returned])
        if final is not None:
            value = final.value if final.value is not None else ast.Constant(None)
            tail = [_assign(result, value)]
            new.append(ast.If(test=_not(returned), body=tail, orelse=[]))
        tree.body = new + [ast.Return(value=_name(result))]
        for stmt in tree.body:
            ast.copy_location(stmt, final or tree)
        # (once `result` holds a value nothing but the return runs: no update can reach it)
        tree.early_result = result
    for node in walk(tree):
        if isinstance(node, (ast.Break, ast.Continue)):
            raise UnsupportedSyntaxError(
                f"`{type(node).__name__.lower()}` outside a loop", source.locate(node),
                "remove it")
    return fix_locations(tree)
