"""Normalization: desugar, resolve and flatten the body into one primitive per assignment.

After this pass the function body holds only

    name = <atom>                         a copy (atoms are names and constants)
    name = <atom> <op> <atom>             an operator primitive
    name = <op> <atom>
    name = xp.<kernel>(<atoms>, k=<atom>) a NumPy primitive, resolved to its kernel
    name = <builtin>(<atoms>)             len, float, ... (builtins with rules)
    name = <atom>[<index of atoms>]       subscript read
    name = <atom>.shape | <atom> < <atom> metadata (never differentiable)
    name = <opaque call>(<atoms>)         a call srcgrad cannot see into
    return <atom>

with readable temporaries (`tanh_x`), `x += y` turned into `x = x + y`, tuple unpacking split
into element reads, methods (`x.sum()`), properties (`x.T`) and module functions
(`np.tanh`, `numpy.tanh`, `from numpy import tanh`, `math.exp`) mapped to primitives, and
every re-definition of a name given a fresh version (`h`, `h_2`) so each name has one value.
Each new statement carries the location of the user's expression it came from.
"""

from __future__ import annotations

import ast
import copy

from srcgrad.codegen import jumps, primitives
from srcgrad.codegen.naming import RESERVED, Namer, expression_name
from srcgrad.codegen.normalize_expressions import Expressions, _xp, kernel_of
from srcgrad.codegen.source import Source
from srcgrad.codegen.syntax import clone, fix_locations, walk
from srcgrad.errors import UnsupportedSyntaxError

__all__ = ["normalize", "local_names"]
def local_names(tree: ast.FunctionDef) -> set[str]:
    """Parameters and every name the body assigns."""
    names = {a.arg for a in [*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs]}
    for node in walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _backend_name(source: Source, tree: ast.FunctionDef) -> str | None:
    """`xp` when the body starts by binding `xp = rt.namespace(...)` (emitted code)."""
    from srcgrad import runtime

    for stmt in tree.body[:2]:  # after the docstring, if any
        if (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
                and isinstance(stmt.value, ast.Call)
                and source.resolver.resolve(stmt.value.func, frozenset()) is runtime.namespace):
            return stmt.targets[0].id
    return None


def _is_namespace_statement(stmt: ast.stmt, backend: str) -> bool:
    return (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == backend and isinstance(stmt.value, ast.Call))


def _is_backend_call(node: ast.expr, backend: str) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == backend)


def _assigned_in_compound(tree: ast.FunctionDef):
    """Names assigned anywhere inside an if, for or while (including loop targets)."""
    for stmt in tree.body:
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            for node in walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    yield node.id


def _all_names(tree: ast.FunctionDef) -> set[str]:
    return local_names(tree) | {n.id for n in walk(tree) if isinstance(n, ast.Name)}


class _Normalizer(Expressions):
    def __init__(self, source: Source):
        self.source = source
        self.namer = Namer(_all_names(source.tree))
        self.tree = jumps.structure(source, source.tree, self.namer)
        self.locals = frozenset(local_names(self.tree))
        args = self.tree.args
        self.parameters = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        # Names assigned inside a branch or loop keep one name throughout (no versions).
        self.multi = set(_assigned_in_compound(self.tree))
        self.current: dict[str, str] = {}  # user name -> its current version
        self.body: list[ast.stmt] = []
        self.inplace: list[tuple[ast.stmt, str]] = []  # (statement, name) for `x op= v`
        self.display_lengths: dict[str, int] = {}  # name -> length of the display it holds
        # In emitted code (a derivative differentiated again), the local bound to
        # `rt.namespace(...)`: calls on it are backend kernels and helpers with rules.
        self.backend = _backend_name(source, self.tree)

    # -- helpers ------------------------------------------------------------------------

    def error(self, cls, node, message, hint):
        return cls(message, self.source.locate(node), hint)

    def located(self, new: ast.AST, old: ast.AST) -> ast.AST:
        ast.copy_location(new, old)
        return fix_locations(new)

    def define(self, user_name: str) -> str:
        """A version name for a new definition of `user_name`."""
        if user_name in self.multi and user_name not in RESERVED:
            self.namer.reserve(user_name)
            self.current[user_name] = user_name
            return user_name
        if user_name in self.current or user_name in RESERVED:
            version = self.namer.fresh(user_name if user_name not in RESERVED else f"{user_name}_")
        else:
            version = user_name
            self.namer.reserve(version)
        self.current[user_name] = version
        return version

    def emit(self, target: str, value: ast.expr, origin: ast.AST) -> None:
        if isinstance(value, (ast.Tuple, ast.List)):
            self.display_lengths[target] = len(value.elts)
        stmt = ast.Assign(targets=[ast.Name(target, ast.Store())], value=value)
        self.body.append(self.located(stmt, origin))

    def temporary(self, value: ast.expr, origin: ast.AST, kernel: str | None = None) -> ast.Name:
        name = self.namer.fresh(expression_name(value, kernel))
        self.emit(name, value, origin)
        return ast.Name(name, ast.Load())

    def snapshot(self, test: ast.Name, origin: ast.AST) -> ast.Name:
        """A fresh name holding the current value of `test`."""
        copy_name = self.namer.fresh(f"{test.id}_then")
        self.emit(copy_name, ast.Name(test.id, ast.Load()), origin)
        return ast.Name(copy_name, ast.Load())

    # -- statements ----------------------------------------------------------------------

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        """Normalize a nested statement list into a list of its own."""
        saved, self.body = self.body, []
        for stmt in stmts:
            self.statement(stmt)
        out, self.body = self.body, saved
        return out

    def capture(self, action) -> list[ast.stmt]:
        """The statements `action()` emits, as a separate list."""
        saved, self.body = self.body, []
        action()
        out, self.body = self.body, saved
        return out

    def run(self) -> ast.FunctionDef:
        tree = self.tree
        for arg in [*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs]:
            self.current[arg.arg] = arg.arg
            self.namer.reserve(arg.arg)
        for stmt in tree.body:
            self.statement(stmt)
        new = copy.copy(tree)
        new.args = clone(tree.args)
        new.body = self.body
        new.decorator_list = []
        new.returns = None
        return new

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Pass):
            return
        if self.backend and _is_namespace_statement(stmt, self.backend):
            return  # the transformed function chooses its backend itself
        if self.backend and isinstance(stmt, ast.Expr) and _is_backend_call(
                stmt.value, self.backend):  # xp.require_scalar(...): checks, kept as they are
            call = ast.Call(func=_xp(stmt.value.func.attr),
                            args=[self.atom(a) for a in stmt.value.args], keywords=[])
            self.body.append(self.located(ast.Expr(value=call), stmt))
            return
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and (
                stmt.value.func.attr == "pop"):  # items.pop(): keep the value, unused
            self.emit(self.namer.fresh("popped"), self.simple(stmt.value), stmt)
            return
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):  # items.append(v)
            func = stmt.value.func
            if func.value.id not in self.locals or func.value.id in self.parameters:
                raise self.error(UnsupportedSyntaxError, stmt,
                                 f"appending to `{func.value.id}`, which is not a list created "
                                 "in this function, would change the caller's list",
                                 f"build a new list: `{func.value.id} = list({func.value.id})` "
                                 "is not supported yet; start from `[]` inside the function")
            value = self.atom(stmt.value.args[0])
            call = ast.Call(func=ast.Attribute(value=self.name(func.value), attr="append",
                                               ctx=ast.Load()), args=[value], keywords=[])
            self.body.append(self.located(ast.Expr(value=call), stmt))
            return
        if isinstance(stmt, ast.Expr):  # docstrings and bare constants (fence rejects others)
            return
        if isinstance(stmt, ast.Return):
            if isinstance(stmt.value, ast.Tuple):  # `return a, b`: a tuple of outputs
                elements = [self.atom(e) for e in stmt.value.elts]
                packed = self.located(ast.Tuple(elts=elements, ctx=ast.Load()), stmt.value)
                outputs = self.namer.fresh("outputs")
                self.emit(outputs, packed, stmt.value)
                value = ast.Name(outputs, ast.Load())
            else:
                value = self.atom(stmt.value)
            self.body.append(self.located(ast.Return(value=value), stmt))
            return
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Subscript):
            # `y[k] += v` reads the slot once, then writes it (NumPy's buffered semantics).
            base, key = self.slot(stmt.target)
            old = self.temporary(ast.Subscript(value=base, slice=key, ctx=ast.Load()), stmt)
            new = self.temporary(ast.BinOp(left=old, op=stmt.op, right=self.atom(stmt.value)), stmt)
            self.update_slot(base, clone(key), new, stmt)
            return
        if isinstance(stmt, ast.AugAssign):
            before = self.current.get(stmt.target.id, stmt.target.id)
            value = ast.BinOp(left=_load(stmt.target), op=stmt.op, right=stmt.value)
            self.assign([stmt.target], self.located(value, stmt))
            # For an array this is an in-place update: other names sharing it must not be
            # used afterwards (checked once the body is normalized).
            self.inplace.append((self.body[-1], before))
            return
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign([stmt.target], stmt.value)
            return
        if isinstance(stmt, ast.Assign):
            self.assign(stmt.targets, stmt.value)
            return
        if isinstance(stmt, ast.If):
            test = self.atom(stmt.test)
            if isinstance(test, ast.Name) and test.id in {
                n.id for part in (stmt.body, stmt.orelse) for s in part for n in walk(s)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }:  # the branch reassigns its own test: replaying it needs the value tested
                test = self.snapshot(test, stmt.test)
            new = ast.If(test=test, body=self.block(stmt.body), orelse=self.block(stmt.orelse))
            self.body.append(self.located(new, stmt))
            return
        if isinstance(stmt, ast.While):
            condition = self.namer.fresh("running")
            self.multi.add(condition)
            self.emit(condition, self.simple(stmt.test), stmt.test)
            body = self.block(stmt.body)
            body += self.capture(lambda: self.emit(condition, self.simple(stmt.test), stmt.test))
            new = ast.While(test=ast.Name(condition, ast.Load()), body=body, orelse=[])
            self.body.append(self.located(new, stmt))
            return
        if isinstance(stmt, ast.With):  # `with srcgrad.no_grad():` (the fence checked)
            assigned = []
            for inner in stmt.body:
                self.statement(inner)
                assigned += [n.id for n in walk(inner)
                             if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                             and n.id not in assigned]
            for user_name in assigned:
                self.detach(user_name, stmt)
            return
        if isinstance(stmt, ast.For):
            bounds = [self.atom(a) for a in stmt.iter.args]
            target = self.define(stmt.target.id)
            iterator = ast.Call(func=ast.Name("range", ast.Load()), args=bounds, keywords=[])
            new = ast.For(target=ast.Name(target, ast.Store()), iter=iterator,
                          body=self.block(stmt.body), orelse=[], type_comment=None)
            self.body.append(self.located(new, stmt))
            return
        raise self.error(UnsupportedSyntaxError, stmt, f"{type(stmt).__name__} is not supported",
                         "rewrite it with supported constructs")

    def slot(self, target: ast.Subscript) -> tuple[ast.Name, ast.expr]:
        base = target.value
        if base.id not in self.locals:
            raise self.error(UnsupportedSyntaxError, target,
                             f"assigning into a slot of `{base.id}`, which is not a local array",
                             "copy it into a local array first")
        if base.id in self.parameters:
            raise self.error(UnsupportedSyntaxError, target,
                             f"assigning into a slot of the argument `{base.id}` would change "
                             "the caller's array", f"work on a copy: `{base.id} = {base.id}.copy()`"
                             " before this line (or build a new array)")
        return self.name(base), self.index(target.slice)

    def update_slot(self, base: ast.Name, key: ast.expr, value: ast.expr, origin) -> None:
        target = ast.Subscript(value=ast.Name(base.id, ast.Load()), slice=key, ctx=ast.Store())
        stmt = ast.Assign(targets=[target], value=value)
        self.body.append(self.located(stmt, origin))

    def assign(self, targets: list[ast.expr], value: ast.expr) -> None:
        if len(targets) == 1 and isinstance(targets[0], ast.Subscript):
            base, key = self.slot(targets[0])
            self.update_slot(base, key, self.atom(value), targets[0])
            return
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            simple = self.simple(value)
            name = targets[0].id
            if name in self.multi and not isinstance(simple, ast.Name) and any(
                isinstance(n, ast.Name) and n.id == name for n in walk(simple)
            ):
                # `h = h * 2` where h has one name throughout: compute into a temporary
                # first, so no statement reads the variable it overwrites.
                simple = self.temporary(simple, value, kernel_of(simple))
            if name in self.multi and isinstance(simple, ast.Name) and simple.id == name:
                return  # `r = r` where r has one name throughout: nothing to do
            version = self.define(name)
            if isinstance(simple, ast.Name) and simple.id in self.source.specimens:
                self.source.specimens[version] = self.source.specimens[simple.id]
            self.emit(version, simple, value)
            return
        if len(targets) == 1 and isinstance(value, (ast.Tuple, ast.List)):
            target = targets[0]
            if len(target.elts) != len(value.elts):
                raise self.error(UnsupportedSyntaxError, target,
                                 f"cannot unpack {len(value.elts)} values into "
                                 f"{len(target.elts)} names", "make the two sides agree")
            # Evaluate every right-hand element before binding any name (`a, b = b, a`).
            self.bind_structure(target, self.evaluate_structure(target, value), value)
            return
        shared = self.atom(value)
        for target in targets:
            self.bind_atom(target, shared, value)

    def evaluate_structure(self, target: ast.expr, value: ast.expr):
        """Atoms for `value`, nested like `target` where both are tuple literals."""
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
            if len(target.elts) != len(value.elts):
                raise self.error(UnsupportedSyntaxError, target,
                                 f"cannot unpack {len(value.elts)} values into "
                                 f"{len(target.elts)} names", "make the two sides agree")
            return [self.evaluate_structure(t, v)
                    for t, v in zip(target.elts, value.elts, strict=True)]
        return self.atom(value, fresh=True)

    def bind_structure(self, target: ast.expr, structure, origin: ast.AST) -> None:
        if isinstance(structure, list):
            for element, part in zip(target.elts, structure, strict=True):
                self.bind_structure(element, part, origin)
        else:
            self.bind_atom(target, structure, origin)

    def bind_atom(self, target: ast.expr, atom: ast.expr, origin: ast.AST) -> None:
        """Bind a target (a name or a nested tuple of names) to an already computed atom."""
        if isinstance(target, ast.Name):
            self.emit(self.define(target.id), copy.copy(atom), origin)
            return
        for index, element in enumerate(target.elts):
            item = self.located(ast.Subscript(value=copy.copy(atom), slice=ast.Constant(index),
                                              ctx=ast.Load()), element)
            if isinstance(element, ast.Name):
                self.emit(self.define(element.id), item, element)
            else:
                self.bind_atom(element, self.temporary(item, element), element)

    def detach(self, user_name: str, origin: ast.AST) -> None:
        """Rebind `user_name` to itself through stop_gradient (end of a no_grad block)."""
        from srcgrad import control

        current = ast.Name(self.current.get(user_name, user_name), ast.Load())
        value = self.primitive(primitives.lookup(control.stop_gradient), [current], [], origin)
        if user_name in self.multi:
            value = self.temporary(value, origin, "stop_gradient")
        self.emit(self.define(user_name), value, origin)


def _load(target: ast.expr) -> ast.expr:
    new = clone(target)
    for node in walk(new):
        if hasattr(node, "ctx"):
            node.ctx = ast.Load()
    return new


def normalize(source: Source) -> ast.FunctionDef:
    """Return a new FunctionDef whose body is in the normalized form described above."""
    return _Normalizer(source).run()


def normalize_with_updates(source: Source):
    """Like `normalize`, also returning the (statement, name) pairs that came from `x op= v`
    (in-place for arrays), for the shared-memory check."""
    normalizer = _Normalizer(source)
    return normalizer.run(), normalizer.inplace
