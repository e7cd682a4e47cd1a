"""Reverse mode, one statement at a time: the adjoint block of an assignment, a list
append or a slot update, and how contributions add up into adjoints.

`Adjoints` is mixed into the reverse transformation (`reverse._Reverse`), which supplies the
analyses and bookkeeping these methods read: `source`, `function`, `module`, `activity`,
`containers`, `namer`, `adjoint_names`, `records` and `adjoint_name()`.
"""

from __future__ import annotations

import ast
import types

from srcgrad.codegen import primitives, template
from srcgrad.codegen.analysis import activity as activity_module
from srcgrad.codegen.calls import active_arguments, call_context, user_call
from srcgrad.codegen.syntax import Comment, assign, call, clone, name
from srcgrad.errors import NonDifferentiableError, UnknownCalleeError
from srcgrad.records import field, record

__all__ = ["Adjoints", "State"]


@record
class State:
    """What the backward sweep knows at a point: adjoints assigned on every path, and
    adjoints that may still hold the 0.0 placeholder (rather than an array of zeros)."""

    defined: set = field(default_factory=set)
    maybe_zero: set = field(default_factory=set)

    def copy(self) -> State:
        return State(set(self.defined), set(self.maybe_zero))


def is_pop(value: ast.expr) -> bool:
    """`items.pop()` on a local list (emitted code restoring a recorded value)."""
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == "pop" and isinstance(value.func.value, ast.Name)
            and not value.args)


class Adjoints:
    """The per-statement adjoint construction of the reverse transformation."""

    def accumulate(self, stmts: list[ast.stmt], state: State) -> list[ast.stmt]:
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
        if is_pop(stmt.value):
            items = stmt.value.func.value.id
            return [items] if self.activity.varied_operand(stmt, items) else []
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

    def adjoint_of(self, stmt: ast.Assign, state: State) -> list[ast.stmt]:
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
        if is_pop(value):  # `x = items.pop()`: x's adjoint goes back on as the last entry
            items = value.func.value.id
            if not self.activity.varied_operand(stmt, items):
                return []
            bitems = self.adjoint_name(items)
            before = name(bitems) if bitems in state.defined else ast.Constant(None)
            state.defined.add(bitems)
            state.maybe_zero.discard(bitems)
            restore = assign(bitems, call("xp.push_adjoint", [before, name(badjoint), name(items)]))
            return [ast.copy_location(restore, stmt)]
        if found.kind == primitives.Kind.PACK:
            keys = value.keys if isinstance(value, ast.Dict) else [
                ast.Constant(i) for i in range(len(value.elts))]
            parts = value.values if isinstance(value, ast.Dict) else value.elts
            adds = []
            for key, part in zip(keys, parts, strict=True):
                if isinstance(part, ast.Name) and self.activity.varied_operand(stmt, part.id):
                    entry = call("xp.item_adjoint", [name(badjoint), clone(key),
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
            derivs[param] = binding.derivatives(
                param, lambda n: self.activity.varied_operand(stmt, n), self.adjoint_name)
        spliced = template.instantiate(rule.adjoint, binding, name(target), derivs, self.namer,
                                       "adjoint", stmt)
        for piece in spliced:  # per-item adjoints of a list variable add up item by item
            if (isinstance(piece, ast.AugAssign) and rule.param(_param_of(derivs, piece)) is not None
                    and rule.param(_param_of(derivs, piece)).sequence):
                piece.value = call("xp.cotangents", [piece.value])
        return self.accumulate(spliced, state)

    def adjoint_of_call(self, stmt: ast.Assign, callee, arguments: dict, state: State):
        """`y = g(...)` for a user function g: pull the adjoint back through g's own vjp
        (which recomputes g's forward sweep), for the arguments that carry a gradient."""
        value = stmt.value
        active = active_arguments(self.source, self.activity, stmt, arguments)
        if not active:
            return []
        entry = self.module.request(callee, "vjp", tuple(p for p, _ in active),
                                    **call_context(self.source, arguments))
        pullback = ast.Call(func=name(entry.name),
                            args=[name(self.adjoint_name(stmt.targets[0].id)),
                                  *clone(value.args)],
                            keywords=clone(value.keywords))
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

    def backward_append(self, stmt: ast.Expr, state: State) -> list[ast.stmt]:
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

    def backward_slot(self, stmt: ast.Assign, state: State) -> list[ast.stmt]:
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
                part = call("xp.slot_adjoint", [name(badjoint), key, clone(value)])
                add = ast.AugAssign(target=name(self.adjoint_name(value.id), True), op=ast.Add(),
                                    value=part)
                out += self.accumulate([ast.copy_location(add, stmt)], state)
            rest = assign(badjoint, call("xp.zero_slot", [name(badjoint), clone(key)]))
            out.append(ast.copy_location(rest, stmt))
        if array in self.containers:  # a list or dict entry, possibly a new key
            key = template.index_value(target.slice)
            stack = self.stack_for(stmt, array)
            restore = ast.Expr(call("xp.item_restore", [name(array), key, call(f"{stack}.pop")]))
        else:
            restore = ast.Assign(targets=[clone(target)],
                                 value=call(f"{self.stack_for(stmt, array)}.pop"))
        out.append(ast.copy_location(restore, stmt))
        self.records.add(stmt)
        return out


def _param_of(derivs: dict, piece: ast.AugAssign) -> str:
    """The template parameter whose adjoint an accumulation targets."""
    for param, target in derivs.items():
        if target == piece.target.id:
            return param
    return ""
