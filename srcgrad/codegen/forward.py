"""Forward mode: the tangent (JVP) function of a normalized function.

Each active primal statement is followed by its tangent statements, spliced from the same
rule table as the adjoints (`with tangent:` blocks). A tangent has its primal's shape:
where an operand is inactive its tangent is the constant 0.0, the optimizer folds the
zero away, and the result is wrapped in `xp.broadcast_like(t, y)`, which the optimizer
drops again wherever it can prove the shapes already agree.
"""

from __future__ import annotations

import ast
import copy

from srcgrad.codegen import primitives, template
from srcgrad.codegen.analysis import activity as activity_module
from srcgrad.codegen.naming import Namer
from srcgrad.codegen.normalize import local_names
from srcgrad.codegen.reverse import Comment, _assign, _call, _name, parameter_names
from srcgrad.codegen.source import Source
from srcgrad.errors import UnknownCalleeError, UnsupportedSyntaxError

__all__ = ["forward"]

ZERO = 0.0




class _Forward:
    def __init__(self, source: Source, function: ast.FunctionDef, wrt, name: str):
        self.source = source
        self.function = function
        self.wrt = tuple(wrt)
        self.name = name
        # In forward mode every varied value gets a tangent (usefulness does not prune
        # here: the output is the last statement, so unused tangents are dead code).
        self.activity = activity_module.analyze(function, self.wrt)
        self.namer = Namer(local_names(function))
        self.tangents: dict[str, str] = {}

    def tangent_name(self, name: str) -> str:
        if name not in self.tangents:
            self.tangents[name] = self.namer.fresh(f"d{name}")
        return self.tangents[name]

    def varied_after(self, stmt) -> bool:
        name = activity_module.assigned_name(stmt)
        return name is not None and name in self.activity.varied_after[stmt]

    def tangent_of(self, stmt: ast.Assign) -> list[ast.stmt]:
        target = stmt.targets[0].id
        value = stmt.value
        found = primitives.classify(value)
        dtarget = self.tangent_name(target)
        if found.kind == primitives.Kind.COPY:
            return [_assign(dtarget, _name(self.tangent_name(value.id)))]
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
            names = [n if n and self.activity.varied_operand(stmt, n) else None
                     for n in binding.names(param)]
            tangents = [self.tangent_name(n) if n else None for n in names]
            derivs[param] = tangents if rule.param(param).sequence else tangents[0]
        derivs[rule.result] = dtarget
        zeros = []

        def zero(param, index):
            zeros.append(param)
            return ast.Constant(ZERO)

        spliced = template.instantiate(rule.tangent, binding, _name(target), derivs,
                                       self.namer, "tangent", stmt, zero=zero)
        if not zeros:  # every operand's tangent is there: the rule gives the right shape
            return spliced
        for piece in spliced:
            if (isinstance(piece, ast.Assign) and isinstance(piece.targets[0], ast.Name)
                    and piece.targets[0].id == dtarget):
                piece.value = _call("xp.broadcast_like", [piece.value, _name(target)])
        return spliced

    def run(self) -> ast.FunctionDef:
        body = self.function.body
        ret = body[-1]
        if isinstance(ret.value, ast.Tuple):
            raise UnsupportedSyntaxError(
                "jvp needs a function that returns one value", self.source.locate(ret),
                "return a single array")
        params = parameter_names(self.function)
        new_body: list[ast.stmt] = [
            _assign("xp", _call("rt.namespace", [], [(p, _name(p)) for p in params]))
        ]
        tangent_params = [self.tangent_name(p) for p in self.wrt]
        new_body[0].value.keywords += [ast.keyword(arg=t, value=_name(t)) for t in tangent_params]
        for param, tangent in zip(self.wrt, tangent_params, strict=True):
            description = ast.Constant(f"jvp of {self.name}: the tangent {tangent}")
            check = _call("xp.require_same_shape", [_name(tangent), _name(param), description])
            new_body.append(ast.copy_location(ast.Expr(check), self.function))
        last_comment = None
        for stmt in body[:-1]:
            new_body.append(stmt)
            if not self.varied_after(stmt):
                continue
            block = self.tangent_of(stmt)
            line = getattr(stmt, "lineno", self.function.lineno)
            text = self.source.lines[line - 1].strip() if 0 < line <= len(self.source.lines) else ""
            comment = Comment(f"tangent of line {line + self.source.line_offset}: {text}")
            if comment.text != last_comment:
                new_body.append(ast.copy_location(comment, stmt))
                last_comment = comment.text
            new_body += [ast.copy_location(s, stmt) for s in block]
        output = ret.value
        if isinstance(output, ast.Name) and (output.id in self.wrt or output.id in self.tangents):
            doutput = _name(self.tangent_name(output.id))
        else:
            doutput = _call("xp.zeros_like", [output])
        result = ast.Tuple(elts=[output, doutput], ctx=ast.Load())
        new_body.append(ast.copy_location(ast.Return(value=result), ret))
        function = copy.copy(self.function)
        function.name = self.namer.fresh(f"{self.function.name}_jvp")
        function.args = copy.deepcopy(self.function.args)
        for name in tangent_params:
            if function.args.kwonlyargs or function.args.defaults:
                function.args.kwonlyargs.append(ast.arg(arg=name))
                function.args.kw_defaults.append(None)
            else:
                function.args.args.append(ast.arg(arg=name))
        function.body = new_body
        for stmt in new_body:
            if not hasattr(stmt, "lineno"):
                ast.copy_location(stmt, self.function)
        return ast.fix_missing_locations(function)


def forward(source: Source, function: ast.FunctionDef, wrt, name: str) -> ast.FunctionDef:
    """The tangent function of a normalized `function` with respect to parameters `wrt`."""
    return _Forward(source, function, wrt, name).run()
