"""Checks for slot assignments (`y[k] = v`) that would make a derivative silently wrong.

NumPy updates arrays in place, and many operations return views that share memory with
their operand (`x[0]`, `x.T`, `x.reshape(...)`, plain `a = b`). If an update reaches an
array through another name that is still used, or an argument the caller holds, the
derivative of the straight reading of the code would be wrong. These cases are rejected
with a located error that says what to write instead (usually `.copy()`).
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis import activity, assignment, liveness
from srcgrad.codegen.analysis import cfg as cfg_module
from srcgrad.codegen.analysis.dataflow import FORWARD, solve
from srcgrad.codegen.source import Source
from srcgrad.errors import UnsupportedSyntaxError
from srcgrad.codegen.syntax import walk

__all__ = ["check", "sharing"]

# Kernels whose result may share memory with their first argument.
VIEW_KERNELS = frozenset({
    "transpose", "reshape", "ravel", "squeeze", "expand_dims", "swapaxes", "moveaxis",
    "broadcast_to", "diagonal", "asarray", "atleast_1d", "atleast_2d", "atleast_3d",
    "flip", "stop_gradient",
})


def _view_source(value: ast.expr) -> str | None:
    """The name `value` may be a view of, if any."""
    if isinstance(value, ast.Name):
        return value.id
    if isinstance(value, (ast.Subscript, ast.Attribute)) and isinstance(value.value, ast.Name):
        return value.value.id
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name) and value.func.value.id == "xp"
            and value.func.attr in VIEW_KERNELS and value.args
            and isinstance(value.args[0], ast.Name)):
        return value.args[0].id
    return None


_NOT_VIEWS = frozenset({"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides"})


def _root_of(obj):
    return obj[1] if obj[0] == "part" else obj


def _objects(function: ast.FunctionDef, params) -> dict:
    """For each statement: the (name, object) pairs that may hold before it, flow-sensitively.
    An object is an argument's (`("param", p)`), one a statement made, a name's from outside
    the function, or `("part", object)`: a view of (or an item in) another."""
    graph = cfg_module.build(function)

    def bind(facts, name, objects):
        return frozenset(f for f in facts if f[0] != name) | {(name, o) for o in objects}

    def source_objects(facts, value, made):
        other = _view_source(value)
        if other is None or (isinstance(value, ast.Attribute) and value.attr in _NOT_VIEWS):
            return {made}
        found = {o for n, o in facts if n == other} or {("name", other)}
        return found if isinstance(value, ast.Name) else {("part", _root_of(o)) for o in found}

    def transfer(node, facts):
        stmt = node.ast_node
        if isinstance(stmt, ast.For):  # `for row in x`: each row a view of x
            other = _view_source(stmt.iter)
            rows = {("part", _root_of(o)) for n, o in facts if n == other}
            for target in (n for n in walk(stmt.target) if isinstance(n, ast.Name)):
                facts = bind(facts, target.id, rows or {(id(stmt), target.id)})
            return facts
        if not isinstance(stmt, ast.Assign) or activity.is_slot_update(stmt):
            return facts
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            value = stmt.value
            made = (id(stmt), target.id)
            objects = ({made} if isinstance(value, (ast.List, ast.Tuple, ast.Dict))
                       else source_objects(facts, value, made))
            return bind(facts, target.id, objects)
        for name in (n for n in walk(target) if isinstance(n, ast.Name)):
            facts = bind(facts, name.id, {(id(stmt), name.id)})
        return facts

    boundary = frozenset((p, ("param", p)) for p in params)
    facts = solve(graph, FORWARD, transfer, boundary=boundary)
    return {n.ast_node: facts.before[n] for n in graph.nodes if n.ast_node is not None}


def sharing(function: ast.FunctionDef) -> dict[str, frozenset]:
    """For each name: the other names that may share its memory somewhere in `function`
    (an alias, a view, or what it is a view of)."""
    args = function.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    found: dict[str, set] = {}
    for facts in _objects(function, params).values():
        holders: dict = {}
        for name, obj in facts:
            holders.setdefault(_root_of(obj), set()).add(name)
        for group in holders.values():
            for name in group:
                found.setdefault(name, set()).update(group - {name})
    return {name: frozenset(others) for name, others in found.items()}


def check(source: Source, function: ast.FunctionDef, inplace=()) -> list:
    """Raise UnsupportedSyntaxError for updates through shared memory: slot assignments and
    appends. `x op= v` (`inplace`: (statement, name) pairs) updates arrays in place but
    rebinds numbers, which only the run time can tell apart: for those, return
    (statement, name, sharing names, message) guards to check then. What may share an
    array is followed in program order (an alias made after the update sees the new
    values, as it should)."""
    updates = [s for s in walk(function)
               if activity.is_slot_update(s) or activity.is_append(s)]
    names_of = {id(stmt): name for stmt, name in inplace}
    updates += [stmt for stmt, _ in inplace]
    guards = []
    if not updates:
        return guards
    holds: dict[str, set[str]] = {}  # container name -> names of the values it holds
    for stmt in walk(function):
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            if isinstance(stmt.value, (ast.List, ast.Tuple, ast.Dict)):
                parts = stmt.value.values if isinstance(stmt.value, ast.Dict) else stmt.value.elts
                holds.setdefault(stmt.targets[0].id, set()).update(
                    p.id for p in parts if isinstance(p, ast.Name))
        if activity.is_append(stmt) and isinstance(stmt.value.args[0], ast.Name):
            holds.setdefault(activity.assigned_name(stmt), set()).add(stmt.value.args[0].id)
        if activity.is_slot_update(stmt) and isinstance(stmt.value, ast.Name):
            holds.setdefault(activity.assigned_name(stmt), set()).add(stmt.value.id)
    args = function.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    live = liveness.analyze(function)
    objects_before = _objects(function, params)
    unassigned = assignment.analyze(function).unassigned_before

    def holders(group: set[str], facts) -> set[str]:
        """Containers that (directly or through other containers) hold a value of `group`."""
        found: set[str] = set()
        frontier = set(group)
        while frontier:
            new = {c for c, held in holds.items() if held & frontier} - found
            found |= new
            roots = {_root_of(o) for n, o in facts if n in new}
            frontier = {n for n, o in facts if _root_of(o) in roots} - group
        return found

    # The value of a `return` inside a branch or loop (see jumps.structure): once it is
    # set, only the final return runs, so no update reaches it.
    returned = {getattr(function, "early_result", None)}
    for stmt in updates:
        array = names_of.get(id(stmt)) or activity.assigned_name(stmt)
        facts = objects_before.get(stmt, frozenset())
        live_after = live.live_after[stmt] - returned
        mine = {o for n, o in facts if n == array}
        if activity.is_append(stmt):  # the list itself, not what it holds, changes
            group = {n for n, o in facts if o in mine}
            arguments = {o[1] for o in mine if o[0] == "param"}
        else:
            roots = {_root_of(o) for o in mine}
            group = {n for n, o in facts if _root_of(o) in roots}
            arguments = {r[1] for r in roots if r[0] == "param"}
            for holder in sorted((holders(group, facts) - group) & live_after):
                raise UnsupportedSyntaxError(
                    f"`{array}` is held by `{holder}`, which is used after this assignment "
                    "and would see the change", source.locate(stmt),
                    f"store a copy instead (`{holder}.append({array}.copy())` or "
                    f"`[{array}.copy(), ...]`), or assign to a new array")
        group.add(array)
        if id(stmt) in names_of:
            sharing = sorted((group - {array}) & (params | live_after))
            if array in arguments:  # (the caller's array, or a number rebound)
                where = source.locate(stmt)
                message = (f"this augmented assignment would update in place the array "
                           f"passed as the argument `{array}`, which srcgrad cannot follow")
                guards.append((stmt, array, [array], message, where))
                continue
            unbound = [n for n in sharing if n in unassigned.get(stmt, ())]
            if unbound:  # (the run-time check could not read them)
                raise UnsupportedSyntaxError(
                    f"this augmented assignment may update in place an array that "
                    f"`{unbound[0]}` also refers to, which srcgrad cannot follow",
                    source.locate(stmt), f"write `{array} = {array} op ...` to make a new "
                    "array, or copy the array where the other name is bound (`.copy()`)")
            if sharing:
                where = source.locate(stmt)
                message = (f"this augmented assignment would update in place an array that "
                           f"{', '.join(sharing)} also refers to, which srcgrad cannot follow")
                guards.append((stmt, array, sharing, message, where))
            continue
        for param in sorted(arguments):
            raise UnsupportedSyntaxError(
                f"`{array}` may share memory with the argument `{param}`, so this assignment "
                "would change the caller's array", source.locate(stmt),
                f"copy first: `{array} = {param}.copy()` (or build a new array)")
        for other in sorted((group - {array}) & live_after):
            raise UnsupportedSyntaxError(
                f"`{array}` may share memory with `{other}`, which is used after this "
                f"assignment and would see the change", source.locate(stmt),
                f"make `{array}` a copy where it is created (`.copy()`), or stop using "
                f"`{other}` after the assignment")
    return guards
