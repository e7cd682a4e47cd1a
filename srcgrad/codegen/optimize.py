"""Clean-ups on emitted functions: constant folding and propagation (`folding`), DCE, and
the layout rewrites (`specialize`, `factoring`, `in_place`), run until nothing changes;
then long elementwise chains are run block by block (`blocking`), and the function the
user calls copies the results that may share an argument's array (`owning`).

The goal is the code a careful person would write: no `g * 1.0`, no `b = a` chains, no
temporaries nobody reads, no primal work the adjoint does not need. Every rewrite here keeps
the value of every returned expression exactly (up to the type of a multiplication by one).
Statements with effects (expression statements such as `xp.require_scalar(...)`) are
always kept.
"""

from __future__ import annotations

import ast
from functools import partial

from srcgrad.codegen import (blocking, closed_forms, factoring, gathers, in_place, owning,
                             specialize, spelling)
from srcgrad.codegen.analysis import assignment, layouts, liveness, shapes
from srcgrad.codegen.analysis import cfg as cfg_module
from srcgrad.codegen.analysis.dataflow import FORWARD, solve
from srcgrad.codegen.folding import Tally, is_value, propagate
from srcgrad.codegen.records import record_name
from srcgrad.codegen.syntax import (STACKS, Comment, clone, namespace_statement, rewrite,
                                    statements, walk, xp_calls)

__all__ = ["optimize"]

_COMPOUND = (ast.If, ast.For, ast.While)


def _is_pop(stmt: ast.stmt) -> bool:
    """Any `... = items.pop()`: taking from a list has an effect, so it is never dead."""
    value = getattr(stmt, "value", None)
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == "pop")


def _is_restore(stmt: ast.stmt) -> bool:
    """`x = stack.pop()`: a restore from the record stack of this very function."""
    return (_is_pop(stmt) and isinstance(stmt, ast.Assign)
            and isinstance(stmt.value.func.value, ast.Name) and stmt.value.func.value.id in STACKS)


def _zero_starts(function: ast.FunctionDef) -> tuple[frozenset, list]:
    """The names both assigned 0 and added to (`b = b + e`), and those additions: what
    `_first_contributions` looks at."""
    zeros, sums = set(), []
    for stmt in statements(function.body):
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            target, value = stmt.targets[0].id, stmt.value
            if is_value(value, 0):
                zeros.add(target)
            elif (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)
                  and isinstance(value.left, ast.Name) and value.left.id == target):
                sums.append(stmt)
    candidates = frozenset(zeros.intersection(s.targets[0].id for s in sums))
    return candidates, [s for s in sums if s.targets[0].id in candidates]


def _first_contributions(function: ast.FunctionDef) -> bool:
    """`b = b + e` where b certainly holds the literal 0.0 becomes `b = e`; True when
    there was one."""
    candidates, additions = _zero_starts(function)
    if not candidates:
        return False
    graph = cfg_module.build(function)

    def zeros(node, facts):  # (facts about the candidates only: nothing else is asked)
        stmt = node.ast_node
        facts = facts - liveness.defines(stmt) - assignment.targets(stmt)
        if isinstance(stmt, ast.Assign) and is_value(stmt.value, 0) and isinstance(
                stmt.targets[0], ast.Name) and stmt.targets[0].id in candidates:
            facts = facts | {stmt.targets[0].id}
        return facts

    facts = solve(graph, FORWARD, zeros, join=frozenset.intersection, top=candidates)
    known = {n.ast_node: facts.before[n] for n in graph.nodes if n.ast_node is not None}
    changed = False
    for stmt in additions:
        if stmt.targets[0].id in known.get(stmt, ()):
            stmt.value = stmt.value.right
            changed = True
    return changed


_ZERO = ast.Constant(0.0)


def _dropping_unbroadcasts(classes: shapes.ShapeClasses, index: int, tally: Tally):
    def change(node):
        if type(node) is not ast.Call:
            return node
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "xp"
            and func.attr in ("unbroadcast", "broadcast_like")
            and len(node.args) == 2
            and classes.same_shape(index, node.args[0], node.args[1])
            # (a 0.0 placeholder has no class: widening it to an array of zeros stays)
            and not (node.args[0].__class__ is ast.Name
                     and node.args[0].id in classes.placeholders
                     and not classes.same_shape(index, _ZERO, node.args[1]))
        ):
            tally.count += 1
            return node.args[0]
        return node

    return change


def _drop_unbroadcasts(function: ast.FunctionDef) -> bool:
    """Remove `xp.unbroadcast(g, x)` and `xp.broadcast_like(g, x)` where g provably
    already has x's shape; True when there was one."""
    if not xp_calls(function) & {"unbroadcast", "broadcast_like"}:
        return False
    classes = shapes.analyze(function)
    tally = Tally()
    function.body = [rewrite(stmt, _dropping_unbroadcasts(classes, index, tally))
                     for index, stmt in enumerate(function.body)]
    return tally.count > 0


def _is_widening(stmt: ast.stmt) -> bool:
    """`b = xp.broadcast_like(b, y)`: turning a 0.0 placeholder into an array of zeros."""
    if not (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)):
        return False
    value = stmt.value
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == "broadcast_like" and isinstance(value.args[0], ast.Name)
            and value.args[0].id == stmt.targets[0].id)


def _drop_needless_widening(function: ast.FunctionDef) -> bool:
    """Remove `b = xp.broadcast_like(b, y)` where b can no longer be the 0.0 placeholder."""
    if not any(_is_widening(stmt) for stmt in statements(function.body)):
        return False
    graph = cfg_module.build(function)

    def placeholders(node, facts):
        stmt = node.ast_node
        facts = facts - liveness.defines(stmt) - assignment.targets(stmt)
        if isinstance(stmt, ast.Assign) and is_value(stmt.value, 0) and isinstance(
                stmt.targets[0], ast.Name):
            facts = facts | {stmt.targets[0].id}
        if _is_widening(stmt):
            facts = facts - {stmt.targets[0].id}
        return facts

    facts = solve(graph, FORWARD, placeholders)
    maybe = {n.ast_node: facts.before[n] for n in graph.nodes if n.ast_node is not None}

    return _remove(function, lambda stmt: _is_widening(stmt)
                   and stmt.targets[0].id not in maybe.get(stmt, ()))


def _remove(function: ast.FunctionDef, needless) -> bool:
    """Delete the statements (at any depth) for which `needless(stmt)` is true; True when
    something was deleted."""
    changed = False

    def prune(body):
        nonlocal changed
        kept = []
        for stmt in body:
            if needless(stmt):
                changed = True
                continue
            if isinstance(stmt, _COMPOUND):
                stmt.body = prune(stmt.body)
                stmt.orelse = prune(stmt.orelse)
            kept.append(stmt)
        return kept

    function.body = prune(function.body)
    return changed


def _dead_records(function: ast.FunctionDef, live) -> set[str]:
    """Names whose every restore (`x = stack.pop()`) is dead: their records can go."""
    restores: dict[str, bool] = {}
    for stmt in statements(function.body):
        if _is_restore(stmt) and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            restores[name] = restores.get(name, True) and live.is_dead(stmt)
    return {name for name, dead in restores.items() if dead}


def _removable(stmt: ast.stmt, effects=frozenset()) -> bool:
    """May `stmt` go when nothing reads what it binds? Not when it calls one of the
    functions `effects` names (their checks refuse, when they run, what srcgrad cannot
    follow: an update of the caller's array)."""
    return isinstance(stmt, ast.Assign) and not _is_pop(stmt) and not (effects and any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id in effects for node in walk(stmt.value)))


def _eliminate(function: ast.FunctionDef, effects=frozenset()) -> bool:
    """Remove assignments whose targets are never read (chains of them at once), and
    records nobody restores to a live value; True when something was removed."""
    changed = False
    removable = partial(_removable, effects=effects)
    while True:
        live = liveness.analyze(function, removable)
        dead_records = _dead_records(function, live)
        removed = _remove(function, _needless(live, dead_records, removable))
        changed |= removed
        if not (removed and dead_records):  # (else what the records read may be dead now)
            return changed


def _needless(live: liveness.Liveness, dead_records: set[str], removable):
    def needless(stmt) -> bool:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) and (
                isinstance(stmt.value, ast.Name) and stmt.value.id == stmt.targets[0].id):
            return True  # x = x
        if _is_restore(stmt) and isinstance(stmt.targets[0], ast.Name) and (
                stmt.targets[0].id in dead_records):
            return True
        if record_name(stmt) in dead_records:
            return True
        return removable(stmt) and live.is_dead(stmt)

    return needless


def _heads_derivative_code(block: list[ast.stmt], primal: frozenset) -> bool:
    """Does `block` (what follows a comment, up to the next one) compute any derivative,
    rather than only primal values and records?"""
    for stmt in block:
        if isinstance(stmt, Comment):
            return False
        if isinstance(stmt, _COMPOUND):
            return True
        defined = liveness.defines(stmt)
        if defined and not defined <= primal:
            return True
        if isinstance(stmt, ast.Expr) and record_name(stmt) is None and not (
                isinstance(stmt.value, ast.Call)
                and getattr(stmt.value.func, "attr", "").startswith("require_")):
            return True
    return False


def _read(body: list[ast.stmt]) -> set[str]:
    return {n.id for stmt in body for n in walk(stmt)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _plain_range(expr: ast.expr) -> bool:
    """`range(...)` of arguments that call nothing but `len`: a loop over it, with
    nothing to do, may go."""
    if not (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name)
            and expr.func.id == "range" and not expr.keywords):
        return False
    return all(isinstance(n.func, ast.Name) and n.func.id == "len"
               for arg in expr.args for n in walk(arg) if isinstance(n, ast.Call))


def _tidy(body: list[ast.stmt], primal: frozenset = frozenset(),
          read: frozenset | None = None) -> list[ast.stmt]:
    """Drop comments that no longer head derivative code (and repeats of the one before),
    branches left empty, loops over a range left empty whose variable nothing reads
    (`read`: every name the function reads), and give emptied blocks a `pass`."""
    read = frozenset(_read(body)) if read is None else read
    out: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, _COMPOUND):
            stmt.body = _tidy(stmt.body, primal, read)
            stmt.orelse = _tidy(stmt.orelse, primal, read)
            empty = all(isinstance(s, ast.Pass) for s in stmt.body) and not stmt.orelse
            if isinstance(stmt, ast.If) and empty and isinstance(stmt.test, ast.Name):
                continue
            if (isinstance(stmt, ast.For) and empty and isinstance(stmt.target, ast.Name)
                    and stmt.target.id not in read and _plain_range(stmt.iter)):
                continue  # (`for i in range(n): pass`, its work all dead)
            if not stmt.body:
                stmt.body = [ast.Pass()]
        out.append(stmt)
    tidy: list[ast.stmt] = []
    last_comment = None
    for index, stmt in enumerate(out):
        if isinstance(stmt, Comment):
            following = out[index + 1] if index + 1 < len(out) else None
            if following is None or isinstance(following, (Comment, ast.Return)):
                continue
            if primal and not _heads_derivative_code(out[index + 1:], primal):
                continue
            if stmt.text == last_comment:
                continue
            last_comment = stmt.text
        elif type(stmt) is ast.Pass and len(out) > 1:
            continue
        tidy.append(stmt)
    return tidy


def _restore_namespace(function: ast.FunctionDef, namespace: ast.stmt | None) -> bool:
    """Put back `xp = rt.namespace(...)`, dropped while unused, when a later rewrite made
    code that calls `xp` (a loop in closed form, a kernel writing into a temporary)."""
    if namespace is not None and namespace_statement(function) is None and any(
            isinstance(n, ast.Name) and n.id == "xp" for n in walk(function)):
        function.body.insert(0, clone(namespace))
        return True
    return False


def _updated_in_place(function: ast.FunctionDef) -> frozenset:
    """The names `function` hands to `xp.accumulate_at`, which adds into its first argument
    in place."""
    return frozenset(
        node.args[0].id for node in walk(function)
        if node.__class__ is ast.Call and node.func.__class__ is ast.Attribute
        and node.func.attr == "accumulate_at" and node.args
        and node.args[0].__class__ is ast.Name)


def optimize(function: ast.FunctionDef, primal=frozenset(), argument_layouts=None,
             floats=frozenset(), own_results=False, tangents=False,
             effects=frozenset(), callees=None) -> ast.FunctionDef:
    """Return an optimized copy of an emitted function; `primal` names the user's own
    values, whose statements keep their exact operations; `argument_layouts` (parameter
    name -> rank and unit axes) specializes the code to arguments of those layouts. With
    `own_results` (the function the user calls), every array it returns is its own;
    `tangents` says that it computes tangents (forward mode repeats lists); calls of the
    functions `effects` names stay even when their results are not used; `callees` says
    what the module's other functions return (`analysis.layouts.Shapes`)."""
    function = clone(function)
    primal = frozenset(primal)
    if argument_layouts and any("[" in label for label in argument_layouts):
        # (the entries of a dict it assigns to are not the ones the caller passed)
        kept = layouts.unchanged_entries(function, argument_layouts)
        argument_layouts = {k: v for k, v in argument_layouts.items() if "[" not in k
                            or k in kept}
        floats = frozenset(k for k in floats if "[" not in k or k in kept)
    namespace = namespace_statement(function)
    helpers = xp_calls(function)  # (passes only ever remove the ones their checks look at)
    owned = _updated_in_place(function) if "accumulate_at" in helpers else frozenset()

    def propagated():
        tally = Tally()
        function.body = propagate(function.body, primal, tally, owned=owned)
        return tally.count > 0

    def loops():  # the loop rewrites call `xp`
        changed = closed_forms.close_scaling_loops(function, primal)
        if "unindex" in helpers:
            changed |= gathers.gather_in_buffers(function)
            changed |= gathers.gather_entries(function)
        return _restore_namespace(function, namespace) or changed

    def specialized():
        return specialize.specialize(function, argument_layouts, primal, helpers, callees)

    eliminate = partial(_eliminate, function, frozenset(effects))
    passes = [partial(_first_contributions, function), propagated, eliminate]
    if argument_layouts:
        passes.append(specialized)
    if helpers & {"unbroadcast", "broadcast_like"}:
        passes.append(partial(_drop_unbroadcasts, function))
    if "broadcast_like" in helpers:
        passes.append(partial(_drop_needless_widening, function))
    if namespace is not None:
        passes.append(loops)
    passes += [propagated, eliminate]  # (again: what the others made copies or dead)
    _until_nothing_changes(passes, function, idempotent={eliminate, specialized})
    if argument_layouts:
        # (one shape analysis, again only after a step that changed the code)
        known = layouts.analyze(function, argument_layouts, callees)
        if factoring.factor_contributions(function, argument_layouts, primal, known):
            known = layouts.analyze(function, argument_layouts, callees)
        if specialize.hoist_transposes(function, argument_layouts, primal, known):
            known = layouts.analyze(function, argument_layouts, callees)
        in_place.update_in_place(function, argument_layouts, floats, primal, known)
        _restore_namespace(function, namespace)
    function.body = _tidy(function.body, primal)
    spelling.respell(function)
    for stmt in statements(function.body):  # (`ast.unparse` reads statements' lines)
        if not hasattr(stmt, "lineno"):
            ast.copy_location(stmt, function)
    if argument_layouts and namespace is not None and blocking.block_elementwise(
            function, known):
        _restore_namespace(function, namespace)
    if own_results and owning.own_results(function, argument_layouts or {}, tangents) and (
            namespace_statement(function) is None):  # (`xp.own` needs it)
        if namespace is None:
            raise AssertionError("srcgrad internal error: a derivative without `xp`")
        function.body.insert(0, clone(namespace))
    return function


CHECK_CHANGES = False  # tests set it: every pass's report of a change is checked


def _check_report(one, changed: bool, before: str, function: ast.FunctionDef,
                  idempotent: bool) -> None:
    """Raise if a pass changed the code and said it did not, or if an idempotent pass
    that changed it finds more to do in its own result."""
    name = getattr(one, "func", one).__qualname__
    if not changed and ast.dump(function) != before:
        raise AssertionError(f"{name} changed the code and said it did not")
    if changed and idempotent:
        after = ast.dump(function)
        if one() or ast.dump(function) != after:
            raise AssertionError(f"{name} is listed as idempotent and found more to do "
                                 "in its own result")


def _until_nothing_changes(passes, function: ast.FunctionDef, idempotent=frozenset()) -> None:
    """Run the passes in turn until none changes the function. Each says whether it
    changed anything; one that found nothing to do is run again only after another
    changed the code (a pass may appear more than once in the list), and so is one of
    the `idempotent` passes, which leave nothing for themselves to do."""
    version = 0  # how many times the code has changed
    settled = {}  # pass -> the version of the code it has nothing (more) to do in
    while True:
        start = version
        for one in passes:
            if settled.get(one) == version:
                continue
            before = ast.dump(function) if CHECK_CHANGES else None
            changed = one()
            if CHECK_CHANGES:
                _check_report(one, changed, before, function, one in idempotent)
            if changed:
                version += 1
            if not changed or one in idempotent:
                settled[one] = version
        if version == start:
            return
