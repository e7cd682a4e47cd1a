"""Calls to the user's own Python functions, shared by both modes.

`user_call` matches a call to a user function against its signature; `active_arguments`
picks the arguments that carry a derivative; `primal_call` and `primal` make emitted code
call a callee's compiled primal (which runs on the arguments' backend) rather than the
user's original function.
"""

from __future__ import annotations

import ast
import copy
import inspect
import types

from srcgrad.codegen.source import Source
from srcgrad.codegen.syntax import assign, call, fix_locations, name, parameter_names, walk
from srcgrad.errors import UnsupportedSyntaxError

__all__ = ["active_arguments", "primal", "primal_call", "user_call"]


def user_call(source: Source, value: ast.expr):
    """(callee, {parameter: argument node}) when `value` calls a user's Python function."""
    if not isinstance(value, ast.Call):
        return None
    callee = source.resolver.resolve(value.func, frozenset())
    if not isinstance(callee, types.FunctionType):
        return None
    try:
        signature = inspect.signature(callee)
        bound = signature.bind(*value.args, **{k.arg: k.value for k in value.keywords})
    except (TypeError, ValueError) as exc:
        raise UnsupportedSyntaxError(
            f"cannot match this call to the signature of `{ast.unparse(value.func)}`: {exc}",
            source.locate(value), "pass the arguments the function declares") from None
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise UnsupportedSyntaxError(
                f"`{ast.unparse(value.func)}` takes *args or **kwargs, which srcgrad cannot "
                "differentiate through", source.locate(value), "give it named parameters")
    return callee, dict(bound.arguments)


def primal_call(source: Source, module, stmt: ast.stmt) -> ast.stmt:
    """`y = g(...)` for a user function g, calling g's compiled primal (which runs on the
    arguments' backend) when it compiles; other statements unchanged."""
    if module is None or not isinstance(stmt, ast.Assign):
        return stmt
    called = user_call(source, stmt.value)
    if called is None:
        return stmt
    emitted = module.primal(called[0], **call_context(source, called[1]))
    if emitted is None:
        return stmt
    new = copy.copy(stmt)
    new.value = copy.copy(stmt.value)
    new.value.func = name(emitted)
    return new


def primal(source: Source, function: ast.FunctionDef, module, emitted_name: str):
    """A normalized function as emitted code: its body, on the backend of its arguments."""
    params = parameter_names(function)
    namespace = assign("xp", call("rt.namespace", [], [(p, name(p)) for p in params]))
    new = copy.copy(function)
    new.name = emitted_name
    new.body = [namespace, *_calls_to_primals(source, module, function.body)]
    for stmt in new.body:
        if not hasattr(stmt, "lineno"):
            ast.copy_location(stmt, function)
    return fix_locations(new)


def _calls_to_primals(source: Source, module, body):
    out = []
    for stmt in body:
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            stmt = copy.copy(stmt)
            stmt.body = _calls_to_primals(source, module, stmt.body)
            stmt.orelse = _calls_to_primals(source, module, stmt.orelse)
        out.append(primal_call(source, module, stmt))
    return out


def active_arguments(source: Source, activity, stmt: ast.Assign, arguments: dict):
    """(parameter, argument name) for the arguments of a user call that carry a
    derivative; a varied value hidden inside a literal argument is an error."""
    active = []
    for parameter, node in arguments.items():
        if isinstance(node, ast.Name) and activity.varied_operand(stmt, node.id):
            active.append((parameter, node.id))
        elif any(isinstance(n, ast.Name) and activity.varied_operand(stmt, n.id)
                 for n in walk(node)):
            raise UnsupportedSyntaxError(
                f"a value that carries a derivative is passed to "
                f"`{ast.unparse(stmt.value.func)}` inside a literal", source.locate(stmt),
                "pass it as a plain name")
    return active


def call_specimens(source: Source, arguments: dict) -> dict:
    """The objects a call passes, by the callee's parameter names."""
    return {parameter: source.specimens[node.id] for parameter, node in arguments.items()
            if isinstance(node, ast.Name) and node.id in source.specimens}


def call_mappings(source: Source, arguments: dict) -> frozenset:
    """The callee's parameters a call passes the caller's dict parameters to."""
    return frozenset(parameter for parameter, node in arguments.items()
                     if isinstance(node, ast.Name) and node.id in source.mappings)


def call_context(source: Source, arguments: dict) -> dict:
    """What a callee is compiled for, from what the caller knows of the arguments a call
    passes it, by the callee's parameter names: the objects (`specimens`), the dicts
    (`mappings`), and the layouts of arrays and floats (`layouts`; `floats` the float64
    ones) that are the caller's own parameters, which it never rebinds."""
    rebound = source.rebound
    layouts, floats = {}, set()
    for parameter, node in arguments.items():
        if (isinstance(node, ast.Name) and node.id in source.layouts
                and node.id not in rebound):
            layouts[parameter] = source.layouts[node.id]
            if node.id in source.floats:
                floats.add(parameter)
    return {"specimens": call_specimens(source, arguments),
            "mappings": call_mappings(source, arguments),
            "layouts": layouts, "floats": frozenset(floats)}
