"""Checks for slot assignments (`y[k] = v`) that would make a derivative silently wrong.

NumPy updates arrays in place, and many operations return views that share memory with
their operand (`x[0]`, `x.T`, `x.reshape(...)`, plain `a = b`). If an update reaches an
array through another name that is still used, or an argument the caller holds, the
derivative of the straight reading of the code would be wrong. These cases are rejected
with a located error that says what to write instead (usually `.copy()`).
"""

from __future__ import annotations

import ast

from srcgrad.codegen.analysis import activity, liveness
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


def _union_views(statements) -> dict[str, str]:
    """Union-find parents joining each name assigned a view (or the same object) of
    another name with it, over `statements` (nested ones walked too)."""
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    for stmt in statements:
        for node in walk(stmt):
            if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                    and not isinstance(node.value, (ast.List, ast.Tuple, ast.Dict))):
                other = _view_source(node.value)
                if other is not None:
                    parent[find(node.targets[0].id)] = find(other)
    return parent


def _root(parent: dict[str, str], name: str) -> str:
    while parent.get(name, name) != name:
        name = parent[name]
    return name


def sharing(statements) -> dict[str, frozenset]:
    """For each name assigned a view of another in `statements`, or viewed so: the other
    names that may share its memory."""
    parent = _union_views(statements)
    groups: dict[str, set] = {}
    for name in {*parent, *parent.values()}:
        groups.setdefault(_root(parent, name), set()).add(name)
    return {name: frozenset(group - {name}) for group in groups.values() for name in group}


def check(source: Source, function: ast.FunctionDef, inplace=()) -> list:
    """Raise UnsupportedSyntaxError for updates through shared memory: slot assignments and
    appends. `x op= v` (`inplace`: (statement, name) pairs) updates arrays in place but
    rebinds numbers, which only the run time can tell apart: for those, return
    (statement, name, sharing names, message) guards to check then."""
    updates = [s for s in walk(function)
               if activity.is_slot_update(s) or activity.is_append(s)]
    names_of = {id(stmt): name for stmt, name in inplace}
    updates += [stmt for stmt, _ in inplace]
    guards = []
    if not updates:
        return guards
    parent = _union_views([function])

    def find(name: str) -> str:
        return _root(parent, name)

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
    names = {n.id for n in walk(function) if isinstance(n, ast.Name)}
    def holders(group: set[str]) -> set[str]:
        """Containers that (directly or through other containers) hold a value of `group`."""
        found: set[str] = set()
        frontier = set(group)
        while frontier:
            new = {c for c, held in holds.items() if held & frontier} - found
            found |= new
            frontier = {n for n in names if any(find(n) == find(c) for c in new)} - group
        return found

    for stmt in updates:
        array = names_of.get(id(stmt)) or activity.assigned_name(stmt)
        group = {n for n in names if find(n) == find(array)}
        if not activity.is_append(stmt):  # appending does not change the values a list holds
            for holder in sorted(holders(group) & live.live_after[stmt]):
                raise UnsupportedSyntaxError(
                    f"`{array}` is held by `{holder}`, which is used after this assignment "
                    "and would see the change", source.locate(stmt),
                    f"store a copy instead (`{holder}.append({array}.copy())` or "
                    f"`[{array}.copy(), ...]`), or assign to a new array")
        if id(stmt) in names_of:
            sharing = sorted((group - {array}) & (params | live.live_after[stmt]))
            if sharing:
                where = source.locate(stmt)
                message = (f"this augmented assignment would update in place an array that "
                           f"{', '.join(sharing)} also refers to, which srcgrad cannot follow")
                guards.append((stmt, array, sharing, message, where))
            continue
        for param in sorted(group & params):
            raise UnsupportedSyntaxError(
                f"`{array}` may share memory with the argument `{param}`, so this assignment "
                "would change the caller's array", source.locate(stmt),
                f"copy first: `{array} = {param}.copy()` (or build a new array)")
        for other in sorted((group - {array}) & live.live_after[stmt]):
            raise UnsupportedSyntaxError(
                f"`{array}` may share memory with `{other}`, which is used after this "
                f"assignment and would see the change", source.locate(stmt),
                f"make `{array}` a copy where it is created (`.copy()`), or stop using "
                f"`{other}` after the assignment")
    return guards
