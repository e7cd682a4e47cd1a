"""Forward mode: the tangent (JVP) function of a normalized function.

Each active primal statement is followed by its tangent statements, spliced from the same
rule table as the adjoints (`with tangent:` blocks); branches and loops keep their shape.
A tangent has its primal's shape: where an operand is inactive its tangent is the constant
0.0, the optimizer folds the zero away, and the result is wrapped in
`xp.broadcast_like(t, y)`, which the optimizer drops again wherever it can prove the shapes
already agree. A variable that carries a tangent somewhere gets a zero tangent wherever it
is assigned a value that does not depend on the inputs.
"""

from __future__ import annotations

import ast
import copy

from srcgrad.codegen import primitives, template
from srcgrad.codegen.adjoints import is_pop
from srcgrad.codegen.analysis import activity as activity_module
from srcgrad.codegen.analysis import containers as containers_module
from srcgrad.codegen.calls import active_arguments, call_context, primal_call, user_call
from srcgrad.codegen.naming import Namer
from srcgrad.codegen.normalize import local_names
from srcgrad.codegen.source import Source
from srcgrad.codegen.syntax import (Comment, assign, call, clone, fix_locations, name,
                                    parameter_names, walk)
from srcgrad.errors import UnknownCalleeError, UnsupportedSyntaxError

__all__ = ["forward"]

ZERO = 0.0
_REPLACES_PRIMAL = ast.Pass()  # marks a tangent block that computes the primal value too


class _Forward:
    def __init__(self, source: Source, function: ast.FunctionDef, wrt, function_name: str,
                 module=None, emitted_name: str | None = None, internal: bool = False):
        self.source = source
        self.function = function
        self.wrt = tuple(wrt)
        self.name = function_name
        self.module = module
        self.emitted_name = emitted_name
        self.internal = internal
        self.activity = activity_module.analyze(function, self.wrt)
        self.containers = containers_module.containers(function)
        # the lists and tuples the call passes (when it is known), as they came
        self.sequences = containers_module.sequence_parameters(function, source.sequences)
        self.namer = Namer(local_names(function))
        self.tangents: dict[str, str] = {}
        self.carriers = set(self.wrt) | {
            activity_module.assigned_name(s) for s in walk(function)
            if (isinstance(s, ast.Assign) or activity_module.is_append(s)) and self.varied_after(s)
        }

    def tangent_name(self, primal: str) -> str:
        if primal not in self.tangents:
            self.tangents[primal] = self.namer.fresh(f"d{primal}")
        return self.tangents[primal]

    def varied_after(self, stmt) -> bool:
        target = activity_module.assigned_name(stmt)
        return target is not None and target in self.activity.varied_after[stmt]

    def tangent_value(self, stmt, node: ast.expr) -> ast.expr:
        """The tangent of an atom operand: its tangent name, or zeros of its shape."""
        if isinstance(node, ast.Name) and self.activity.varied_operand(stmt, node.id):
            return name(self.tangent_name(node.id))
        return call("xp.zeros_tree", [clone(node)])

    def tangent_of(self, stmt: ast.Assign) -> list[ast.stmt]:
        if activity_module.is_append(stmt):
            items = stmt.value.func.value.id
            dvalue = self.tangent_value(stmt, stmt.value.args[0])
            return [ast.Expr(call(f"{self.tangent_name(items)}.append", [dvalue]))]
        joined = containers_module.joined_containers(stmt.value, self.containers, (ast.Add,))
        if joined is not None:  # (`+` of lists would get the rule of a sum)
            message, hint = containers_module.joining_error(joined, "forward")
            raise UnsupportedSyntaxError(message, self.source.locate(stmt), hint)
        if containers_module.joined_arguments(stmt.value, self.sequences) is ast.Add:
            # lists the call passes, joined: so are their tangents, zeros for a list that
            # carries none (the rule of a sum would leave its slots out)
            joined = ast.List(elts=[ast.Starred(self.tangent_value(stmt, side), ast.Load())
                                    for side in (stmt.value.left, stmt.value.right)],
                              ctx=ast.Load())
            return [assign(self.tangent_name(stmt.targets[0].id), joined)]
        if isinstance(stmt.value, (ast.List, ast.Tuple, ast.Dict)):
            value = stmt.value
            if isinstance(value, ast.Dict):
                packed = ast.Dict(keys=clone(value.keys),
                                  values=[self.tangent_value(stmt, v) for v in value.values])
            else:  # (a tuple's tangent is a tuple, a list's a list)
                packed = type(value)(elts=[self.tangent_value(stmt, e) for e in value.elts],
                                     ctx=ast.Load())
            return [assign(self.tangent_name(stmt.targets[0].id), packed)]
        if activity_module.is_slot_update(stmt):
            # `y[key] = v`: the tangent gets the same update (on a copy: tangents may share
            # arrays).
            array = stmt.targets[0].value.id
            value = stmt.value
            dvalue: ast.expr = ast.Constant(ZERO)
            if isinstance(value, ast.Name) and self.activity.varied_operand(stmt, value.id):
                dvalue = name(self.tangent_name(value.id))
            key = template.index_value(stmt.targets[0].slice)
            update = call("xp.update_slot", [name(self.tangent_name(array)), key, dvalue])
            return [assign(self.tangent_name(array), update)]
        target = stmt.targets[0].id
        value = stmt.value
        found = primitives.classify(value)
        dtarget = self.tangent_name(target)
        if found.kind == primitives.Kind.COPY:
            return [assign(dtarget, name(self.tangent_name(value.id)))]
        if is_pop(value):  # `x = items.pop()`: the tangent list gives back its last entry
            items = value.func.value.id
            if items in self.carriers:
                return [assign(dtarget, call(f"{self.tangent_name(items)}.pop"))]
            return [assign(dtarget, call("xp.zeros_tree", [name(target)]))]
        if found.kind == primitives.Kind.OPAQUE and self.module is not None and (
                user_call(self.source, value) is not None):
            return self.tangent_of_call(stmt, *user_call(self.source, value))
        if found.kind == primitives.Kind.OPAQUE:
            raise UnknownCalleeError(
                f"cannot differentiate through `{ast.unparse(value)}`: srcgrad has no rule for "
                "it and cannot read its source", self.source.locate(stmt),
                "use NumPy functions with rules, or srcgrad.stop_gradient if no derivative "
                "should flow through it")
        rule = found.rule
        binding = template.bind(rule, value, self.source.locate)
        template.check_embedded(binding, stmt, self.activity, self.source.locate)
        derivs = {}
        for param in template.mentions(rule.tangent) - {rule.result}:
            derivs[param] = binding.derivatives(
                param, lambda n: self.activity.varied_operand(stmt, n), self.tangent_name)
        derivs[rule.result] = dtarget
        zeros = []

        def zero(param, index):
            zeros.append(param)
            return ast.Constant(ZERO)

        spliced = template.instantiate(rule.tangent, binding, name(target), derivs,
                                       self.namer, "tangent", stmt, zero=zero)
        if not zeros:  # every operand's tangent is there: the rule gives the right shape
            return spliced
        for piece in spliced:
            if (isinstance(piece, ast.Assign) and isinstance(piece.targets[0], ast.Name)
                    and piece.targets[0].id == dtarget):
                piece.value = call("xp.broadcast_like", [piece.value, name(target)])
        return spliced

    def tangent_of_call(self, stmt: ast.Assign, callee, arguments: dict) -> list[ast.stmt]:
        """`y = g(...)` for a user function g becomes `y, dy = g_jvp(<tangents>, ...)`;
        the primal call is replaced (the caller drops the original statement)."""
        value = stmt.value
        active = active_arguments(self.source, self.activity, stmt, arguments)
        entry = self.module.request(callee, "jvp", tuple(p for p, _ in active),
                                    **call_context(self.source, arguments))
        push = ast.Call(func=name(entry.name),
                        args=[*(name(self.tangent_name(o)) for _, o in active),
                              *clone(value.args)],
                        keywords=clone(value.keywords))
        target = stmt.targets[0].id
        both = ast.Tuple(elts=[name(target, True), name(self.tangent_name(target), True)],
                         ctx=ast.Store())
        return [_REPLACES_PRIMAL, ast.Assign(targets=[both], value=push)]

    def comment(self, stmt: ast.stmt) -> Comment:
        line = getattr(stmt, "lineno", self.function.lineno)
        text = self.source.lines[line - 1].strip() if 0 < line <= len(self.source.lines) else ""
        return ast.copy_location(
            Comment(f"tangent of line {line + self.source.line_offset}: {text}"), stmt)

    def block(self, stmts) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            if isinstance(stmt, ast.Assign) or activity_module.is_append(stmt):
                out.append(primal_call(self.source, self.module, stmt))
                target = activity_module.assigned_name(stmt)
                if self.varied_after(stmt):
                    block = self.tangent_of(stmt)
                    if block and block[0] is _REPLACES_PRIMAL:
                        out.pop()
                        block = block[1:]
                    out.append(self.comment(stmt))
                    out += [ast.copy_location(s, stmt) for s in block]
                elif target in self.carriers and activity_module.is_append(stmt):
                    dvalue = call("xp.zeros_tree", [clone(stmt.value.args[0])])
                    append = ast.Expr(call(f"{self.tangent_name(target)}.append", [dvalue]))
                    out.append(ast.copy_location(append, stmt))
                elif target in self.carriers and activity_module.is_slot_update(stmt):
                    key = template.index_value(stmt.targets[0].slice)
                    update = call("xp.update_slot", [name(self.tangent_name(target)), key,
                                                     ast.Constant(ZERO)])
                    out.append(ast.copy_location(assign(self.tangent_name(target), update), stmt))
                elif target in self.carriers:
                    zero = assign(self.tangent_name(target), call("xp.zeros_tree", [name(target)]))
                    out.append(ast.copy_location(zero, stmt))
            elif isinstance(stmt, (ast.If, ast.For, ast.While)):
                new = copy.copy(stmt)
                new.body = self.block(stmt.body) or [ast.Pass()]
                new.orelse = self.block(stmt.orelse)
                out.append(new)
            else:
                out.append(stmt)
        return out

    def run(self) -> ast.FunctionDef:
        body = self.function.body
        ret = body[-1]
        if isinstance(ret.value, ast.Tuple):
            raise UnsupportedSyntaxError(
                "jvp needs a function that returns one value", self.source.locate(ret),
                "return a single array")
        params = parameter_names(self.function)
        tangent_params = [self.tangent_name(p) for p in self.wrt]
        keywords = [(p, name(p)) for p in params] + [(t, name(t)) for t in tangent_params]
        new_body: list[ast.stmt] = [assign("xp", call("rt.namespace", [], keywords))]
        for param, tangent in zip(self.wrt, tangent_params, strict=True):
            description = ast.Constant(f"jvp of {self.name}: the tangent {tangent}")
            check = call("xp.require_same_shape", [name(tangent), name(param), description])
            new_body.append(ast.copy_location(ast.Expr(check), self.function))
        for param in params:  # an input that only later takes part starts with a zero tangent
            if param in self.carriers and param not in self.wrt:
                zero = assign(self.tangent_name(param), call("xp.zeros_tree", [name(param)]))
                new_body.append(ast.copy_location(zero, self.function))
        new_body += self.block(body[:-1])
        output = ret.value
        if isinstance(output, ast.Name) and output.id in self.carriers:
            doutput = name(self.tangent_name(output.id))
        else:
            doutput = call("xp.zeros_tree", [output])
        result = ast.Tuple(elts=[output, doutput], ctx=ast.Load())
        new_body.append(ast.copy_location(ast.Return(value=result), ret))
        function = copy.copy(self.function)
        function.name = self.emitted_name or self.namer.fresh(f"{self.function.name}_jvp")
        function.args = clone(self.function.args)
        if self.internal:  # called positionally by emitted code: tangents first
            function.args.posonlyargs = [ast.arg(arg=t) for t in tangent_params] + (
                function.args.posonlyargs)
            tangent_params = []
        for tangent in tangent_params:
            if function.args.kwonlyargs or function.args.defaults:
                function.args.kwonlyargs.append(ast.arg(arg=tangent))
                function.args.kw_defaults.append(None)
            else:
                function.args.args.append(ast.arg(arg=tangent))
        function.body = new_body
        for stmt in new_body:
            if not hasattr(stmt, "lineno"):
                ast.copy_location(stmt, self.function)
        return fix_locations(function)


def forward(source: Source, function: ast.FunctionDef, wrt, function_name: str, module=None,
            emitted_name: str | None = None, internal: bool = False) -> ast.FunctionDef:
    """The tangent function of a normalized `function` with respect to parameters `wrt`."""
    return _Forward(source, function, wrt, function_name, module, emitted_name, internal).run()
