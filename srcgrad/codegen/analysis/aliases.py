"""Which of the values a function returns may share memory with its arguments or with
each other.

A derivative's results are the caller's to keep and to update in place (`w -= lr * gw`),
so each must be an array of its own. Copy propagation and the folding of `g * 1.0` can
make a returned gradient the very array of an argument (the gradient of `sum(a * b)` with
respect to `a` is `b`), of the cotangent (`vjp(lambda x: x + 1.0)`) or of another result
(`sum(a + b)`); `shared_results` finds those, so that the optimizer copies them and
nothing else.

The analysis follows the statements in order (branches joined, loops run to a fixed
point) and keeps, for each name, the origins its value may share memory with: an argument
or a name from outside the function (by name), or an expression that makes a new array
(by the node's id). Arithmetic, ufuncs and the allocating kernels make new arrays; names,
subscripts, attributes and views pass their origins on; a container holds those of what
is put in it; a call the analysis does not know may return any of its arguments.
"""

from __future__ import annotations

import ast

import numpy

from srcgrad.codegen.analysis.mutation import VIEW_KERNELS
from srcgrad.codegen.syntax import parameter_names, walk

__all__ = ["shared_results"]

_NONE = frozenset()

# backend kernels and helpers whose result is always a new array (or a number)
# (read from the module's namespace: `getattr` of each name in `dir(numpy)` would import
# numpy.testing, numpy.f2py and the rest, a tenth of a second at every first compile)
_UFUNCS = frozenset(n for n, v in vars(numpy).items() if isinstance(v, numpy.ufunc))
_FRESH = _UFUNCS | {
    "sum", "mean", "prod", "max", "min", "amax", "amin", "std", "var", "cumsum", "cumprod",
    "dot", "inner", "outer", "tensordot", "zeros", "ones", "empty", "full", "zeros_like",
    "ones_like", "empty_like", "full_like", "copy", "stack", "concatenate", "where", "clip",
    "sort", "argsort", "argmax", "argmin", "unreduce", "blockwise", "own", "zeros_tree",
    "matmul_adjoint_a", "matmul_adjoint_b", "dot_adjoint_a", "dot_adjoint_b", "dot_tangent",
    "inner_adjoint_a", "inner_adjoint_b", "inner_tangent", "outer_tangent",
    "matmul_adjoint_a_tangent", "matmul_adjoint_b_tangent", "dot_adjoint_a_tangent",
    "dot_adjoint_b_tangent", "inner_adjoint_a_tangent", "inner_adjoint_b_tangent",
}
# methods of arrays that make new arrays (`copy` also of lists and dicts: a shallow one)
_FRESH_METHODS = frozenset({"copy", "sum", "mean", "prod", "max", "min", "std", "var",
                            "cumsum", "cumprod", "dot", "astype", "flatten", "round", "clip"})
# ... and those whose result may be (or hold) the arguments at these positions, never
# another: views, helpers that return a value unchanged when there is nothing to do, and
# the container adjoints, which hold the adjoints they are given
_PASSES = {**{kernel: (0,) for kernel in VIEW_KERNELS}, **{kernel: (0,) for kernel in (
    "unbroadcast", "broadcast_like", "slot_adjoint", "accumulate_at", "require_scalar",
    "require_same_shape", "unindex", "as_gradient", "cotangents", "drop_last",
    "undrop_last", "item_adjoint", "attribute_tangent")},
    "item_part": (2,), "attribute_part": (2,), "push_adjoint": (0, 1)}
# builtins that make numbers (or ranges), and those that hold their arguments' items
_BUILTIN_NUMBERS = frozenset({"range", "len", "float", "int", "bool", "abs", "isinstance",
                              "round"})
_BUILTIN_HOLDERS = frozenset({"reversed", "enumerate", "zip", "list", "tuple", "dict",
                              "sorted", "iter", "next", "min", "max", "sum"})
SHARED = "<shared>"  # an origin outside the function: a helper's globals, repeated items
# marks, not origins: the value may be a container (whose `+` joins items), or a list or
# tuple (whose `*` repeats them); an item taken out of a list is not a list
CONTAINER, LIST = -2, -1
_MARKS = frozenset((CONTAINER, LIST))
# methods that put their arguments into the container they are called on
_PUTS = frozenset({"append", "extend", "insert", "add", "update", "setdefault"})


def shared_results(function: ast.FunctionDef, immutable=frozenset(),
                   arrays=frozenset(), repeats=False) -> list[ast.expr]:
    """The expressions `function` returns (the items of a returned tuple, at any depth)
    whose value may share memory with an argument, a name from outside the function, or
    an item returned before it. `immutable` names arguments that hold numbers, `arrays`
    those that certainly hold arrays (not containers). With `repeats`, an argument that
    may be a list, times an int, may be that list repeated (`dp * 2`, the tangent of
    `p * 2`: forward mode repeats lists, reverse mode refuses them)."""
    walker = _Walker(arrays, repeats)
    env = {p: frozenset((p,)) for p in _all_parameters(function) if p not in immutable}
    env.update({p: _NONE for p in immutable})
    walker.body(function.body, env)
    shared = []
    for stmt, before in walker.returns.values():
        seen: frozenset = _NONE
        for leaf in _leaves(stmt.value):
            origins = walker.origins(leaf, before)
            origins = origins - _MARKS
            if any(type(o) is str for o in origins) or origins & seen:  # (SHARED is one)
                shared.append(leaf)
            seen |= origins
    return shared


def _all_parameters(function: ast.FunctionDef) -> list[str]:
    args = function.args
    return [*parameter_names(function), *(a.arg for a in (args.vararg, args.kwarg) if a)]


def _leaves(value: ast.expr | None) -> list[ast.expr]:
    if value is None:
        return []
    if value.__class__ is ast.Tuple:
        return [leaf for item in value.elts for leaf in _leaves(item)]
    return [value]


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    blocks = [getattr(stmt, field, None) or [] for field in ("body", "orelse", "finalbody")]
    blocks += [part.body for part in (getattr(stmt, "handlers", None) or [])]
    blocks += [part.body for part in (getattr(stmt, "cases", None) or [])]
    return blocks


def _join(one: dict, other: dict) -> dict:
    joined = dict(one)
    for key, value in other.items():
        mine = joined.get(key)
        if mine is None:
            joined[key] = value
        elif mine is not value:  # (mostly the same set, copied from one state to the next)
            joined[key] = mine | value
    return joined


class _Walker:
    def __init__(self, arrays=frozenset(), repeats=False):
        self.arrays = arrays  # arguments that certainly are arrays (or numbers)
        self.repeats = repeats  # may an argument that may be a list be repeated?
        self.returns: dict[int, tuple[ast.Return, dict]] = {}  # (the last, widest state)

    def body(self, stmts: list[ast.stmt], env: dict) -> dict:
        for stmt in stmts:
            env = self.statement(stmt, env)
        return env

    def statement(self, stmt: ast.stmt, env: dict) -> dict:
        kind = stmt.__class__
        if kind is ast.Assign:
            origins = self.origins(stmt.value, env)
            for target in stmt.targets:
                if origins == {id(stmt.value)} and target.__class__ is ast.Tuple:
                    # a new value unpacked (`bb, ba = xp.blockwise(...)`): new arrays each
                    for index, item in enumerate(target.elts):
                        self.bind(item, frozenset(((id(stmt.value), index),)), env)
                else:
                    self.bind(target, origins, env)
        elif kind is ast.AugAssign:
            # an array is updated in place; a list grows by the items of a display
            if stmt.value.__class__ in (ast.List, ast.Tuple, ast.ListComp):
                self.bind(stmt.target, self.origins(stmt.value, env), env, add=True)
        elif kind is ast.AnnAssign:
            if stmt.value is not None:
                self.bind(stmt.target, self.origins(stmt.value, env), env)
        elif kind is ast.Expr:
            call = stmt.value
            if (call.__class__ is ast.Call and call.func.__class__ is ast.Attribute
                    and call.func.attr in _PUTS):
                self.bind(call.func.value, self._union(call.args, env), env, add=True)
        elif kind is ast.Return:
            self.returns[id(stmt)] = (stmt, dict(env))
        elif kind is ast.If:
            return _join(self.body(stmt.body, dict(env)), self.body(stmt.orelse, dict(env)))
        elif kind in (ast.For, ast.While):
            return self.loop(stmt, env)
        elif kind is ast.Delete:
            for target in stmt.targets:
                if target.__class__ is ast.Name:
                    env.pop(target.id, None)
        elif kind in (ast.FunctionDef, ast.ClassDef):
            env[stmt.name] = _NONE  # (its own returns are not this function's)
        elif hasattr(stmt, "body") or hasattr(stmt, "cases"):
            # with, try, match: each block may run or not, after the ones before it
            for block in _blocks(stmt):
                env = _join(env, self.body(block, dict(env)))
        return env

    def loop(self, stmt: ast.For | ast.While, env: dict) -> dict:
        entry = env
        while True:
            inner = dict(entry)
            if stmt.__class__ is ast.For:
                self.bind(stmt.target, self.origins(stmt.iter, inner), inner)
            widened = _join(entry, self.body(stmt.body, inner))
            if widened == entry:
                return self.body(stmt.orelse, dict(entry))
            entry = widened

    def bind(self, target: ast.expr, origins: frozenset, env: dict, add=False) -> None:
        kind = target.__class__
        if kind is ast.Name:
            env[target.id] = env.get(target.id, _NONE) | origins if add else origins
        elif kind in (ast.Tuple, ast.List):
            for item in target.elts:
                self.bind(item, origins, env, add)
        elif kind is ast.Starred:
            self.bind(target.value, origins, env, add)
        elif kind in (ast.Subscript, ast.Attribute):
            # what is stored in a slot or an attribute stays reachable from the container
            self.bind(target.value, origins, env, add=True)

    def _union(self, nodes, env: dict) -> frozenset:
        found = _NONE
        for node in nodes:
            found = found | self.origins(node.value if node.__class__ is ast.keyword
                                         else node, env)
        return found

    def origins(self, node: ast.expr, env: dict) -> frozenset:
        kind = node.__class__
        if kind is ast.Name:
            return env.get(node.id, frozenset((node.id,)))  # (a global or closure value)
        if kind is ast.Constant:
            return _NONE
        if kind in (ast.UnaryOp, ast.Compare):
            return frozenset((id(node),))
        if kind is ast.BinOp:
            made = frozenset((id(node),))
            if node.op.__class__ not in (ast.Add, ast.Mult):
                return made
            sides = [self.origins(node.left, env), self.origins(node.right, env)]
            held = sides[0] | sides[1]
            if node.op.__class__ is ast.Add and (CONTAINER in held or all(
                    self._may_be_list(side) for side in sides)):
                # container adjoints (and lists) add item by item: the sum holds the items
                return made | held | self._repeated(sides)
            if node.op.__class__ is ast.Mult and (LIST in held or self.repeats and any(
                    self._may_be_list(side) and self._may_be_int(other)
                    for side, other in ((sides[0], node.right), (sides[1], node.left)))):
                # `[h] * 3`: one array three times; so is `dp * 2` or `dp * n` when the
                # argument `dp` may be a list (times a float or an array, it is an array's
                # multiple)
                return made | held | {SHARED}
            return made
        if kind in (ast.Subscript, ast.Attribute, ast.Starred):
            return self.origins(node.value, env) - {LIST}
        if kind is ast.IfExp:
            return self._union((node.body, node.orelse), env)
        if kind is ast.BoolOp:
            return self._union(node.values, env)
        if kind in (ast.Tuple, ast.List, ast.Set, ast.Dict):
            items = [self.origins(item, env)
                     for item in (node.values if kind is ast.Dict else node.elts)]
            return self._made(node, frozenset().union(*items) | self._repeated(items) | {LIST})
        if kind is ast.Call:
            return self.call(node, env)
        # comprehensions, lambdas, f-strings: whatever they read
        return self._made(node, self._union(
            [n for n in walk(node) if n.__class__ is ast.Name], env))

    def _copied(self, node: ast.Call, origins: frozenset) -> frozenset:
        """A copy: a new array, but a list's or dict's copy holds the same items."""
        if CONTAINER in origins or any(type(o) is str and o not in self.arrays
                                       for o in origins):
            return self._made(node, origins)
        return frozenset((id(node),))

    def _may_be_int(self, node: ast.expr) -> bool:
        """May `node` be an int (what repeats a list): an int constant, or a name not
        known to hold an array or a float?"""
        if node.__class__ is ast.Constant:
            return type(node.value) is int
        return node.__class__ is ast.Name and node.id not in self.arrays

    def _may_be_list(self, origins: frozenset) -> bool:
        """May a value of these origins be a list: an argument not known to be an array?"""
        return LIST in origins or any(type(o) is str and o != SHARED and o not in self.arrays
                                      for o in origins)

    @staticmethod
    def _made(node: ast.AST, held: frozenset) -> frozenset:
        """The origins of a value `node` makes that may be a container holding `held`."""
        return frozenset((id(node), CONTAINER)) | held

    def _joined(self, node: ast.Call, parts, env: dict) -> frozenset:
        """A container adjoint holding the items of `parts`; in a loop, the same expression
        adds its arrays trip after trip, and one array may then fill several slots."""
        items = [self.origins(part, env) for part in parts]
        return self._made(node, frozenset().union(*items) | self._repeated(items))

    @staticmethod
    def _repeated(items: list[frozenset]) -> frozenset:
        """SHARED when two of the items may be one array (a container holding it twice)."""
        seen: frozenset = _NONE
        for item in items:
            item = item - _MARKS
            if item & seen:
                return frozenset((SHARED,))
            seen |= item
        return _NONE

    def call(self, node: ast.Call, env: dict) -> frozenset:
        func = node.func
        arguments = [*node.args, *node.keywords]
        if func.__class__ is ast.Name:
            if func.id in _BUILTIN_NUMBERS:
                return frozenset((id(node),))
            if func.id in _BUILTIN_HOLDERS:
                return self._made(node, self._union(arguments, env))
            # a function of the user's (or its derivative) may return what it reads from
            # outside, as well as its arguments
            return self._made(node, self._union(arguments, env) | {SHARED})
        if func.__class__ is not ast.Attribute:
            return self._made(node, self._union(arguments, env) | {SHARED})
        if func.value.__class__ is ast.Name and func.value.id == "xp":
            for keyword in node.keywords:
                if keyword.arg == "out":
                    return self.origins(keyword.value, env)
            if func.attr in _FRESH:
                return frozenset((id(node),))
            if func.attr == "copy_of" and node.args:  # (`value.copy()`)
                return self._copied(node, self.origins(node.args[0], env))
            if func.attr == "unindex" and len(node.args) > 1 and (
                    node.args[1].__class__ is ast.Name and node.args[1].id in self.arrays):
                return frozenset((id(node),))  # zeros shaped like an array, g written in
            if func.attr == "accumulate_at" and len(node.args) > 2 and not (
                    node.args[2].__class__ is ast.Name and node.args[2].id in self.arrays):
                return self._joined(node, node.args[:2], env)  # a container's slots
            if func.attr == "add_tree":
                return self._joined(node, node.args, env)
            if func.attr in ("item_adjoint", "attribute_tangent") and node.args:
                # an item: a list no more, and an array when it is shaped like one
                held = self.origins(node.args[0], env) - {LIST}
                like = node.args[2] if len(node.args) > 2 else None
                if like.__class__ is ast.Name and like.id in self.arrays:
                    held = held - {CONTAINER}
                return frozenset((id(node),)) | held
            positions = _PASSES.get(func.attr)
            if positions is not None:
                return self._made(node, self._union(
                    [node.args[i] for i in positions if i < len(node.args)], env))
            return self._made(node, self._union(arguments, env))
        if func.attr in _FRESH_METHODS and not any(k.arg in ("out", "copy")
                                                   for k in node.keywords):
            if func.attr == "copy":
                return self._copied(node, self.origins(func.value, env))
            return frozenset((id(node),))
        return self._made(node, self.origins(func.value, env) | self._union(arguments, env))
