"""Splice rule templates into code.

`bind` matches a normalized primitive expression against a rule's parameters, as Python
would bind the call. `instantiate` copies a rule block with parameters replaced by the bound
expressions, `d[p]` replaced by derivative names, and template temporaries renamed. In an
adjoint block each `d[p] = e` comes out as `bp += e` (an accumulation the reverse pass turns
into an assignment or an addition); contributions to inactive inputs are dropped.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.naming import Namer
from srcgrad.codegen.syntax import child_fields, clone, walk
from srcgrad.errors import UnsupportedSyntaxError
from srcgrad.records import record
from srcgrad.rules.registry import Rule

__all__ = ["Binding", "bind", "instantiate", "index_value", "differentiable_params", "mentions"]


@record
class Binding:
    """Parameter name -> bound expression; sequence parameters bind to an ast.Tuple."""

    rule: Rule
    values: dict

    def names(self, param: str) -> list[str | None]:
        """The variable names bound to `param`, one per element for sequence parameters."""
        value = self.values.get(param)
        elements = value.elts if isinstance(value, (ast.Tuple, ast.List)) and self.rule.param(
            param).sequence else [value]
        return [e.id if isinstance(e, ast.Name) else None for e in elements]

    def derivatives(self, param: str, varied, derivative_name):
        """The derivative names of `param`: one per element (None where it carries no
        derivative) for a sequence parameter bound to a list or tuple display, else one
        name or None (a list variable has one container derivative)."""
        found = [derivative_name(n) if n and varied(n) else None for n in self.names(param)]
        value = self.values.get(param)
        if self.rule.param(param).sequence and isinstance(value, (ast.Tuple, ast.List)):
            return found
        return found[0]

    def embedded(self, param: str) -> list[str]:
        """Names nested inside a list or tuple literal bound to a non-sequence `param`
        (`np.dot([a, b], w)`): values a gradient cannot be routed back to."""
        value = self.values.get(param)
        if not isinstance(value, (ast.Tuple, ast.List)):
            return []
        if self.rule.param(param).sequence:  # only names nested deeper than one level
            nested = [e for e in value.elts if not isinstance(e, ast.Name)]
            return sorted({n.id for e in nested for n in walk(e) if isinstance(n, ast.Name)})
        return sorted({n.id for n in walk(value) if isinstance(n, ast.Name)})


def check_embedded(binding: Binding, stmt: ast.stmt, activity, locate) -> None:
    """Reject varied values hidden in a list literal for a non-sequence parameter."""
    for param in differentiable_params(binding.rule):
        varied = [n for n in binding.embedded(param) if activity.varied_operand(stmt, n)]
        if varied:
            raise UnsupportedSyntaxError(
                f"`{varied[0]}` sits inside a list or tuple literal passed to "
                f"{binding.rule.name}, where a gradient cannot reach it",
                locate(stmt), "build the array first with np.stack([...]) and pass that")


def index_value(node: ast.expr) -> ast.expr:
    """An index as an ordinary expression: `1:3, None` -> `(slice(1, 3, None), None)`."""
    if isinstance(node, ast.Slice):
        parts = [node.lower, node.upper, node.step]
        args = [clone(p) if p is not None else ast.Constant(None) for p in parts]
        while len(args) > 1 and isinstance(args[-1], ast.Constant) and args[-1].value is None:
            args.pop()
        if len(args) == 1:  # slice(stop) would be wrong for `a:`; keep start explicit
            args = [args[0], ast.Constant(None)]
        return ast.Call(func=ast.Name("slice", ast.Load()), args=args, keywords=[])
    if isinstance(node, ast.Tuple):
        return ast.Tuple(elts=[index_value(e) for e in node.elts], ctx=ast.Load())
    return clone(node)


def _error(message: str, node: ast.AST, locate) -> UnsupportedSyntaxError:
    return UnsupportedSyntaxError(message, locate(node) if locate else None,
                                  "check the call against the NumPy documentation")


def bind(rule: Rule, value: ast.expr, locate=None) -> Binding:
    """Bind the operands of a normalized expression to `rule`'s parameters."""
    if isinstance(value, ast.BinOp):
        positional, keywords = [value.left, value.right], []
    elif isinstance(value, ast.UnaryOp):
        positional, keywords = [value.operand], []
    elif isinstance(value, ast.Subscript):
        positional, keywords = [value.value, index_value(value.slice)], []
    elif isinstance(value, ast.Call):
        positional, keywords = list(value.args), [(k.arg, k.value) for k in value.keywords]
    elif isinstance(value, ast.Attribute):  # obj.name: the object and the name
        positional, keywords = [value.value, ast.Constant(value.attr)], []
    else:
        raise TypeError(f"cannot bind {ast.dump(value)}")
    values: dict = {}
    params = list(rule.params)
    plain = [p for p in params if not p.keyword_only and not p.variadic]
    variadic = next((p for p in params if p.variadic), None)
    if len(positional) > len(plain) and variadic is None:
        raise _error(f"{rule.name} takes at most {len(plain)} positional arguments "
                     f"({len(positional)} given)", value, locate)
    for param, arg in zip(plain, positional, strict=False):
        values[param.name] = arg
    if variadic is not None:
        values[variadic.name] = ast.Tuple(elts=positional[len(plain):], ctx=ast.Load())
    for name, arg in keywords:
        param = rule.param(name)
        if param is None or param.variadic:
            raise _error(f"{rule.name} has no supported keyword argument `{name}`", value, locate)
        if name in values:
            raise _error(f"{rule.name} got `{name}` twice", value, locate)
        values[name] = arg
    for param in params:
        if param.name not in values:
            if param.default is None and not param.variadic:
                raise _error(f"{rule.name} is missing its argument `{param.name}`", value, locate)
            if param.default is not None:
                values[param.name] = clone(param.default)
    return Binding(rule, values)


def mentions(block) -> set[str]:
    """Names p with `d[p]` anywhere in a template block."""
    found = set()
    for stmt in block:
        for node in walk(stmt):
            if _is_d(node):
                found.add(node.slice.id)
    return found


def differentiable_params(rule: Rule) -> set[str]:
    """Parameters an adjoint flows into (those with a `d[p] = ...` in the adjoint block)."""
    found = set()
    for stmt in rule.adjoint:
        if isinstance(stmt, ast.Assign) and _is_d(stmt.targets[0]):
            found.add(stmt.targets[0].slice.id)
    return found


def _is_d(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == "d"
        and isinstance(node.slice, ast.Name)
    )


class _Splicer:
    """Copies template statements with `d[p]` replaced by the derivative variable (or
    zero), template temporaries by fresh names and parameters by the values bound to
    them; every node takes the position of `origin`."""

    def __init__(self, binding: Binding, result: str, derivs: dict, temps: dict, zero,
                 origin: ast.AST):
        self.binding = binding
        self.result = result
        self.derivs = derivs
        self.temps = temps
        self.zero = zero
        self.position = {attr: getattr(origin, attr) for attr in
                         ("lineno", "col_offset", "end_lineno", "end_col_offset")
                         if getattr(origin, attr, None) is not None}

    def visit(self, node: ast.AST) -> ast.AST:
        """A spliced copy of `node` (which stays as it is)."""
        if node.__class__ is ast.Name:
            new = self.name(node)
        elif _is_d(node):
            new = self.derivative(node)
        else:
            new = node.__class__.__new__(node.__class__)
            new.__dict__.update(node.__dict__)  # (contexts and operators are shared)
            for field in child_fields(node):
                value = getattr(node, field, None)
                if value.__class__ is list:
                    setattr(new, field, [self.visit(v) if isinstance(v, ast.AST) else v
                                         for v in value])
                elif isinstance(value, ast.AST):
                    setattr(new, field, self.visit(value))
        if "lineno" in new._attributes:
            for attr, value in self.position.items():
                setattr(new, attr, value)
        return new

    def locate(self, tree: ast.AST) -> ast.AST:
        """Every node of `tree` at the origin's position."""
        for node in walk(tree):
            if "lineno" in node._attributes:
                for attr, value in self.position.items():
                    setattr(node, attr, value)
        return tree

    def derivative(self, node: ast.Subscript) -> ast.expr:
        name = self.derivs.get(node.slice.id)
        if isinstance(name, list):
            elements = [ast.Name(n, ast.Load()) if n else self.zero(node.slice.id, i)
                        for i, n in enumerate(name)]
            return ast.Tuple(elts=elements, ctx=ast.Load())
        if name is None:
            return self.zero(node.slice.id, None)
        return ast.Name(name, type(node.ctx)())

    def name(self, node: ast.Name) -> ast.expr:
        if node.id in self.temps:
            return ast.Name(self.temps[node.id], node.ctx)
        if node.id == self.result:
            return ast.Name(self.binding.values[self.result].id, ast.Load())
        if node.id in self.binding.values:
            return self.locate(clone(self.binding.values[node.id]))
        return ast.Name(node.id, node.ctx)


def instantiate(
    block,
    binding: Binding,
    result: ast.Name,
    derivs: dict,
    namer: Namer,
    mode: str,
    origin: ast.AST,
    zero=None,
) -> list[ast.stmt]:
    """Splice a template block.

    `derivs` maps parameter (and result) names to derivative variable names, None when the
    value is inactive, or a list of those for sequence parameters. In mode "adjoint",
    `d[p] = e` becomes `bp += e` (or, for a sequence, an unpacking into fresh names followed
    by one accumulation per active element). `zero(param, index)` gives the expression used
    for an inactive `d[p]` that is read.
    """
    rule = binding.rule
    values = dict(binding.values)
    values[rule.result] = result
    binding = Binding(rule, values)
    temps = {}
    for stmt in block:
        for node in walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                temps.setdefault(node.id, namer.fresh(f"{node.id}_{result.id}"))
    splicer = _Splicer(binding, rule.result, derivs, temps,
                       zero or (lambda p, i: ast.Constant(0.0)), origin)
    out: list[ast.stmt] = []
    for stmt in block:
        if mode == "adjoint" and isinstance(stmt, ast.Assign) and _is_d(stmt.targets[0]):
            param = stmt.targets[0].slice.id
            value = splicer.visit(stmt.value)
            target = derivs.get(param)
            if isinstance(target, list):
                if not any(target):
                    continue
                parts = [namer.fresh(f"{n}_part") if n else "_" for n in target]
                unpack = ast.Assign(
                    targets=[ast.Tuple(elts=[ast.Name(p, ast.Store()) for p in parts],
                                       ctx=ast.Store())],
                    value=value,
                )
                out.append(splicer.locate(unpack))
                for part, name in zip(parts, target, strict=True):
                    if name:
                        out.append(splicer.locate(ast.AugAssign(
                            target=ast.Name(name, ast.Store()), op=ast.Add(),
                            value=ast.Name(part, ast.Load()))))
                continue
            if target is None:
                continue
            out.append(splicer.locate(ast.AugAssign(
                target=ast.Name(target, ast.Store()), op=ast.Add(), value=value)))
            continue
        out.append(splicer.visit(stmt))
    return out
