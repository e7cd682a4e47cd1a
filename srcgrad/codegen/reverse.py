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

from srcgrad.codegen import template
from srcgrad.codegen.adjoints import Adjoints, State, is_pop
from srcgrad.codegen.analysis import activity as activity_module
from srcgrad.codegen.analysis import assignment
from srcgrad.codegen.analysis import containers as containers_module
from srcgrad.codegen.analysis import mutation
from srcgrad.codegen.calls import active_arguments, primal, primal_call, user_call
from srcgrad.codegen.naming import Namer
from srcgrad.codegen.normalize import local_names
from srcgrad.codegen.records import drop_needless_records, unset_records
from srcgrad.codegen.source import Source
from srcgrad.codegen.syntax import (
    CONSTANTS,
    STACK,
    STACKS,
    assign,
    call,
    clone,
    name,
    parameter_names,
    pop,
    push,
    walk,
)
from srcgrad.errors import UnsupportedSyntaxError
from srcgrad.records import record

# The user-call helpers live in calls.py; they stay importable from here.
__all__ = ["ReverseOptions", "active_arguments", "primal", "primal_call", "reverse", "user_call"]


@record
class ReverseOptions:
    wrt: tuple[str, ...]
    kind: str = "grad"  # "grad", "value_and_grad" or "vjp"
    has_aux: bool = False
    name: str = ""
    tuple_result: bool = False  # wrt was given as a tuple: return a tuple of gradients


def _zero(target: str) -> ast.Assign:
    return assign(target, ast.Constant(0.0))


class _Reverse(Adjoints):
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
        # the lists and tuples the call passes (when it is known), as they came, and the
        # statements that run whenever the function does (those not in a branch or loop:
        # `if isinstance(p, np.ndarray): q = p * 2` may never run for a list)
        self.sequences = containers_module.sequence_parameters(function, source.sequences)
        self.always = {id(stmt) for stmt in function.body}
        self.namer = Namer(local_names(function) | set(STACKS))
        self.adjoint_names: dict[str, str] = {}
        self.counters: dict[ast.While, str] = {}
        self.records: set = set()  # statements before which the forward sweep pushes
        self.shape_only: set[str] = set()  # recorded names the backward sweep reads for shapes

    def adjoint_name(self, primal: str) -> str:
        if primal not in self.adjoint_names:
            self.adjoint_names[primal] = self.namer.fresh(f"b{primal}")
        return self.adjoint_names[primal]

    # -- the backward sweep --------------------------------------------------------------

    def touched(self, stmts) -> list[str]:
        """Adjoints that the backward sweep of `stmts` may assign (in first-seen order)."""
        found: dict[str, None] = {}
        for stmt in stmts:
            for node in walk(stmt):
                if (isinstance(node, ast.Assign) or activity_module.is_append(node)) and (
                        self.activity.active_target(node)):
                    target = activity_module.assigned_name(node)
                    if self.assignments.is_multi(target):
                        found[self.adjoint_name(target)] = None
                    for operand in self.contributions(node):
                        found[self.adjoint_name(operand)] = None
        return list(found)

    def prepare(self, stmts, state: State) -> list[ast.stmt]:
        """Zero the adjoints a branch or loop may assign but that are not yet defined."""
        inits = [b for b in self.touched(stmts) if b not in state.defined]
        state.defined.update(inits)
        state.maybe_zero.update(inits)
        return [_zero(b) for b in inits]

    def backward(self, stmts, state: State, depth: int) -> list[ast.stmt]:
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
                    new = ast.If(test=clone(stmt.test), body=body or [ast.Pass()],
                                 orelse=orelse)
                    out.append(ast.copy_location(new, stmt))
            elif isinstance(stmt, (ast.For, ast.While)):
                out += self.backward_loop(stmt, state, depth)
        return out

    def backward_loop(self, loop, state: State, depth: int) -> list[ast.stmt]:
        out = self.prepare(loop.body, state)
        inner = state.copy()
        inner.maybe_zero.update(self.adjoint_name(t) for t in self.resets(loop.body))
        body = self.backward(loop.body, inner, depth + 1)
        state.maybe_zero |= inner.maybe_zero
        if isinstance(loop, ast.For):
            header = call("reversed", [clone(loop.iter)])
            new = ast.For(target=clone(loop.target), iter=header, body=body or [ast.Pass()],
                          orelse=[], type_comment=None)
            out.append(ast.copy_location(new, loop))
            if loop in self.records:
                out.append(ast.copy_location(pop(loop.target.id, CONSTANTS), loop))
            return out
        counter = self.counters[loop]
        if depth > 0:
            out.append(ast.copy_location(pop(counter, CONSTANTS), loop))
        new = ast.For(target=name(self.namer.fresh("_"), True), iter=call("range", [name(counter)]),
                      body=body or [ast.Pass()], orelse=[], type_comment=None)
        out.append(ast.copy_location(new, loop))
        return out

    def resets(self, stmts) -> list[str]:
        """Primal names assigned in `stmts` whose adjoints are reset there."""
        return [n.targets[0].id for s in stmts for n in walk(s)
                if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
                and self.assignments.is_multi(n.targets[0].id)
                and n.targets[0].id in self.adjoint_names]

    def stack_for(self, stmt: ast.stmt, target: str) -> str:
        """Where the value `target` holds before `stmt` is recorded: `stack` when it
        carries a derivative, `constants` when it cannot."""
        return STACK if target in self.activity.varied_before[stmt] else CONSTANTS

    def backward_assign(self, stmt: ast.Assign, state: State) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        target = stmt.targets[0].id
        badjoint = self.adjoint_names.get(target)
        joined = containers_module.joined_containers(stmt.value, self.containers)
        if joined is None and id(stmt) in self.always:
            joined = containers_module.joined_arguments(stmt.value, self.sequences)
        if joined is not None and self.activity.active_target(stmt):
            # (the rules of `+` and `*` are the sum's and product's: they would neither
            # split the adjoint of a concatenation nor add up the copies' adjoints)
            message, hint = containers_module.joining_error(joined, "reverse")
            raise UnsupportedSyntaxError(message, self.source.locate(stmt), hint)
        if self.activity.active_target(stmt) and badjoint in state.defined:
            if badjoint in state.maybe_zero and target not in self.containers:
                widen = assign(badjoint, call("xp.broadcast_like", [name(badjoint), name(target)]))
                out.append(ast.copy_location(widen, stmt))
                state.maybe_zero.discard(badjoint)
            block = self.adjoint_of(stmt, state)
            if block:
                out.append(self.comment(stmt))
                out += block
        if is_pop(stmt.value):  # undo `x = items.pop()`: put x back
            undo = ast.Expr(call(f"{stmt.value.func.value.id}.append", [name(target)]))
            out.append(ast.copy_location(undo, stmt))
        if self.assignments.is_multi(target):
            if badjoint is not None and badjoint in state.defined:
                # What flows back past this point belongs to the value before it.
                out.append(ast.copy_location(_zero(badjoint), stmt))
                state.maybe_zero.add(badjoint)
            if self.assignments.may_be_assigned_before(stmt, target):
                out.append(ast.copy_location(pop(target, self.stack_for(stmt, target)), stmt))
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
                            value=name(target.value.id), slice=clone(target.slice),
                            ctx=ast.Load())])
                    stack = self.stack_for(stmt, target.value.id)
                    record = ast.Expr(call(f"{stack}.append", [kept]))
                    out.append(ast.copy_location(record, stmt))
                out.append(stmt)
            elif isinstance(stmt, ast.Assign):
                if stmt in self.records:
                    target = stmt.targets[0].id
                    record = push(target, self.stack_for(stmt, target))
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
                    out.append(ast.copy_location(push(stmt.target.id, CONSTANTS), stmt))
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
                    out.append(ast.copy_location(push(counter, CONSTANTS), stmt))
            else:
                out.append(stmt)
        return out

    def loop_records(self, stmts) -> None:
        """Loop targets overwritten while an older value may still be needed."""
        for stmt in stmts:
            for node in walk(stmt):
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

    def held_output(self, output: ast.expr, tail: list, backward: list) -> ast.expr:
        """What value_and_grad returns as the value: `output` itself, or a name it is read
        into before the adjoint sweep (appended to `tail`) when the sweep restores a name
        it reads (a `v` assigned in a loop is `v` before the loop again once the sweep has
        run); a copy when the sweep writes into that name's array (`h[...] = stack.pop()`)."""
        read = {n.id for n in walk(output) if isinstance(n, ast.Name)}
        rebound, rewritten = set(), set()
        for node in (n for stmt in backward for n in walk(stmt)):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                rebound.add(node.id)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                rewritten.add(node.target.id)  # (`+=` on an array writes into it)
            elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name)):
                rewritten.add(node.value.id)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "item_restore" and isinstance(node.args[0], ast.Name)):
                rewritten.add(node.args[0].id)
        if not read & (rebound | rewritten):
            return output
        held = self.namer.fresh("value")
        tail.append(assign(held, call("xp.own", [output]) if read & rewritten else output))
        return name(held)

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
        state = State()
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
            views = (mutation.sharing(self.function) if any(
                activity_module.is_slot_update(s) for s in self.records) else None)
            backward, self.records, self.shape_only = drop_needless_records(
                backward, self.records, views)
        elif options.kind == "vjp":
            extra_params.append(self.namer.fresh("bout"))
        if options.kind == "value_and_grad":
            output = self.held_output(output, tail, backward)
        forward = self.forward(primal, 0)
        for extra in extra_params:  # the cotangent takes part in choosing the backend
            namespace.value.keywords.append(ast.keyword(arg=extra, value=name(extra)))
        new_body = [namespace]
        used = {n.value.id for s in forward + backward for n in walk(s)
                if isinstance(n, ast.Attribute) and n.attr in ("append", "pop")
                and isinstance(n.value, ast.Name)}
        for stack in STACKS:
            if stack in used:
                new_body.append(assign(stack, ast.List(elts=[], ctx=ast.Load())))
        unset = unset_records(self.records, self.assignments)
        new_body += [assign(n, ast.Constant(None)) for n in unset]
        new_body += forward + tail + backward
        rebound = {n.id for stmt in forward for n in walk(stmt)
                   if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        given: dict[str, str] = {}  # parameter -> the name holding the value it was given
        result = self.result(output, ret, state, rebound, given)
        new_body[1:1] = [assign(held, name(param)) for param, held in given.items()]
        new_body.append(ast.copy_location(ast.Return(value=result), ret))
        function = copy.copy(self.function)
        function.name = self.function_name or self.namer.fresh(
            f"{self.function.name}_{options.kind}")
        function.args = _with_extra(self.function.args, extra_params, first=self.internal)
        function.body = new_body
        for stmt in new_body:
            if not hasattr(stmt, "lineno"):
                ast.copy_location(stmt, self.function)
        return ast.copy_location(function, self.function)

    def result(self, output, ret, state: State, rebound: set, given: dict) -> ast.expr:
        """The returned gradients (and value). Where a gradient is shaped like its parameter
        and the function assigns the parameter, the value it was given is held in a name
        of its own (in `given`): the backward sweep may not restore it."""
        grads = []
        for param in self.options.wrt:

            def argument(param=param) -> ast.expr:
                if param not in rebound:
                    return name(param)
                if param not in given:
                    given[param] = self.namer.fresh(f"{param}_given")
                return name(given[param])

            adjoint = self.adjoint_names.get(param)
            if adjoint in state.defined:
                value: ast.expr = name(adjoint)
                if adjoint in state.maybe_zero:
                    value = call("xp.broadcast_like", [value, argument()])
                if not self.internal and param in self.source.specimens:
                    # an object's gradient: a copy of the object holding the gradients
                    value = call("xp.as_gradient", [value, argument()])
                grads.append(value)
            else:
                grads.append(call("xp.zeros_tree", [argument()]))
        result = ast.Tuple(elts=grads, ctx=ast.Load()) if self.options.tuple_result else grads[0]
        if self.options.kind == "value_and_grad":
            value = output
            result = ast.Tuple(elts=[value, result], ctx=ast.Load())
        return result


def _with_extra(args: ast.arguments, extra: list[str], first: bool = False) -> ast.arguments:
    """`args` plus the derivative inputs: first (internal functions, called positionally by
    emitted code) or last (keyword-only after defaulted parameters)."""
    new = clone(args)
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
