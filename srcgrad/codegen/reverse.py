"""Reverse mode: the adjoint of a normalized function.

The emitted function runs a forward sweep (the primal, plus `stack.append(x)` before a
value the backward sweep needs is overwritten, and a trip counter per `while` loop), seeds
the output's adjoint, then runs the backward sweep: statements in reverse order, each
active assignment's adjoint spliced from its rule, branches replayed on their (restored)
test, `for` loops over the reversed range, `while` loops as many times as they ran, and
`x = stack.pop()` where a value was recorded. In a backward block the first contribution
to an adjoint is an assignment and later ones add to it; an adjoint that a branch or loop
may or may not reach is set to 0.0 before it. Adjoint blocks are headed by a `Comment`
naming the user's line.
"""

from __future__ import annotations

import ast
import copy
import inspect
import types
from dataclasses import dataclass, field

from srcgrad.codegen import primitives, template
from srcgrad.codegen.analysis import activity as activity_module
from srcgrad.codegen.analysis import assignment
from srcgrad.codegen.analysis import containers as containers_module
from srcgrad.codegen.naming import Namer
from srcgrad.codegen.normalize import local_names
from srcgrad.codegen.source import Source
from srcgrad.codegen.syntax import (STACK, Comment, assign, call, name, parameter_names, pop,
                                    push)
from srcgrad.errors import NonDifferentiableError, UnknownCalleeError, UnsupportedSyntaxError

__all__ = ["ReverseOptions", "reverse"]


@dataclass(frozen=True)
class ReverseOptions:
    wrt: tuple[str, ...]
    kind: str = "grad"  # "grad", "value_and_grad" or "vjp"
    has_aux: bool = False
    name: str = ""
    tuple_result: bool = False  # wrt was given as a tuple: return a tuple of gradients


@dataclass
class _State:
    """What the backward sweep knows at a point: adjoints assigned on every path, and
    adjoints that may still hold the 0.0 placeholder (rather than an array of zeros)."""

    defined: set = field(default_factory=set)
    maybe_zero: set = field(default_factory=set)

    def copy(self) -> _State:
        return _State(set(self.defined), set(self.maybe_zero))


def _zero(target: str) -> ast.Assign:
    return assign(target, ast.Constant(0.0))


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
    emitted = module.primal(called[0])
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
    return ast.fix_missing_locations(new)


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
                 for n in ast.walk(node)):
            raise UnsupportedSyntaxError(
                f"a value that carries a derivative is passed to "
                f"`{ast.unparse(stmt.value.func)}` inside a literal", source.locate(stmt),
                "pass it as a plain name")
    return active


class _Reverse:
    def __init__(self, source: Source, function: ast.FunctionDef, options: ReverseOptions,
                 module=None, function_name: str | None = None, internal: bool = False):
        self.source = source
        self.function = function
        self.options = options
        self.module = module
        self.function_name = function_name
        self.internal = internal
        self.activity = activity_module.analyze(function, options.wrt, options.has_aux)
        self.assignments = assignment.analyze(function)
        self.containers = containers_module.containers(function)
        self.namer = Namer(local_names(function) | {STACK})
        self.adjoint_names: dict[str, str] = {}
        self.counters: dict[ast.While, str] = {}
        self.records: set = set()  # statements before which the forward sweep pushes
        self.shape_only: set[str] = set()  # recorded names the backward sweep reads for shapes

    def adjoint_name(self, primal: str) -> str:
        if primal not in self.adjoint_names:
            self.adjoint_names[primal] = self.namer.fresh(f"b{primal}")
        return self.adjoint_names[primal]

    # -- one assignment ------------------------------------------------------------------

    def accumulate(self, stmts: list[ast.stmt], state: _State) -> list[ast.stmt]:
        """Turn `bx += e` into `bx = e` (first contribution) or `bx = bx + e`."""
        out = []
        for stmt in stmts:
            if isinstance(stmt, ast.AugAssign):
                target = stmt.target.id
                if target in state.defined and self.is_container_adjoint(target):
                    value = call("xp.add_tree", [name(target), stmt.value])
                elif target in state.defined:
                    value = ast.BinOp(left=name(target), op=ast.Add(), right=stmt.value)
                else:
                    value = stmt.value
                    state.defined.add(target)
                state.maybe_zero.discard(target)
                stmt = ast.copy_location(assign(target, value), stmt)
            out.append(stmt)
        return out

    def is_container_adjoint(self, adjoint: str) -> bool:
        return any(self.adjoint_names.get(c) == adjoint for c in self.containers)

    def contributions(self, stmt: ast.Assign) -> list[str]:
        """Primal names whose adjoints the adjoint of `stmt` adds to."""
        if activity_module.is_append(stmt):
            names = [n.id for n in stmt.value.args if isinstance(n, ast.Name)]
            return [n for n in names if self.activity.varied_operand(stmt, n)]
        value = stmt.value
        found = primitives.classify(value)
        if found.kind == primitives.Kind.PACK:
            parts = value.values if isinstance(value, ast.Dict) else value.elts
            names = [p.id for p in parts if isinstance(p, ast.Name)]
        elif found.kind == primitives.Kind.COPY:
            names = [value.id] if isinstance(value, ast.Name) else []
        elif found.kind == primitives.Kind.RULE and found.rule.differentiable:
            binding = template.bind(found.rule, value, self.source.locate)
            names = [n for p in template.differentiable_params(found.rule)
                     for n in binding.names(p) if n]
        elif user_call(self.source, value) is not None:
            names = [n.id for n in user_call(self.source, value)[1].values()
                     if isinstance(n, ast.Name)]
        else:
            names = []
        return [n for n in names if self.activity.varied_operand(stmt, n)]

    def adjoint_of(self, stmt: ast.Assign, state: _State) -> list[ast.stmt]:
        target = stmt.targets[0].id
        value = stmt.value
        found = primitives.classify(value)
        badjoint = self.adjoint_name(target)
        if found.kind == primitives.Kind.COPY:
            if isinstance(value, ast.Name) and self.activity.varied_operand(stmt, value.id):
                add = ast.AugAssign(target=name(self.adjoint_name(value.id), True),
                                    op=ast.Add(), value=name(badjoint))
                return self.accumulate([ast.copy_location(add, stmt)], state)
            return []
        if found.kind == primitives.Kind.PACK:
            keys = value.keys if isinstance(value, ast.Dict) else [
                ast.Constant(i) for i in range(len(value.elts))]
            parts = value.values if isinstance(value, ast.Dict) else value.elts
            adds = []
            for key, part in zip(keys, parts, strict=True):
                if isinstance(part, ast.Name) and self.activity.varied_operand(stmt, part.id):
                    entry = call("xp.item_adjoint", [name(badjoint), copy.deepcopy(key),
                                                     name(part.id)])
                    adds.append(ast.copy_location(ast.AugAssign(
                        target=name(self.adjoint_name(part.id), True), op=ast.Add(),
                        value=entry), stmt))
            return self.accumulate(adds, state)
        if (isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name)
                and value.value.id in self.containers):
            container = value.value.id
            if not self.activity.varied_operand(stmt, container):
                return []
            part = call("xp.item_part", [name(container), template.index_value(value.slice),
                                         name(badjoint)])
            add = ast.AugAssign(target=name(self.adjoint_name(container), True), op=ast.Add(),
                                value=part)
            return self.accumulate([ast.copy_location(add, stmt)], state)
        if found.kind == primitives.Kind.OPAQUE:
            called = user_call(self.source, value)
            if called is None or self.module is None:
                raise self.opaque_error(stmt)
            return self.adjoint_of_call(stmt, *called, state)
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
            sequence = rule.param(param).sequence and not isinstance(
                binding.values.get(param), ast.Name)  # a list variable: one container adjoint
            derivs[param] = adjoints if sequence else adjoints[0]
        spliced = template.instantiate(rule.adjoint, binding, name(target), derivs, self.namer,
                                       "adjoint", stmt)
        for piece in spliced:  # per-item adjoints of a list variable add up item by item
            if (isinstance(piece, ast.AugAssign) and rule.param(_param_of(derivs, piece)) is not None
                    and rule.param(_param_of(derivs, piece)).sequence):
                piece.value = call("xp.cotangents", [piece.value])
        return self.accumulate(spliced, state)

    def adjoint_of_call(self, stmt: ast.Assign, callee, arguments: dict, state: _State):
        """`y = g(...)` for a user function g: pull the adjoint back through g's own vjp
        (which recomputes g's forward sweep), for the arguments that carry a gradient."""
        value = stmt.value
        active = active_arguments(self.source, self.activity, stmt, arguments)
        if not active:
            return []
        entry = self.module.request(callee, "vjp", tuple(p for p, _ in active))
        pullback = ast.Call(func=name(entry.name),
                            args=[name(self.adjoint_name(stmt.targets[0].id)),
                                  *copy.deepcopy(value.args)],
                            keywords=copy.deepcopy(value.keywords))
        if len(active) == 1:
            add = ast.AugAssign(target=name(self.adjoint_name(active[0][1]), True), op=ast.Add(),
                                value=pullback)
            return self.accumulate([ast.copy_location(add, stmt)], state)
        parts = [self.namer.fresh(f"b{operand}_part") for _, operand in active]
        unpack = ast.Assign(targets=[ast.Tuple(elts=[name(p, True) for p in parts],
                                               ctx=ast.Store())], value=pullback)
        adds = [ast.AugAssign(target=name(self.adjoint_name(operand), True), op=ast.Add(),
                              value=name(part))
                for (_, operand), part in zip(active, parts, strict=True)]
        return [ast.copy_location(unpack, stmt),
                *self.accumulate([ast.copy_location(a, stmt) for a in adds], state)]

    def opaque_error(self, stmt: ast.Assign) -> UnknownCalleeError:
        value = stmt.value
        callee = None
        if isinstance(value, ast.Call):
            callee = self.source.resolver.resolve(value.func, frozenset())
        if isinstance(callee, types.FunctionType):
            return UnknownCalleeError(
                f"the gradient flows through a call to the Python function "
                f"`{ast.unparse(value.func)}`, and calls to user functions are not "
                "differentiated yet", self.source.locate(stmt),
                "inline the function's body into this function for now")
        return UnknownCalleeError(
            f"cannot differentiate through `{ast.unparse(value)}`: srcgrad has no rule for "
            "it and cannot read its source", self.source.locate(stmt),
            "use NumPy functions with rules (see `srcgrad rules`), register a rule with "
            "srcgrad.extend, or wrap the value in srcgrad.stop_gradient if no gradient "
            "should flow through it")

    def comment(self, stmt: ast.stmt) -> Comment:
        line = getattr(stmt, "lineno", self.function.lineno)
        text = self.source.lines[line - 1].strip() if 0 < line <= len(self.source.lines) else ""
        comment = Comment(f"grad of line {line + self.source.line_offset}: {text}")
        return ast.copy_location(comment, stmt)

    # -- the backward sweep --------------------------------------------------------------

    def touched(self, stmts) -> list[str]:
        """Adjoints that the backward sweep of `stmts` may assign (in first-seen order)."""
        found: dict[str, None] = {}
        for stmt in stmts:
            for node in ast.walk(stmt):
                if (isinstance(node, ast.Assign) or activity_module.is_append(node)) and (
                        self.activity.active_target(node)):
                    target = activity_module.assigned_name(node)
                    if self.assignments.is_multi(target):
                        found[self.adjoint_name(target)] = None
                    for operand in self.contributions(node):
                        found[self.adjoint_name(operand)] = None
        return list(found)

    def prepare(self, stmts, state: _State) -> list[ast.stmt]:
        """Zero the adjoints a branch or loop may assign but that are not yet defined."""
        inits = [b for b in self.touched(stmts) if b not in state.defined]
        state.defined.update(inits)
        state.maybe_zero.update(inits)
        return [_zero(b) for b in inits]

    def backward(self, stmts, state: _State, depth: int) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in reversed(stmts):
            if activity_module.is_append(stmt):
                out += self.backward_append(stmt, state)
            elif activity_module.is_slot_update(stmt):
                out += self.backward_slot(stmt, state)
            elif isinstance(stmt, ast.Assign):
                out += self.backward_assign(stmt, state)
            elif isinstance(stmt, ast.If):
                out += self.prepare(stmt.body + stmt.orelse, state)
                then_state, else_state = state.copy(), state.copy()
                body = self.backward(stmt.body, then_state, depth)
                orelse = self.backward(stmt.orelse, else_state, depth)
                state.defined = then_state.defined & else_state.defined
                state.maybe_zero = then_state.maybe_zero | else_state.maybe_zero
                if body or orelse:
                    new = ast.If(test=copy.deepcopy(stmt.test), body=body or [ast.Pass()],
                                 orelse=orelse)
                    out.append(ast.copy_location(new, stmt))
            elif isinstance(stmt, (ast.For, ast.While)):
                out += self.backward_loop(stmt, state, depth)
        return out

    def backward_loop(self, loop, state: _State, depth: int) -> list[ast.stmt]:
        out = self.prepare(loop.body, state)
        inner = state.copy()
        inner.maybe_zero.update(self.adjoint_name(t) for t in self.resets(loop.body))
        body = self.backward(loop.body, inner, depth + 1)
        state.maybe_zero |= inner.maybe_zero
        if isinstance(loop, ast.For):
            header = call("reversed", [copy.deepcopy(loop.iter)])
            new = ast.For(target=copy.deepcopy(loop.target), iter=header, body=body or [ast.Pass()],
                          orelse=[], type_comment=None)
            out.append(ast.copy_location(new, loop))
            if loop in self.records:
                out.append(ast.copy_location(pop(loop.target.id), loop))
            return out
        counter = self.counters[loop]
        if depth > 0:
            out.append(ast.copy_location(pop(counter), loop))
        new = ast.For(target=name(self.namer.fresh("_"), True), iter=call("range", [name(counter)]),
                      body=body or [ast.Pass()], orelse=[], type_comment=None)
        out.append(ast.copy_location(new, loop))
        return out

    def resets(self, stmts) -> list[str]:
        """Primal names assigned in `stmts` whose adjoints are reset there."""
        return [n.targets[0].id for s in stmts for n in ast.walk(s)
                if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
                and self.assignments.is_multi(n.targets[0].id)
                and n.targets[0].id in self.adjoint_names]

    def backward_append(self, stmt: ast.Expr, state: _State) -> list[ast.stmt]:
        """`items.append(v)`: v gets the last entry's adjoint; then the append is undone."""
        out: list[ast.stmt] = []
        items = stmt.value.func.value.id
        value = stmt.value.args[0]
        badjoint = self.adjoint_names.get(items)
        if self.activity.active_target(stmt) and badjoint in state.defined:
            out.append(self.comment(stmt))
            if isinstance(value, ast.Name) and self.activity.varied_operand(stmt, value.id):
                entry = call("xp.item_adjoint", [name(badjoint), ast.Constant(-1), name(value.id)])
                add = ast.AugAssign(target=name(self.adjoint_name(value.id), True), op=ast.Add(),
                                    value=entry)
                out += self.accumulate([ast.copy_location(add, stmt)], state)
            rest = assign(badjoint, call("xp.drop_last", [name(badjoint), name(items)]))
            out.append(ast.copy_location(rest, stmt))
        out.append(ast.copy_location(ast.Expr(call(f"{items}.pop")), stmt))
        return out

    def backward_slot(self, stmt: ast.Assign, state: _State) -> list[ast.stmt]:
        """`y[key] = v`: v gets the adjoint of the written slots, y's older contents the
        rest; then the overwritten slots get their recorded contents back."""
        out: list[ast.stmt] = []
        target = stmt.targets[0]
        array, value = target.value.id, stmt.value
        badjoint = self.adjoint_names.get(array)
        if self.activity.active_target(stmt) and badjoint in state.defined:
            if badjoint in state.maybe_zero:
                widen = assign(badjoint, call("xp.broadcast_like", [name(badjoint), name(array)]))
                out.append(ast.copy_location(widen, stmt))
                state.maybe_zero.discard(badjoint)
            out.append(self.comment(stmt))
            key = template.index_value(target.slice)
            if isinstance(value, ast.Name) and self.activity.varied_operand(stmt, value.id):
                part = call("xp.slot_adjoint", [name(badjoint), key, copy.deepcopy(value)])
                add = ast.AugAssign(target=name(self.adjoint_name(value.id), True), op=ast.Add(),
                                    value=part)
                out += self.accumulate([ast.copy_location(add, stmt)], state)
            rest = assign(badjoint, call("xp.zero_slot", [name(badjoint), copy.deepcopy(key)]))
            out.append(ast.copy_location(rest, stmt))
        if array in self.containers:  # a list or dict entry, possibly a new key
            key = template.index_value(target.slice)
            restore = ast.Expr(call("xp.item_restore", [name(array), key, call(f"{STACK}.pop")]))
        else:
            restore = ast.Assign(targets=[copy.deepcopy(target)], value=call(f"{STACK}.pop"))
        out.append(ast.copy_location(restore, stmt))
        self.records.add(stmt)
        return out

    def backward_assign(self, stmt: ast.Assign, state: _State) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        target = stmt.targets[0].id
        badjoint = self.adjoint_names.get(target)
        if self.activity.active_target(stmt) and badjoint in state.defined:
            if badjoint in state.maybe_zero and target not in self.containers:
                widen = assign(badjoint, call("xp.broadcast_like", [name(badjoint), name(target)]))
                out.append(ast.copy_location(widen, stmt))
                state.maybe_zero.discard(badjoint)
            block = self.adjoint_of(stmt, state)
            if block:
                out.append(self.comment(stmt))
                out += block
        if self.assignments.is_multi(target):
            if badjoint is not None and badjoint in state.defined:
                # What flows back past this point belongs to the value before it.
                out.append(ast.copy_location(_zero(badjoint), stmt))
                state.maybe_zero.add(badjoint)
            if self.assignments.may_be_assigned_before(stmt, target):
                out.append(ast.copy_location(pop(target), stmt))
                self.records.add(stmt)
        return out

    # -- the forward sweep ---------------------------------------------------------------

    def forward(self, stmts, depth: int) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            if activity_module.is_slot_update(stmt):
                if stmt in self.records:  # keep what the update overwrites
                    target = stmt.targets[0]
                    if target.value.id in self.containers:
                        kept = call("xp.item_record", [name(target.value.id),
                                                       template.index_value(target.slice)])
                    else:
                        kept = call("xp.copy", [ast.Subscript(
                            value=name(target.value.id), slice=copy.deepcopy(target.slice),
                            ctx=ast.Load())])
                    record = ast.Expr(call(f"{STACK}.append", [kept]))
                    out.append(ast.copy_location(record, stmt))
                out.append(stmt)
            elif isinstance(stmt, ast.Assign):
                if stmt in self.records:
                    target = stmt.targets[0].id
                    record = push(target)
                    if target in self.shape_only:  # keep the shape, not the array
                        record.value.args = [call("xp.like", [name(target)])]
                    out.append(ast.copy_location(record, stmt))
                out.append(primal_call(self.source, self.module, stmt))
            elif isinstance(stmt, ast.If):
                new = ast.If(test=stmt.test, body=self.forward(stmt.body, depth) or [ast.Pass()],
                             orelse=self.forward(stmt.orelse, depth))
                out.append(ast.copy_location(new, stmt))
            elif isinstance(stmt, ast.For):
                if stmt in self.records:
                    out.append(ast.copy_location(push(stmt.target.id), stmt))
                new = copy.copy(stmt)
                new.body = self.forward(stmt.body, depth + 1) or [ast.Pass()]
                out.append(new)
            elif isinstance(stmt, ast.While):
                counter = self.counters[stmt]
                count = assign(counter, ast.BinOp(left=name(counter), op=ast.Add(),
                                                  right=ast.Constant(1)))
                new = copy.copy(stmt)
                new.body = [count, *self.forward(stmt.body, depth + 1)]
                out += [ast.copy_location(assign(counter, ast.Constant(0)), stmt), new]
                if depth > 0:
                    out.append(ast.copy_location(push(counter), stmt))
            else:
                out.append(stmt)
        return out

    def loop_records(self, stmts) -> None:
        """Loop targets overwritten while an older value may still be needed."""
        for stmt in stmts:
            for node in ast.walk(stmt):
                if isinstance(node, ast.For) and self.assignments.may_be_assigned_before(
                        node, node.target.id):
                    self.records.add(node)
                if isinstance(node, ast.While):
                    self.counters[node] = self.namer.fresh("trips")

    # -- the whole function --------------------------------------------------------------

    def packed(self, value: ast.expr) -> list[ast.expr] | None:
        """The elements of a returned tuple (`return a, b`, packed by normalization)."""
        if not isinstance(value, ast.Name):
            return None
        for stmt in self.function.body:
            if (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
                    and stmt.targets[0].id == value.id and isinstance(stmt.value, ast.Tuple)):
                return stmt.value.elts
        return None

    def output(self, ret: ast.Return) -> tuple[ast.expr, ast.expr]:
        """(the returned value, the part of it that must be a scalar for grad)."""
        value = ret.value
        packed = self.packed(value)
        if self.options.has_aux:
            if packed is None or len(packed) != 2:
                raise UnsupportedSyntaxError(
                    "has_aux=True needs the function to return (value, aux)",
                    self.source.locate(ret), "return a pair: the value and the auxiliary data")
            return value, packed[0]
        if packed is not None and self.options.kind != "vjp":
            raise UnsupportedSyntaxError(
                "the differentiated function returns a tuple", self.source.locate(ret),
                "return one value, use has_aux=True to return (value, aux), or srcgrad.vjp "
                "with one cotangent per returned value")
        return value, value

    def run(self) -> ast.FunctionDef:
        options = self.options
        body = self.function.body
        ret = body[-1]
        output, checked = self.output(ret)
        primal = list(body[:-1])
        params = parameter_names(self.function)
        self.loop_records(primal)
        namespace = assign("xp", call("rt.namespace", [], [(p, name(p)) for p in params]))
        tail: list[ast.stmt] = []
        if options.kind in ("grad", "value_and_grad"):
            check = call("xp.require_scalar", [checked, ast.Constant(options.name)])
            tail.append(ast.copy_location(ast.Expr(check), ret))
        extra_params = []
        state = _State()
        backward: list[ast.stmt] = []
        active_output = isinstance(output, ast.Name) and (
            output.id in options.wrt or output.id in self.activity.varied_before[ret])
        if active_output:
            bout = self.adjoint_name(output.id)
            if options.kind == "vjp":
                extra_params.append(bout)
                check = call("xp.require_same_shape",
                             [name(bout), output,
                              ast.Constant(f"vjp of {options.name}: the cotangent")])
                tail.append(ast.copy_location(ast.Expr(check), ret))
            elif options.has_aux:  # seed the value, not the auxiliary data
                seed = ast.Tuple(elts=[ast.Constant(1.0), ast.Constant(None)], ctx=ast.Load())
                tail.append(assign(bout, seed))
            else:
                tail.append(assign(bout, ast.Constant(1.0)))
            state.defined.add(bout)
            backward = self.backward(primal, state, 0)
            backward = self.drop_needless_records(backward)
        elif options.kind == "vjp":
            extra_params.append(self.namer.fresh("bout"))
        forward = self.forward(primal, 0)
        for extra in extra_params:  # the cotangent takes part in choosing the backend
            namespace.value.keywords.append(ast.keyword(arg=extra, value=name(extra)))
        new_body = [namespace]
        if any(isinstance(n, ast.Attribute) and n.attr in ("append", "pop")
               and isinstance(n.value, ast.Name) and n.value.id == STACK
               for s in forward + backward for n in ast.walk(s)):
            new_body.append(assign(STACK, ast.List(elts=[], ctx=ast.Load())))
        new_body += [assign(n, ast.Constant(None)) for n in self.unset_records()]
        new_body += forward + tail + backward
        new_body.append(ast.copy_location(ast.Return(value=self.result(output, ret, state)), ret))
        function = copy.copy(self.function)
        function.name = self.function_name or self.namer.fresh(
            f"{self.function.name}_{options.kind}")
        function.args = _with_extra(self.function.args, extra_params, first=self.internal)
        function.body = new_body
        for stmt in new_body:
            if not hasattr(stmt, "lineno"):
                ast.copy_location(stmt, self.function)
        ast.copy_location(function, self.function)
        return ast.fix_missing_locations(function)

    def drop_needless_records(self, backward: list[ast.stmt]) -> list[ast.stmt]:
        """Keep a record (push and pop) only for names the backward sweep reads."""

        def popped(stmt) -> str | None:
            if (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
                    and ast.unparse(stmt.value) == f"{STACK}.pop()"):
                return _record_target(stmt)
            return None

        read: set[str] = set()

        def reads(node) -> None:
            if isinstance(node, ast.stmt) and popped(node):
                target = node.targets[0]
                if isinstance(target, ast.Subscript):  # restoring y[k] reads k, not y
                    read.update(n.id for n in ast.walk(target.slice) if isinstance(n, ast.Name))
                return
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                read.add(node.id)
            for child in ast.iter_child_nodes(node):
                reads(child)

        for stmt in backward:
            reads(stmt)
        self.shape_only = _shape_only_reads(backward, popped)
        needless = set()
        for stmt in list(self.records):
            target = _record_target(stmt)
            if target not in read:
                self.records.discard(stmt)
                needless.add(target)

        def keep(stmt) -> bool:
            return popped(stmt) not in needless

        def prune(stmts):
            out = []
            for stmt in stmts:
                if not keep(stmt):
                    continue
                for field_name in ("body", "orelse"):
                    if hasattr(stmt, field_name) and isinstance(getattr(stmt, field_name), list):
                        setattr(stmt, field_name, prune(getattr(stmt, field_name)))
                out.append(stmt)
            return out

        return prune(backward)

    def unset_records(self) -> list[str]:
        """Recorded names that may be unassigned when first recorded: set to None up front
        so that `stack.append(x)` never meets an unbound name."""
        names = []
        for stmt in self.records:
            if activity_module.is_slot_update(stmt):
                continue
            target = _record_target(stmt)
            if self.assignments.may_be_unassigned_before(stmt, target) and target not in names:
                names.append(target)
        return sorted(names)

    def result(self, output, ret, state: _State) -> ast.expr:
        grads = []
        for param in self.options.wrt:
            adjoint = self.adjoint_names.get(param)
            if adjoint in state.defined:
                value: ast.expr = name(adjoint)
                if adjoint in state.maybe_zero:
                    value = call("xp.broadcast_like", [value, name(param)])
                grads.append(value)
            else:
                grads.append(call("xp.zeros_like", [name(param)]))
        result = ast.Tuple(elts=grads, ctx=ast.Load()) if self.options.tuple_result else grads[0]
        if self.options.kind == "value_and_grad":
            value = output
            result = ast.Tuple(elts=[value, result], ctx=ast.Load())
        return result


# Helpers whose argument at this position is only asked for its shape and dtype.
_SHAPE_ARGUMENTS = {"unbroadcast": 1, "unreduce": 1, "unindex": 1, "broadcast_like": 1}


def _shape_only_reads(backward, popped) -> set[str]:
    """Names the backward sweep reads only as the shape argument of an adjoint helper."""
    shape_reads, other_reads = set(), set()

    def visit(node, shape_position: bool = False) -> None:
        if isinstance(node, ast.stmt) and popped(node):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            (shape_reads if shape_position else other_reads).add(node.id)
            return
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "xp"
                and node.func.attr in _SHAPE_ARGUMENTS):
            position = _SHAPE_ARGUMENTS[node.func.attr]
            for index, arg in enumerate(node.args):
                visit(arg, index == position and isinstance(arg, ast.Name))
            for keyword in node.keywords:
                visit(keyword.value)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in backward:
        visit(stmt)
    return shape_reads - other_reads


def _param_of(derivs: dict, piece: ast.AugAssign) -> str:
    """The template parameter whose adjoint an accumulation targets."""
    for param, target in derivs.items():
        if target == piece.target.id:
            return param
    return ""


def _record_target(stmt: ast.stmt) -> str:
    """The name a recorded statement (or its restoring pop) overwrites."""
    if isinstance(stmt, ast.For):
        return stmt.target.id
    target = stmt.targets[0]
    return target.value.id if isinstance(target, ast.Subscript) else target.id


def _with_extra(args: ast.arguments, extra: list[str], first: bool = False) -> ast.arguments:
    """`args` plus the derivative inputs: first (internal functions, called positionally by
    emitted code) or last (keyword-only after defaulted parameters)."""
    new = copy.deepcopy(args)
    if first:
        new.posonlyargs = [ast.arg(arg=n) for n in extra] + new.posonlyargs
        return new
    for extra_name in extra:
        if new.kwonlyargs or new.defaults:  # after defaulted parameters: keyword-only
            new.kwonlyargs.append(ast.arg(arg=extra_name))
            new.kw_defaults.append(None)
        else:
            new.args.append(ast.arg(arg=extra_name))
    return new


def reverse(source: Source, function: ast.FunctionDef, options: ReverseOptions, module=None,
            function_name: str | None = None, internal: bool = False) -> ast.FunctionDef:
    """The adjoint function of a normalized `function`. `module` compiles the derivatives of
    user functions it calls; `internal` puts the cotangent first in the signature."""
    return _Reverse(source, function, options, module, function_name, internal).run()
