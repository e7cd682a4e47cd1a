"""Nested function definitions, lifted out of the function being differentiated.

    def f(x, w):                         def g__in_f(t, *, w):
        def g(t):                            return t * w
            return t * w          ->
        return g(x).sum()                def f(x, w):
                                             return g__in_f(x, w=w).sum()

A `def` at the top level of the body becomes a function of its own whose extra keyword-only
parameters are the enclosing variables it reads; every call (including its own recursive
calls) passes their values at the time of the call, which is what Python's closures see.
The lifted function is an ordinary function object (its source registered in `linecache`),
so the rest of the compiler differentiates it like any other callee.
"""

from __future__ import annotations

import ast
import copy
import itertools
import linecache
import types

from srcgrad.codegen.source import Resolver, Source
from srcgrad.codegen.syntax import clone, fix_locations, walk

__all__ = ["lift_nested"]

_counter = itertools.count(1)


def _loaded(node: ast.AST) -> set[str]:
    return {n.id for n in walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _stored(node: ast.AST) -> set[str]:
    names = {n.id for n in walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    if isinstance(node, ast.FunctionDef):
        args = node.args
        names |= {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    return names


class _Calls(ast.NodeTransformer):
    """`g(...)` -> `g__in_f(..., w=w)` for every lifted g."""

    def __init__(self, lifted: dict[str, tuple[str, list[str]]]):
        self.lifted = lifted

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.lifted:
            new_name, free = self.lifted[node.func.id]
            node.func = ast.copy_location(ast.Name(new_name, ast.Load()), node.func)
            node.keywords = node.keywords + [
                ast.keyword(arg=v, value=ast.Name(v, ast.Load())) for v in free]
        return node


def _function_object(tree: ast.FunctionDef, namespace: dict) -> types.FunctionType:
    """Compile `tree` into a function with globals `namespace`, its text in linecache."""
    text = ast.unparse(ast.Module(body=[tree], type_ignores=[])) + "\n"
    filename = f"<srcgrad-lifted-{next(_counter)} {tree.name}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    module = compile(text, filename, "exec")
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    lifted = types.FunctionType(code, namespace, tree.name)
    lifted.__kwdefaults__ = None
    return lifted


def lift_nested(source: Source) -> Source:
    """`source` with the top-level nested `def`s of its body lifted out (see above)."""
    tree = source.tree
    nested = [s for s in tree.body if isinstance(s, ast.FunctionDef)]
    if not nested:
        return source
    outer_locals = _stored(tree)
    lifted: dict[str, tuple[str, list[str]]] = {}
    for definition in nested:
        free = sorted((_loaded(definition) - _stored(definition)) & outer_locals
                      - {d.name for d in nested})
        lifted[definition.name] = (f"{definition.name}__in_{tree.name}", free)
    namespace = _Extra(source.resolver.globals, {})  # the lifted functions see each other
    for definition in nested:
        new_name, free = lifted[definition.name]
        new = _Calls(lifted).visit(clone(definition))
        new.name = new_name
        new.decorator_list = []
        new.args.kwonlyargs += [ast.arg(arg=v) for v in free]
        new.args.kw_defaults += [None] * len(free)
        namespace[new_name] = _function_object(fix_locations(new), namespace)
    body = [_Calls(lifted).visit(clone(s)) for s in tree.body
            if not isinstance(s, ast.FunctionDef)]
    new_tree = copy.copy(tree)
    new_tree.body = [fix_locations(s) for s in body]
    resolver = Resolver(namespace, source.resolver.closure)
    return Source(function=source.function, tree=new_tree, filename=source.filename,
                  line_offset=source.line_offset, col_offset=source.col_offset,
                  lines=source.lines, resolver=resolver, specimens=source.specimens,
                  layouts=source.layouts, floats=source.floats,
                  sequences=source.sequences, mappings=source.mappings)


class _Extra(dict):
    """A function's globals plus names srcgrad adds (lifted functions, methods resolved
    from an argument's type), looked up live."""

    def __init__(self, base, extra):
        super().__init__(extra)
        self._base = base

    def __missing__(self, name):
        return self._base[name]

