"""Small builders for the statements the transformations emit."""

from __future__ import annotations

import ast

__all__ = ["Comment", "assign", "name", "call", "clone", "walk", "children", "loads", "child_fields",
           "fix_locations", "rewrite", "links", "statements", "names_in", "stores_in", "fresh",
           "xp_calls", "namespace_statement", "parameter_names", "push", "pop", "STACK",
           "CONSTANTS", "STACKS"]

STACK = "stack"  # the list emitted code records values on, for the backward sweep
CONSTANTS = "constants"  # the same for values that carry no derivative (counters, flags)
STACKS = (STACK, CONSTANTS)


class Comment(ast.Pass):
    """A comment line in emitted code (rendered by emit, a no-op for every analysis)."""

    _fields = ()

    def __init__(self, text: str = "", **kwargs):
        super().__init__(**kwargs)
        self.text = text


_CLONED_FIELDS: dict[type, tuple[str, ...]] = {}  # the fields clone copies: all but ctx, op


def clone(node):
    """A deep copy of a syntax tree (a node, or a list of them): `copy.deepcopy` for ASTs,
    several times faster because it knows nodes hold only nodes, lists and constants.
    Contexts and operators (`Load`, `Add`), which hold nothing, are shared, as the parser
    shares them."""
    if isinstance(node, list):
        return [clone(item) for item in node]
    if not isinstance(node, ast.AST):
        return node  # identifiers, constants' values, None: immutable
    kind = node.__class__
    new = kind.__new__(kind)
    state = new.__dict__
    state.update(node.__dict__)
    fields = _CLONED_FIELDS.get(kind)
    if fields is None:
        fields = _CLONED_FIELDS[kind] = tuple(f for f in kind._fields if f not in ("ctx", "op"))
    for field in fields:
        value = state.get(field)
        if value.__class__ is list:
            state[field] = [clone(item) for item in value]
        elif isinstance(value, ast.AST):
            state[field] = clone(value)
    return new


# fields that never hold a node worth visiting: identifiers, flags, and the contexts and
# operators (`Load`, `Add`), which no pass looks for on their own
_NOT_CHILDREN = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "kind", "type_comment",
                           "name", "names", "module", "level", "is_async", "conversion",
                           "simple"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {ast.Constant: ()}


def _child_fields(kind: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS[kind] = tuple(f for f in kind._fields if f not in _NOT_CHILDREN)
    return fields


def child_fields(node: ast.AST) -> tuple[str, ...]:
    """The fields of `node` that may hold the nodes `walk` visits."""
    fields = _CHILD_FIELDS.get(node.__class__)
    return _child_fields(node.__class__) if fields is None else fields


def children(node: ast.AST) -> list:
    """The nodes directly below `node`, but contexts and operators."""
    fields = _CHILD_FIELDS.get(node.__class__)
    if fields is None:
        fields = _child_fields(node.__class__)
    found = []
    for field in fields:
        value = getattr(node, field, None)
        if value.__class__ is list:
            found += [item for item in value if isinstance(item, ast.AST)]
        elif isinstance(value, ast.AST):
            found.append(value)
    return found


def walk(node) -> list:
    """Every node of a tree but contexts and operators (`Load`, `Add`), in `ast.walk`'s
    order (breadth first), several times faster: the compiler walks statements thousands
    of times per derivative. A list: found before the caller sees the first."""
    found = [node]
    append, table, tree = found.append, _CHILD_FIELDS, ast.AST
    for node in found:  # (the list grows as the loop runs; `children` inlined: hot)
        fields = table.get(node.__class__)
        if fields is None:
            fields = _child_fields(node.__class__)
        for field in fields:
            value = getattr(node, field, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, tree):
                        append(item)
            elif isinstance(value, tree):
                append(value)
    return found


_POSITION = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def fix_locations(node: ast.AST, position=(1, 0, 1, 0)):
    """`ast.fix_missing_locations` (a node without a position takes its parent's), without
    visiting contexts and operators, which have none."""
    if "lineno" in node._attributes:
        own = (getattr(node, "lineno", None), getattr(node, "col_offset", None),
               getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None))
        if None in own:
            own = tuple(i if v is None else v for v, i in zip(own, position, strict=True))
            for attr, value in zip(_POSITION, own, strict=True):
                setattr(node, attr, value)
        position = own
    for child in children(node):
        fix_locations(child, position)
    return node


def loads(node: ast.AST) -> set[str]:
    """The names `node` reads (a faster `{n.id for n in walk(node) if <a Name read>}`)."""
    found: set[str] = set()
    _collect_loads(node, found)
    return found


def _collect_loads(node, found: set) -> None:
    if node.__class__ is ast.Name:
        if node.ctx.__class__ is ast.Load:
            found.add(node.id)
        return
    fields = _CHILD_FIELDS.get(node.__class__)
    if fields is None:
        fields = _child_fields(node.__class__)
    for field in fields:  # (`children` inlined: liveness reads every statement this way)
        value = getattr(node, field, None)
        if value.__class__ is list:
            for item in value:
                if isinstance(item, ast.AST):
                    _collect_loads(item, found)
        elif isinstance(value, ast.AST):
            _collect_loads(value, found)


def links(tree: ast.AST) -> tuple[dict[int, ast.AST], dict[str, list[ast.Name]]]:
    """The parent of every node of `tree` (by the child's id) and the `Name` nodes that
    read each identifier."""
    parents: dict[int, ast.AST] = {}
    reads: dict[str, list[ast.Name]] = {}
    for node in walk(tree):
        for child in children(node):
            parents[id(child)] = node
        if node.__class__ is ast.Name and node.ctx.__class__ is ast.Load:
            reads.setdefault(node.id, []).append(node)
    return parents, reads


def rewrite(node, change):
    """`node` with each of its nodes n (but contexts and operators) replaced, children
    first, by `change(n)` (which returns n itself to keep it): an `ast.NodeTransformer`
    with one method, several times faster. The tree is changed in place; returns the new
    root."""
    fields = _CHILD_FIELDS.get(node.__class__)
    if fields is None:
        fields = _child_fields(node.__class__)
    for field in fields:
        value = getattr(node, field, None)
        if value.__class__ is list:
            for index, item in enumerate(value):
                if isinstance(item, ast.AST):
                    new = rewrite(item, change)
                    if new is not item:
                        value[index] = new
        elif isinstance(value, ast.AST):
            new = rewrite(value, change)
            if new is not value:
                setattr(node, field, new)
    return change(node)


def statements(body: list[ast.stmt]):
    """Every statement of `body`, nested ones included (no expressions)."""
    for stmt in body:
        yield stmt
        for field in ("body", "orelse"):
            yield from statements(getattr(stmt, field, None) or [])


def names_in(node: ast.AST) -> set[str]:
    """Every name `node` reads or binds."""
    return {n.id for n in walk(node) if isinstance(n, ast.Name)}


def stores_in(node: ast.AST) -> set[str]:
    """The names `node` binds, nested statements included."""
    return {n.id for n in walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def fresh(stem: str, taken: set[str]) -> str:
    """`stem`, or `stem_2`, `stem_3`, ... : the first not in `taken` (which it joins)."""
    candidate, number = stem, 2
    while candidate in taken:
        candidate, number = f"{stem}_{number}", number + 1
    taken.add(candidate)
    return candidate


def xp_calls(node: ast.AST) -> set[str]:
    """The names of the backend functions `node` calls (`xp.<name>(...)`): a pass whose
    helpers are not among them has nothing to do."""
    return {n.func.attr for n in walk(node) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
            and n.func.value.id == "xp"}


def namespace_statement(function: ast.FunctionDef) -> ast.stmt | None:
    """The function's `xp = rt.namespace(...)` (emitted code binds it first), or None."""
    for stmt in function.body[:1]:
        if (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id == "xp"):
            return stmt
    return None


def name(identifier: str, store: bool = False) -> ast.Name:
    return ast.Name(identifier, ast.Store() if store else ast.Load())


def assign(target: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[name(target, True)], value=value)


def call(func: str, args=(), keywords=()) -> ast.Call:
    """`call("xp.tanh", [x])` -> `xp.tanh(x)`; keywords are (name, expr) pairs."""
    parts = func.split(".")
    target: ast.expr = name(parts[0])
    for part in parts[1:]:
        target = ast.Attribute(value=target, attr=part, ctx=ast.Load())
    return ast.Call(func=target, args=list(args),
                    keywords=[ast.keyword(arg=k, value=v) for k, v in keywords])


def push(identifier: str, stack: str = STACK) -> ast.Expr:
    """`stack.append(x)`: record a value the backward sweep will need again. Values that
    carry no derivative go on `constants`, so that transforming emitted code again sees
    that what comes back from there carries none either."""
    return ast.Expr(call(f"{stack}.append", [name(identifier)]))


def pop(identifier: str, stack: str = STACK) -> ast.Assign:
    """`x = stack.pop()`: restore it."""
    return assign(identifier, call(f"{stack}.pop"))


def parameter_names(function: ast.FunctionDef) -> list[str]:
    args = function.args
    return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
