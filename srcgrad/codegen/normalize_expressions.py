"""Normalization of expressions: any expression to one primitive over atoms.

`Expressions` is mixed into the normalizer (`normalize._Normalizer`). `atom` gives a name or
constant for an expression's value and `simple` one primitive over atoms, emitting the
statements their operands need. Free names and attribute chains resolve to live globals or
constants; calls, methods (`x.sum()`) and properties (`x.T`) resolve to primitives in their
canonical spelling (`xp.<kernel>(...)` or an operator); `a if c else b` and `and`/`or` become
branches that evaluate only what Python would. The normalizer supplies the state these
methods read and write (`source`, `namer`, `locals`, `multi`, `current`, `display_lengths`,
`body`) and its helpers `error`, `located`, `emit`, `temporary`, `capture` and `snapshot`.
"""

from __future__ import annotations

import ast
import copy
import inspect
import numbers
import operator
import types

import numpy as np

from srcgrad.codegen import primitives
from srcgrad.codegen.lift import _Extra
from srcgrad.codegen.naming import RESERVED
from srcgrad.codegen.source import UNRESOLVED, object_like, parse_function
from srcgrad.codegen.syntax import clone
from srcgrad.errors import SrcgradError, UnknownCalleeError, UnsupportedSyntaxError
from srcgrad.rules import registry

__all__ = ["Expressions", "kernel_of"]

# Methods whose positional arguments NumPy also accepts spread out: x.reshape(2, 3).
_SPREAD_METHODS = frozenset({"reshape", "transpose"})
_PROPERTIES = {"T": "transpose"}
# Called on a list literal, these build an array from its elements: normalized to np.stack.
_ARRAY_CONSTRUCTORS = (np.array, np.asarray)


def kernel_of(simple: ast.expr) -> str | None:
    """The kernel or function a call is spelled with, to name the temporary holding it."""
    if isinstance(simple, ast.Call) and isinstance(simple.func, ast.Attribute):
        return simple.func.attr
    if isinstance(simple, ast.Call) and isinstance(simple.func, ast.Name):
        return simple.func.id
    return None


class Expressions:
    """Expression normalization for the normalizer."""

    def atom(self, node: ast.expr, fresh: bool = False) -> ast.expr:
        """A name or constant holding `node`'s value, emitting statements as needed."""
        if isinstance(node, ast.Constant):
            return node
        if isinstance(node, ast.Name) and not fresh:
            return self.name(node)
        simple = self.simple(node)
        if isinstance(simple, ast.Constant) or (isinstance(simple, ast.Name) and not fresh):
            return simple
        return self.temporary(simple, node, kernel_of(simple))

    def name(self, node: ast.Name) -> ast.expr:
        if node.id in self.locals:
            if node.id in self.multi and node.id not in RESERVED:
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
        return clone(node)

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
            base = self.atom(node.value)
            new = self.located(ast.Subscript(value=base, slice=self.index(node.slice),
                                             ctx=ast.Load()), node)
            held = self.held_item(base, new.slice)
            if held is not None:  # a module of a list of modules: resolve calls on it
                temporary = self.temporary(new, node)
                self.source.specimens[temporary.id] = held
                return temporary
            return new
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
        if self.backend and isinstance(node.value, ast.Name) and node.value.id == self.backend:
            return self.located(_xp(node.attr), node)  # xp.float32, xp.newaxis
        value = self.source.resolver.resolve(node, self.locals)
        if value is not UNRESOLVED:
            return self.constant_or_live(node, value)
        if node.attr in _PROPERTIES:
            key = getattr(np, _PROPERTIES[node.attr])
            call = ast.Call(func=node, args=[], keywords=[])
            return self.primitive(primitives.lookup(key), [self.atom(node.value)], [], call)
        base = self.atom(node.value)
        # x.shape is metadata; any other attribute reads a field of a parameter object
        # (a dataclass, namedtuple or object holding arrays): the `attribute` primitive.
        read = self.located(ast.Attribute(value=base, attr=node.attr, ctx=ast.Load()), node)
        held = self.held(base, node.attr)
        if held is not None:  # a submodule: remember what it is, to resolve calls on it
            temporary = self.temporary(read, node)
            self.source.specimens[temporary.id] = held
            return temporary
        if isinstance(base, ast.Name) and isinstance(
                getattr(self.source.specimens.get(base.id), node.attr, None), dict):
            temporary = self.temporary(read, node)  # a dict: loops in callees run over keys
            self.source.mappings |= {temporary.id}
            return temporary
        return read

    def held(self, base: ast.expr, attr: str):
        """The object `base.attr` holds, when `base` is a known parameter object and the
        attribute is an object (or a list of objects) itself."""
        if not isinstance(base, ast.Name) or base.id not in self.source.specimens:
            return None
        value = getattr(self.source.specimens[base.id], attr, None)
        if object_like(value) or (isinstance(value, (list, tuple)) and value
                                  and all(object_like(v) for v in value)):
            return value
        return None

    def held_item(self, base: ast.expr, index: ast.expr):
        """The object `base[index]` holds, when `base` is a known list of objects and the
        index a constant integer."""
        if not (isinstance(base, ast.Name) and base.id in self.source.specimens
                and isinstance(index, ast.Constant) and type(index.value) is int):
            return None
        items = self.source.specimens[base.id]
        if not isinstance(items, (list, tuple)) or not -len(items) <= index.value < len(items):
            return None
        item = items[index.value]
        return item if object_like(item) else None

    def current_object(self, node: ast.Name) -> ast.Name:
        """The version of a variable holding an object that a read of it at this point
        reads (`layer` in the second copy of an unrolled `for layer in self.layers:` is
        the second layer, of its own type); the name itself for a parameter."""
        if node.id in self.locals and node.id in self.current:
            current = ast.Name(self.current[node.id], ast.Load())
            if current.id in self.source.specimens:
                return self.located(current, node)
        return node

    def method_call(self, node: ast.Call):
        """`model(x)` / `layer.forward(h)` on a parameter object: the method its type
        defines, called with the object first; None when `node` is not such a call."""
        func = node.func
        specimens = self.source.specimens
        if isinstance(func, ast.Name) and func.id in specimens:
            owner = self.current_object(func)
            method = type(specimens[owner.id]).__call__
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
              and func.value.id in specimens):
            owner = self.current_object(func.value)
            method = getattr(type(specimens[owner.id]), func.attr, None)
            if not isinstance(method, types.FunctionType) and self.held(
                    self.name(func.value), func.attr) is not None:
                owner = self.attribute(func)  # self.fc1(x): call the held object
                method = type(self.source.specimens[owner.id]).__call__
        elif isinstance(func, ast.Subscript):
            owner = self.atom(func)
            if not (isinstance(owner, ast.Name) and owner.id in self.source.specimens):
                raise self.error(UnknownCalleeError, node,
                                 f"cannot resolve the callee `{ast.unparse(func)}`",
                                 "index a list of modules with a constant, or loop over it "
                                 "with `for layer in self.layers:`")
            method = type(self.source.specimens[owner.id]).__call__
        else:
            return None
        if not isinstance(method, types.FunctionType):
            raise self.error(UnknownCalleeError, node,
                             f"`{ast.unparse(func)}` does not run Python code srcgrad can read",
                             "give the class a `def` for the method called")
        if not node.keywords:
            method = _delegated(method, self.source.specimens[owner.id], len(node.args))
        label = f"{type(self.source.specimens[owner.id]).__name__}_{method.__name__.strip('_')}"
        registered = self.source.resolver.globals
        if not isinstance(registered, _Extra):
            registered = self.source.resolver.globals = _Extra(registered, {})
        synthetic = next(n for n in (label, *(f"{label}_{i}" for i in range(2, 99)))
                         if registered.get(n, method) is method)
        registered[synthetic] = method
        receiver = self.name(owner) if owner.id in self.locals else owner  # (a temporary)
        args = [receiver, *(a for arg in node.args for a in self.spread(arg))]
        keywords = [ast.keyword(arg=k.arg, value=self.atom(k.value)) for k in node.keywords]
        return self.located(ast.Call(func=ast.Name(synthetic, ast.Load()), args=args,
                                     keywords=keywords), node)

    def call(self, node: ast.Call) -> ast.expr:
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.error(UnsupportedSyntaxError, keyword, "`**kwargs` in calls",
                                 "pass the keyword arguments one by one")
        func = node.func
        method = self.method_call(node)
        if method is not None:
            return method
        if (self.backend and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id == self.backend):
            return self.kernel_call(node, func.attr)
        target = self.source.resolver.resolve(func, self.locals)
        if (target is UNRESOLVED and isinstance(func, ast.Attribute) and func.attr == "pop"
                and not node.args and not node.keywords and isinstance(func.value, ast.Name)
                and func.value.id in self.locals):
            # `x = items.pop()`: taking back the last entry of a local list (emitted code).
            pop = ast.Call(func=ast.Attribute(value=self.name(func.value), attr="pop",
                                              ctx=ast.Load()), args=[], keywords=[])
            return self.located(pop, node)
        if target is UNRESOLVED and isinstance(func, ast.Attribute):
            return self.method(node, func)
        if target is UNRESOLVED and isinstance(func, ast.Name) and func.id in self.locals:
            raise self.error(UnknownCalleeError, func,
                             f"`{func.id}(...)` calls a value whose type decides what runs",
                             "pass it an object whose class defines the method in Python; "
                             "srcgrad compiles the derivative at its first call, per type "
                             "(so call the derivative before reading `.source`)")
        if target is UNRESOLVED:
            raise self.error(UnknownCalleeError, func, f"cannot resolve the callee `{ast.unparse(func)}`",
                             "call a NumPy function or a function defined at module level")
        if isinstance(target, types.FunctionType) and primitives.lookup(target) is None:
            # A user function: containers it is given are values like any other.
            args = [a for arg in node.args for a in self.spread(arg)]
            keywords = [ast.keyword(arg=k.arg, value=self.atom(k.value)) for k in node.keywords]
            return self.located(ast.Call(func=clone(func), args=args, keywords=keywords),
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
        opaque = ast.Call(func=clone(func), args=args,
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

    def kernel_call(self, node: ast.Call, kernel: str) -> ast.expr:
        """`xp.<kernel>(...)` in emitted code: a primitive or an adjoint helper's rule."""
        found = registry.KERNELS.get(kernel)
        args = [self.argument(a) for a in node.args]
        keywords = [(k.arg, self.argument(k.value)) for k in node.keywords]
        if found is None:
            new = ast.Call(func=_xp(kernel), args=args,
                           keywords=[ast.keyword(arg=k, value=v) for k, v in keywords])
            return self.located(new, node)  # opaque: fine unless a derivative flows through
        return self.primitive(found, args, keywords, node)

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


def _delegated(method, receiver, count: int):
    """The method of `receiver` that `method` only hands its arguments on to, followed
    (`def __call__(self, x): return self.forward(x)`, `nn.Module`'s): calling it directly
    saves a derivative function, whose vjp would run the forward sweep below it once
    more. Only for a call passing `count` arguments by position to a method without
    defaults, keyword-only or variadic parameters, that passes them on unchanged to a
    method its class defines."""
    for _ in range(8):
        code = method.__code__
        if (code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
                or code.co_kwonlyargcount
                or method.__defaults__ or code.co_argcount != count + 1):
            return method
        try:
            tree = parse_function(method).tree
        except SrcgradError:
            return method
        body = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(
            s.value, ast.Constant) and isinstance(s.value.value, str))]
        params = [a.arg for a in tree.args.args]
        call = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name) and call.func.value.id == params[0]
                and not call.keywords and len(call.args) == count
                and all(isinstance(a, ast.Name) and a.id == p
                        for a, p in zip(call.args, params[1:], strict=True))
                and call.func.attr not in getattr(receiver, "__dict__", {})):
            return method
        target = getattr(type(receiver), call.func.attr, None)
        if not isinstance(target, types.FunctionType) or target is method:
            return method
        method = target
    return method


def _xp(attr: str) -> ast.Attribute:
    return ast.Attribute(value=ast.Name("xp", ast.Load()), attr=attr, ctx=ast.Load())
