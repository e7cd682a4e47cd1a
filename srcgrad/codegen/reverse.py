"""Reverse mode: the adjoint of a normalized function.

The emitted function runs the primal (the forward sweep), seeds the output's adjoint, then
walks the primal statements backwards, splicing each active statement's adjoint template.
The first contribution to an adjoint is an assignment, later ones add to it. Adjoint blocks
are headed by a `Comment` naming the user's line they come from. Later passes (optimize)
remove primal work nobody reads.
"""

from __future__ import annotations

import ast
import copy
import types
from dataclasses import dataclass

from srcgrad.codegen import primitives, template
from srcgrad.codegen.analysis import activity as activity_module
from srcgrad.codegen.naming import Namer
from srcgrad.codegen.normalize import local_names
from srcgrad.codegen.source import Source
from srcgrad.errors import NonDifferentiableError, UnknownCalleeError, UnsupportedSyntaxError

__all__ = ["Comment", "ReverseOptions", "reverse", "parameter_names"]


class Comment(ast.Pass):
    """A comment line in emitted code (rendered by emit, a no-op for every analysis)."""

    _fields = ()

    def __init__(self, text: str = "", **kwargs):
        super().__init__(**kwargs)
        self.text = text


@dataclass(frozen=True)
class ReverseOptions:
    wrt: tuple[str, ...]
    kind: str = "grad"  # "grad", "value_and_grad" or "vjp"
    has_aux: bool = False
    name: str = ""
    tuple_result: bool = False  # wrt was given as a tuple: return a tuple of gradients


def parameter_names(function: ast.FunctionDef) -> list[str]:
    args = function.args
    return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]


def _assign(target: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[ast.Name(target, ast.Store())], value=value)


def _name(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _call(func: str, args, keywords=()) -> ast.Call:
    base, attr = func.split(".")
    return ast.Call(
        func=ast.Attribute(value=_name(base), attr=attr, ctx=ast.Load()),
        args=list(args),
        keywords=[ast.keyword(arg=k, value=v) for k, v in keywords],
    )


class _Reverse:
    def __init__(self, source: Source, function: ast.FunctionDef, options: ReverseOptions):
        self.source = source
        self.function = function
        self.options = options
        self.activity = activity_module.analyze(function, options.wrt, options.has_aux)
        self.namer = Namer(local_names(function))
        self.adjoint_names: dict[str, str] = {}
        self.defined: set[str] = set()

    def adjoint_name(self, name: str) -> str:
        if name not in self.adjoint_names:
            self.adjoint_names[name] = self.namer.fresh(f"b{name}")
        return self.adjoint_names[name]

    def accumulate(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        """Turn `bx += e` into `bx = e` (first contribution) or `bx = bx + e`."""
        out = []
        for stmt in stmts:
            if isinstance(stmt, ast.AugAssign):
                target = stmt.target.id
                if target in self.defined:
                    value = ast.BinOp(left=_name(target), op=ast.Add(), right=stmt.value)
                else:
                    value = stmt.value
                    self.defined.add(target)
                stmt = ast.copy_location(_assign(target, value), stmt)
            out.append(stmt)
        return out

    def output(self, ret: ast.Return) -> tuple[ast.expr, ast.expr | None]:
        value = ret.value
        if isinstance(value, ast.Tuple):
            if not self.options.has_aux or len(value.elts) != 2:
                hint = ("return one value, or use has_aux=True to return (value, aux)"
                        if not self.options.has_aux else "return exactly (value, aux)")
                raise UnsupportedSyntaxError(
                    "the differentiated function returns a tuple", self.source.locate(ret), hint)
            return value.elts[0], value.elts[1]
        if self.options.has_aux:
            raise UnsupportedSyntaxError(
                "has_aux=True needs the function to return (value, aux)",
                self.source.locate(ret), "return a pair: the value and the auxiliary data")
        return value, None

    def adjoint_of(self, stmt: ast.Assign) -> list[ast.stmt]:
        target = stmt.targets[0].id
        value = stmt.value
        found = primitives.classify(value)
        badjoint = self.adjoint_name(target)
        if found.kind == primitives.Kind.COPY:
            if isinstance(value, ast.Name) and self.activity.varied_operand(stmt, value.id):
                add = ast.AugAssign(target=ast.Name(self.adjoint_name(value.id), ast.Store()),
                                    op=ast.Add(), value=_name(badjoint))
                return self.accumulate([ast.copy_location(add, stmt)])
            return []
        if found.kind == primitives.Kind.OPAQUE:
            callee = None
            if isinstance(value, ast.Call):
                callee = self.source.resolver.resolve(value.func, frozenset())
            if isinstance(callee, types.FunctionType):
                raise UnknownCalleeError(
                    f"the gradient flows through a call to the Python function "
                    f"`{ast.unparse(value.func)}`, and calls to user functions are not "
                    "differentiated yet", self.source.locate(stmt),
                    "inline the function's body into this function for now")
            raise UnknownCalleeError(
                f"cannot differentiate through `{ast.unparse(value)}`: srcgrad has no rule for "
                "it and cannot read its source", self.source.locate(stmt),
                "use NumPy functions with rules (see `srcgrad rules`), register a rule with "
                "srcgrad.extend, or wrap the value in srcgrad.stop_gradient if no gradient "
                "should flow through it")
        rule = found.rule
        if not rule.differentiable:  # activity never marks these; kept as a guard
            raise NonDifferentiableError(f"{rule.name} is not differentiable",
                                         self.source.locate(stmt), "")
        binding = template.bind(rule, value, self.source.locate)
        template.check_embedded(binding, stmt, self.activity, self.source.locate)
        derivs = {rule.result: badjoint}
        for param in template.differentiable_params(rule):
            names = [n if n and self.activity.varied_operand(stmt, n) else None
                     for n in binding.names(param)]
            adjoints = [self.adjoint_name(n) if n else None for n in names]
            derivs[param] = adjoints if rule.param(param).sequence else adjoints[0]
        spliced = template.instantiate(rule.adjoint, binding, _name(target), derivs, self.namer,
                                       "adjoint", stmt)
        return self.accumulate(spliced)

    def run(self) -> ast.FunctionDef:
        options = self.options
        body = self.function.body
        ret = body[-1]
        output, _aux = self.output(ret)
        primal = list(body[:-1])
        params = parameter_names(self.function)
        new_body: list[ast.stmt] = [
            _assign("xp", _call("rt.namespace", [], [(p, _name(p)) for p in params]))
        ]
        new_body += primal
        namespace = new_body[0]
        if options.kind in ("grad", "value_and_grad"):
            check = _call("xp.require_scalar", [output, ast.Constant(options.name)])
            new_body.append(ast.copy_location(ast.Expr(check), ret))
        extra_params = []
        active_output = (
            isinstance(output, ast.Name)
            and (output.id in options.wrt or self.output_varied(output.id, ret))
        )
        if active_output:
            bout = self.adjoint_name(output.id)
            if options.kind == "vjp":
                extra_params.append(bout)
                check = _call("xp.require_same_shape",
                              [_name(bout), output,
                               ast.Constant(f"vjp of {options.name}: the cotangent")])
                new_body.append(ast.copy_location(ast.Expr(check), ret))
            else:
                new_body.append(_assign(bout, ast.Constant(1.0)))
            self.defined.add(bout)
            last_comment = None
            for stmt in reversed(primal):
                if not self.activity.active_target(stmt):
                    continue
                block = self.adjoint_of(stmt)
                if block:
                    comment = self.comment(stmt)
                    if comment.text != last_comment:
                        new_body.append(comment)
                        last_comment = comment.text
                    new_body += block
        elif options.kind == "vjp":
            extra_params.append(self.namer.fresh("bout"))
        for extra in extra_params:  # the cotangent takes part in choosing the backend
            namespace.value.keywords.append(ast.keyword(arg=extra, value=_name(extra)))
        grads = []
        for name in options.wrt:
            if self.adjoint_names.get(name) in self.defined:
                grads.append(_name(self.adjoint_names[name]))
            else:
                grads.append(_call("xp.zeros_like", [_name(name)]))
        if options.tuple_result:
            result = ast.Tuple(elts=grads, ctx=ast.Load())
        else:
            result = grads[0]
        if options.kind == "value_and_grad":
            value = output if not options.has_aux else ret.value
            result = ast.Tuple(elts=[value, result], ctx=ast.Load())
        new_body.append(ast.copy_location(ast.Return(value=result), ret))
        function = copy.copy(self.function)
        function.name = self.namer.fresh(f"{self.function.name}_{options.kind}")
        function.args = _with_extra(self.function.args, extra_params)
        function.body = new_body
        for stmt in new_body:
            if not hasattr(stmt, "lineno"):
                ast.copy_location(stmt, self.function)
        ast.copy_location(function, self.function)
        return ast.fix_missing_locations(function)

    def output_varied(self, name: str, ret: ast.Return) -> bool:
        for stmt in reversed(self.function.body[:-1]):
            if activity_module.assigned_name(stmt) == name:
                return name in self.activity.varied_after[stmt]
        return False

    def comment(self, stmt: ast.stmt) -> Comment:
        line = getattr(stmt, "lineno", self.function.lineno)
        text = self.source.lines[line - 1].strip() if 0 < line <= len(self.source.lines) else ""
        comment = Comment(f"grad of line {line + self.source.line_offset}: {text}")
        return ast.copy_location(comment, stmt)


def _with_extra(args: ast.arguments, extra: list[str]) -> ast.arguments:
    new = copy.deepcopy(args)
    for name in extra:
        if new.kwonlyargs:
            new.kwonlyargs.append(ast.arg(arg=name))
            new.kw_defaults.append(None)
        else:
            if new.defaults:  # a cotangent after defaulted parameters must be keyword-only
                new.kwonlyargs.append(ast.arg(arg=name))
                new.kw_defaults.append(None)
            else:
                new.args.append(ast.arg(arg=name))
    return new


def reverse(source: Source, function: ast.FunctionDef, options: ReverseOptions) -> ast.FunctionDef:
    """The adjoint function of a normalized `function`."""
    return _Reverse(source, function, options).run()
