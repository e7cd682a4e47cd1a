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
import numbers
import operator
import types

import numpy as np

from srcgrad.codegen import jumps, primitives
from srcgrad.codegen.naming import RESERVED, Namer, expression_name
from srcgrad.codegen.source import UNRESOLVED, Source
from srcgrad.errors import UnknownCalleeError, UnsupportedSyntaxError
from srcgrad.rules import registry

__all__ = ["normalize", "local_names"]

# Methods whose positional arguments NumPy also accepts spread out: x.reshape(2, 3).
_SPREAD_METHODS = frozenset({"reshape", "transpose"})
_PROPERTIES = {"T": "transpose"}
# Called on a list literal, these build an array from its elements: normalized to np.stack.
_ARRAY_CONSTRUCTORS = (np.array, np.asarray)


def local_names(tree: ast.FunctionDef) -> set[str]:
    """Parameters and every name the body assigns."""
    names = {a.arg for a in [*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs]}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _kernel_of(simple: ast.expr) -> str | None:
    if isinstance(simple, ast.Call) and isinstance(simple.func, ast.Attribute):
        return simple.func.attr
    if isinstance(simple, ast.Call) and isinstance(simple.func, ast.Name):
        return simple.func.id
    return None


def _assigned_in_compound(tree: ast.FunctionDef):
    """Names assigned anywhere inside an if, for or while (including loop targets)."""
    for stmt in tree.body:
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    yield node.id


def _all_names(tree: ast.FunctionDef) -> set[str]:
    return local_names(tree) | {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


class _Normalizer:
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

    # -- helpers ------------------------------------------------------------------------

    def error(self, cls, node, message, hint):
        return cls(message, self.source.locate(node), hint)

    def located(self, new: ast.AST, old: ast.AST) -> ast.AST:
        ast.copy_location(new, old)
        return ast.fix_missing_locations(new)

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
        new.args = copy.deepcopy(tree.args)
        new.body = self.body
        new.decorator_list = []
        new.returns = None
        return new

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Pass):
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
            self.update_slot(base, copy.deepcopy(key), new, stmt)
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
                n.id for part in (stmt.body, stmt.orelse) for s in part for n in ast.walk(s)
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
                assigned += [n.id for n in ast.walk(inner)
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
                isinstance(n, ast.Name) and n.id == name for n in ast.walk(simple)
            ):
                # `h = h * 2` where h has one name throughout: compute into a temporary
                # first, so no statement reads the variable it overwrites.
                simple = self.temporary(simple, value, _kernel_of(simple))
            self.emit(self.define(name), simple, value)
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

    # -- expressions ---------------------------------------------------------------------

    def atom(self, node: ast.expr, fresh: bool = False) -> ast.expr:
        """A name or constant holding `node`'s value, emitting statements as needed."""
        if isinstance(node, ast.Constant):
            return node
        if isinstance(node, ast.Name) and not fresh:
            return self.name(node)
        simple = self.simple(node)
        if isinstance(simple, ast.Constant) or (isinstance(simple, ast.Name) and not fresh):
            return simple
        return self.temporary(simple, node, _kernel_of(simple))

    def name(self, node: ast.Name) -> ast.expr:
        if node.id in self.locals:
            if node.id in self.multi:
                return self.located(ast.Name(node.id, ast.Load()), node)
            if node.id not in self.current:
                raise self.error(UnsupportedSyntaxError, node,
                                 f"`{node.id}` is used before it is assigned",
                                 f"assign `{node.id}` before this line")
            return self.located(ast.Name(self.current[node.id], ast.Load()), node)
        value = self.source.resolver.lookup(node.id)
        if value is UNRESOLVED:
            raise self.error(UnknownCalleeError, node, f"name `{node.id}` is not defined",
                             "define it at module level or pass it in as an argument")
        return self.constant_or_live(node, value)

    def constant_or_live(self, node: ast.expr, value) -> ast.expr:
        """A free name or attribute chain used as a value."""
        if isinstance(value, (bool, numbers.Number)) and not isinstance(value, np.generic):
            if isinstance(node, ast.Attribute):  # module constants such as np.pi, math.e
                return self.located(ast.Constant(value), node)
            return self.located(ast.Name(node.id, ast.Load()), node)  # live global
        if isinstance(value, type) and issubclass(value, np.generic) or isinstance(value, np.dtype):
            name = np.dtype(value).name
            return self.located(_xp(name), node)
        if value is None or value is Ellipsis:
            return self.located(ast.Constant(value), node)
        if isinstance(node, ast.Name):
            return self.located(ast.Name(node.id, ast.Load()), node)
        return copy.deepcopy(node)

    def simple(self, node: ast.expr) -> ast.expr:
        """`node` as one primitive over atoms (emitting statements for its operands)."""
        if isinstance(node, (ast.Name, ast.Constant)):
            return self.atom(node)
        if isinstance(node, ast.BinOp):
            new = ast.BinOp(left=self.atom(node.left), op=node.op, right=self.atom(node.right))
            return self.located(new, node)
        if isinstance(node, ast.UnaryOp):
            operand = self.atom(node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(node.op, ast.USub) and isinstance(operand, ast.Constant):
                return self.located(ast.Constant(-operand.value), node)
            return self.located(ast.UnaryOp(op=node.op, operand=operand), node)
        if isinstance(node, ast.Compare):
            new = ast.Compare(left=self.atom(node.left), ops=node.ops,
                              comparators=[self.atom(c) for c in node.comparators])
            return self.located(new, node)
        if isinstance(node, ast.Subscript):
            new = ast.Subscript(value=self.atom(node.value), slice=self.index(node.slice),
                                ctx=ast.Load())
            return self.located(new, node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.IfExp):
            return self.choice(node)
        if isinstance(node, ast.BoolOp):
            return self.boolean(node)
        if isinstance(node, (ast.Tuple, ast.List)):
            new = type(node)(elts=[self.atom(e) for e in node.elts], ctx=ast.Load())
            return self.located(new, node)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise self.error(UnsupportedSyntaxError, node, "`**` in dict displays",
                                 "list the entries one by one")
            new = ast.Dict(keys=[self.atom(k) for k in node.keys],
                           values=[self.atom(v) for v in node.values])
            return self.located(new, node)
        raise self.error(UnsupportedSyntaxError, node,
                         f"{type(node).__name__} expressions are not supported",
                         "rewrite it with supported constructs")

    def detach(self, user_name: str, origin: ast.AST) -> None:
        """Rebind `user_name` to itself through stop_gradient (end of a no_grad block)."""
        from srcgrad import control

        current = ast.Name(self.current.get(user_name, user_name), ast.Load())
        value = self.primitive(primitives.lookup(control.stop_gradient), [current], [], origin)
        if user_name in self.multi:
            value = self.temporary(value, origin, "stop_gradient")
        self.emit(self.define(user_name), value, origin)

    def snapshot(self, test: ast.Name, origin: ast.AST) -> ast.Name:
        """A fresh name holding the current value of `test`."""
        copy_name = self.namer.fresh(f"{test.id}_then")
        self.emit(copy_name, ast.Name(test.id, ast.Load()), origin)
        return ast.Name(copy_name, ast.Load())

    def choice(self, node: ast.IfExp) -> ast.expr:
        """`a if c else b`: only the chosen side is evaluated, as in Python."""
        name = self.namer.fresh("choice")
        self.multi.add(name)
        test = self.atom(node.test)
        body = self.capture(lambda: self.emit(name, self.simple(node.body), node.body))
        orelse = self.capture(lambda: self.emit(name, self.simple(node.orelse), node.orelse))
        self.body.append(self.located(ast.If(test=test, body=body, orelse=orelse), node))
        return self.located(ast.Name(name, ast.Load()), node)

    def boolean(self, node: ast.BoolOp) -> ast.expr:
        """`a and b` / `a or b` with Python's short-circuit and value semantics."""
        name = self.namer.fresh("both" if isinstance(node.op, ast.And) else "either")
        self.multi.add(name)
        self.emit(name, self.simple(node.values[0]), node.values[0])
        for value in node.values[1:]:
            test: ast.expr = ast.Name(name, ast.Load())
            if isinstance(node.op, ast.Or):
                test = self.temporary(ast.UnaryOp(op=ast.Not(), operand=test), node)
            else:  # the branch reassigns `name`; test a copy taken before it
                test = self.snapshot(test, node)
            body = self.capture(lambda v=value: self.emit(name, self.simple(v), v))
            self.body.append(self.located(ast.If(test=test, body=body, orelse=[]), value))
        return self.located(ast.Name(name, ast.Load()), node)

    def index(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Slice):
            parts = {f: getattr(node, f) for f in ("lower", "upper", "step")}
            new = ast.Slice(**{f: None if v is None else self.atom(v) for f, v in parts.items()})
            return self.located(new, node)
        if isinstance(node, ast.Tuple):
            new = ast.Tuple(elts=[self.index(e) for e in node.elts], ctx=ast.Load())
            return self.located(new, node)
        if isinstance(node, ast.List):  # x[[0, 0, 1]]: an index list, never differentiated
            new = ast.List(elts=[self.index(e) for e in node.elts], ctx=ast.Load())
            return self.located(new, node)
        return self.atom(node)

    def attribute(self, node: ast.Attribute) -> ast.expr:
        value = self.source.resolver.resolve(node, self.locals)
        if value is not UNRESOLVED:
            return self.constant_or_live(node, value)
        if node.attr in _PROPERTIES:
            key = getattr(np, _PROPERTIES[node.attr])
            call = ast.Call(func=node, args=[], keywords=[])
            return self.primitive(primitives.lookup(key), [self.atom(node.value)], [], call)
        base = self.atom(node.value)
        if node.attr in primitives.NONDIFF_ATTRIBUTES:
            return self.located(ast.Attribute(value=base, attr=node.attr, ctx=ast.Load()), node)
        raise self.error(UnknownCalleeError, node, f"attribute `.{node.attr}` is not supported",
                         "use the NumPy function instead (for example np.real(x))")

    def call(self, node: ast.Call) -> ast.expr:
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.error(UnsupportedSyntaxError, keyword, "`**kwargs` in calls",
                                 "pass the keyword arguments one by one")
        func = node.func
        target = self.source.resolver.resolve(func, self.locals)
        if target is UNRESOLVED and isinstance(func, ast.Attribute):
            return self.method(node, func)
        if target is UNRESOLVED:
            raise self.error(UnknownCalleeError, func, f"cannot resolve the callee `{ast.unparse(func)}`",
                             "call a NumPy function or a function defined at module level")
        if isinstance(target, types.FunctionType) and primitives.lookup(target) is None:
            # A user function: containers it is given are values like any other.
            args = [a for arg in node.args for a in self.spread(arg)]
            keywords = [ast.keyword(arg=k.arg, value=self.atom(k.value)) for k in node.keywords]
            return self.located(ast.Call(func=copy.deepcopy(func), args=args, keywords=keywords),
                                node)
        found = primitives.lookup(target)
        if found is not None and found.key in _ARRAY_CONSTRUCTORS and node.args and isinstance(
                node.args[0], (ast.List, ast.Tuple)) and not node.keywords:
            # np.array([a, b]) of arrays or numbers is np.stack([a, b]): a primitive whose
            # gradient reaches every element.
            return self.stacked(node.args[0])
        args = [self.argument(a) for a in node.args]
        keywords = [(k.arg, self.argument(k.value)) for k in node.keywords]
        if found is not None:
            return self.primitive(found, args, keywords, node)
        opaque = ast.Call(func=copy.deepcopy(func), args=args,
                          keywords=[ast.keyword(arg=k, value=v) for k, v in keywords])
        return self.located(opaque, node)

    def stacked(self, node: ast.expr) -> ast.expr:
        elements = [self.atom(self.stacked(e)) if isinstance(e, (ast.List, ast.Tuple))
                    else self.atom(e) for e in node.elts]
        items = self.located(ast.List(elts=elements, ctx=ast.Load()), node)
        return self.primitive(primitives.lookup(np.stack), [items], [], node)

    def spread(self, arg: ast.expr) -> list[ast.expr]:
        """Atoms for one call argument; `*seq` of a sequence whose length is known here (a
        tuple or list display, or a name bound once to one) spreads into its items."""
        if not isinstance(arg, ast.Starred):
            return [self.atom(arg)]
        value = arg.value
        if isinstance(value, (ast.Tuple, ast.List)):
            return [self.atom(e) for e in value.elts]
        if isinstance(value, ast.Name) and value.id in self.locals and value.id not in self.multi:
            length = self.display_lengths.get(self.current.get(value.id))
            if length is not None:
                base = self.name(value)
                return [self.temporary(ast.Subscript(value=copy.copy(base), slice=ast.Constant(i),
                                                     ctx=ast.Load()), arg) for i in range(length)]
        raise self.error(UnsupportedSyntaxError, arg,
                         "`*` of a sequence whose length srcgrad cannot see",
                         "pass the arguments one by one, or spread a tuple built in this "
                         "function (`args = (a, b)` then `f(*args)`)")

    def method(self, node: ast.Call, func: ast.Attribute) -> ast.expr:
        key = registry.METHODS.get(func.attr)
        if key is None:
            raise self.error(UnknownCalleeError, func, f"no derivative rule for the method `.{func.attr}()`",
                             "use a NumPy function with a rule (see `srcgrad rules`), or register "
                             "one with srcgrad.extend")
        receiver = self.atom(func.value)
        args = [self.argument(a) for a in node.args]
        if func.attr in _SPREAD_METHODS and len(args) > 1:
            args = [self.located(ast.Tuple(elts=args, ctx=ast.Load()), node)]
        keywords = [(k.arg, self.argument(k.value)) for k in node.keywords]
        return self.primitive(primitives.lookup(key), [receiver, *args], keywords, node)

    def argument(self, node: ast.expr) -> ast.expr:
        if isinstance(node, (ast.Tuple, ast.List)):
            new = type(node)(elts=[self.argument(e) for e in node.elts], ctx=ast.Load())
            return self.located(new, node)
        return self.atom(node)

    def primitive(self, found: registry.Rule, args, keywords, node: ast.expr) -> ast.expr:
        """The canonical spelling of a call to a primitive."""
        op = primitives.operator_node(found.key)
        if op is not None:
            if keywords or len(args) not in (1, 2):
                raise self.error(UnsupportedSyntaxError, node,
                                 f"{found.name} is supported with positional operands only",
                                 "write it with the operator instead")
            if len(args) == 1:
                return self.located(ast.UnaryOp(op=op(), operand=args[0]), node)
            return self.located(ast.BinOp(left=args[0], op=op(), right=args[1]), node)
        if found.key is operator.getitem:
            return self.located(ast.Subscript(value=args[0], slice=args[1], ctx=ast.Load()), node)
        func = _xp(found.kernel) if found.kernel else ast.Name(found.name, ast.Load())
        new = ast.Call(func=func, args=list(args),
                       keywords=[ast.keyword(arg=k, value=v) for k, v in keywords])
        return self.located(new, node)


def _xp(attr: str) -> ast.Attribute:
    return ast.Attribute(value=ast.Name("xp", ast.Load()), attr=attr, ctx=ast.Load())


def _load(target: ast.expr) -> ast.expr:
    new = copy.deepcopy(target)
    for node in ast.walk(new):
        if hasattr(node, "ctx"):
            node.ctx = ast.Load()
    return new


_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
            ast.MatMult: "@", ast.Mod: "%", ast.FloorDiv: "//"}


def normalize(source: Source) -> ast.FunctionDef:
    """Return a new FunctionDef whose body is in the normalized form described above."""
    return _Normalizer(source).run()


def normalize_with_updates(source: Source):
    """Like `normalize`, also returning the (statement, name) pairs that came from `x op= v`
    (in-place for arrays), for the shared-memory check."""
    normalizer = _Normalizer(source)
    return normalizer.run(), normalizer.inplace

