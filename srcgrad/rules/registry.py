"""The rule table: one entry per primitive, its adjoint and tangent side by side.

A rule is a template function that is parsed, never executed::

    @rule(np.tanh)
    def tanh(y, x):
        with adjoint:
            d[x] = d[y] * (1.0 - y * y)
        with tangent:
            d[y] = d[x] * (1.0 - y * y)

The first parameter names the primitive's result, the others its arguments, with the same
names and defaults as the NumPy function, so a call binds to them as Python would bind it.
`d[x]` is the adjoint (in `with adjoint:`) or tangent (in `with tangent:`) of `x`. In an
adjoint block `d[x] = e` *adds* `e` to x's adjoint; in a tangent block `d[y] = e` defines
y's tangent. Other assigned names are template temporaries and are renamed when spliced.
`xp` is the backend namespace of the emitted code. A parameter annotated `Seq` holds a
sequence of arrays (`np.stack(arrays)`); `d[arrays]` is then a tuple, one entry each.

Keys are the real function objects (`np.tanh`, `operator.mul`); `alias` maps other objects
that denote the same primitive (`np.multiply`, `math.exp`) onto a key.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import textwrap

import numpy as np

from srcgrad.codegen.syntax import walk
from srcgrad.errors import Location, RuleError
from srcgrad.records import record

__all__ = [
    "Param",
    "Rule",
    "Seq",
    "adjoint",
    "tangent",
    "d",
    "xp",
    "rule",
    "nondifferentiable",
    "alias",
    "method",
    "register",
    "elementwise",
    "RULES",
    "ELEMENTWISE",
    "ALIASES",
    "KERNELS",
    "METHODS",
]


class _TemplateOnly:
    """Names used inside rule templates; templates are parsed, so using one is a bug."""

    def __init__(self, name: str):
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def _fail(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} only has meaning inside a srcgrad rule template")

    __enter__ = __exit__ = __getitem__ = __setitem__ = __getattr__ = __call__ = _fail


adjoint = _TemplateOnly("adjoint")
tangent = _TemplateOnly("tangent")
d = _TemplateOnly("d")
xp = _TemplateOnly("xp")


class Seq:
    """Annotation for a template parameter that holds a sequence of arrays."""


@record
class Param:
    name: str
    default: ast.expr | None  # None: required
    sequence: bool  # annotated Seq, or *args
    variadic: bool  # *args
    keyword_only: bool


@record
class Rule:
    """Everything about one primitive."""

    key: object
    name: str  # readable name for messages and temporaries
    kernel: str | None  # attribute of the backend namespace emitted code calls
    result: str
    params: tuple[Param, ...]
    adjoint: tuple[ast.stmt, ...]
    tangent: tuple[ast.stmt, ...]
    differentiable: bool
    origin: str  # "file:line" of the template, for messages

    def param(self, name: str) -> Param | None:
        for param in self.params:
            if param.name == name:
                return param
        return None


RULES: dict[object, Rule] = {}
ALIASES: dict[object, object] = {}
KERNELS: dict[str, Rule] = {}
METHODS: dict[str, object] = {}
ELEMENTWISE: set = set()  # keys whose result has the broadcast shape of their operands


def register(entry: Rule) -> Rule:
    if entry.key in RULES:
        raise RuleError(f"a rule for {entry.name} is already registered ({entry.origin})")
    RULES[entry.key] = entry
    if entry.kernel is not None:
        KERNELS[entry.kernel] = entry
    return entry


def _params(args: ast.arguments) -> tuple[str, tuple[Param, ...]]:
    positional = [*args.posonlyargs, *args.args]
    if not positional:
        raise ValueError("a rule template needs at least the result parameter")
    result = positional[0].arg
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = []
    for arg, default in zip(positional[1:], defaults[1:], strict=True):
        seq = isinstance(arg.annotation, ast.Name) and arg.annotation.id == "Seq"
        params.append(Param(arg.arg, default, seq, False, False))
    if args.vararg is not None:
        params.append(Param(args.vararg.arg, None, True, True, False))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(Param(arg.arg, default, False, False, True))
    return result, tuple(params)


def _blocks(tree: ast.FunctionDef, origin: str) -> dict[str, tuple[ast.stmt, ...]]:
    blocks = {"adjoint": (), "tangent": ()}
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if (
            isinstance(stmt, ast.With)
            and len(stmt.items) == 1
            and isinstance(stmt.items[0].context_expr, ast.Name)
            and stmt.items[0].context_expr.id in blocks
        ):
            blocks[stmt.items[0].context_expr.id] = tuple(stmt.body)
            continue
        raise RuleError(
            f"rule template {tree.name} may only contain `with adjoint:` and "
            f"`with tangent:` blocks (found {type(stmt).__name__} at {origin})"
        )
    return blocks


def _check_block(name: str, block, params, result, mode, location):
    known = {p.name for p in params} | {result}
    for node in walk(ast.Module(body=list(block), type_ignores=[])):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id == "d":
                target = node.slice
                if not isinstance(target, ast.Name) or target.id not in known:
                    raise RuleError(
                        f"in the {mode} of {name}: d[...] must name a parameter or the result",
                        location=location(node),
                        hint=f"parameters are {', '.join(sorted(known))}",
                    )


_RULES_DIR = os.path.dirname(os.path.abspath(__file__))
_MODULE_TEMPLATES: dict = {}  # filename -> (lines, {first line: FunctionDef})


def _module_template_file(fn) -> bool:
    return os.path.dirname(os.path.abspath(fn.__code__.co_filename)) == _RULES_DIR


class _LazyRule(Rule):
    """A rule of srcgrad's own rule modules, registered at import by its key, kernel and
    name, its template parsed the first time a compilation reads it: importing srcgrad
    then parses only the rules the first derivative needs, not all of them. The tests
    read every rule (the spec table), so a malformed template still fails them."""

    _PARSED = frozenset({"result", "params", "adjoint", "tangent"})

    def __new__(cls, *args, **fields):
        if fields and not args:  # dataclasses.replace(rule, ...): a plain, parsed Rule
            return Rule(**fields)
        return super().__new__(cls)

    def __init__(self, fn, key, kernel):  # the dataclass fields, the parsed ones lazily
        for field, value in (("key", key), ("kernel", kernel), ("differentiable", True),
                             ("name", getattr(key, "__name__", None) or fn.__name__),
                             ("origin", f"{fn.__code__.co_filename}:"
                                        f"{fn.__code__.co_firstlineno}"),
                             ("_template", fn)):
            object.__setattr__(self, field, value)

    def __getattr__(self, attr):
        if attr not in _LazyRule._PARSED:
            raise AttributeError(attr)
        parsed = parse_template(self._template, self.key, self.kernel)
        for field in _LazyRule._PARSED:
            object.__setattr__(self, field, getattr(parsed, field))
        return getattr(self, attr)


def _module_template(fn):
    """The FunctionDef of a template defined at the top of one of srcgrad's rule modules,
    from that module parsed once (importing the rules parses each module once, not each
    template through `inspect.getsource`); None for templates defined elsewhere."""
    filename = fn.__code__.co_filename
    if os.path.dirname(os.path.abspath(filename)) != _RULES_DIR:
        return None
    found = _MODULE_TEMPLATES.get(filename)
    if found is None:
        text = "".join(linecache.getlines(filename))
        tree = ast.parse(text, filename)
        by_line = {min([node.lineno, *(d.lineno for d in node.decorator_list)]): node
                   for node in tree.body if isinstance(node, ast.FunctionDef)}
        found = _MODULE_TEMPLATES[filename] = (text.splitlines(), by_line)
    lines, by_line = found
    node = by_line.get(fn.__code__.co_firstlineno)
    return None if node is None else (node, lines)


def parse_template(fn, key, kernel: str | None, differentiable: bool = True) -> Rule:
    """Parse a template function into a Rule, raising RuleError with its location."""
    filename = fn.__code__.co_filename
    parsed = _module_template(fn)
    if parsed is not None:  # line numbers are the file's own
        tree, lines = parsed
        first = 0
        origin = f"{filename}:{fn.__code__.co_firstlineno}"
    else:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source).body[0]
        first = fn.__code__.co_firstlineno - 1
        origin = f"{filename}:{first + 1}"
        lines = source.splitlines()

    def location(node):
        line = getattr(node, "lineno", 1)
        return Location(
            filename, line + first, getattr(node, "col_offset", 0), source_line=lines[line - 1]
        )

    try:
        result, params = _params(tree.args)
    except ValueError as exc:
        raise RuleError(str(exc), location=location(tree)) from None
    try:
        blocks = _blocks(tree, origin)
    except RuleError as exc:
        raise RuleError(exc.message, location=location(tree), hint=exc.hint) from None
    for mode in ("adjoint", "tangent"):
        _check_block(tree.name, blocks[mode], params, result, mode, location)
    name = getattr(key, "__name__", None) or tree.name
    return Rule(
        key=key,
        name=name,
        kernel=kernel,
        result=result,
        params=params,
        adjoint=blocks["adjoint"],
        tangent=blocks["tangent"],
        differentiable=differentiable,
        origin=origin,
    )


def rule(key, *, kernel: str | None = "", aliases=()):
    """Register the decorated template as the rule for `key`.

    `kernel` is the backend attribute emitted code calls; it defaults to the key's
    `__name__`; pass None for operators, which are emitted as Python operators.
    """

    def add(fn):
        name = getattr(key, "__name__", fn.__name__) if kernel == "" else kernel
        if _module_template_file(fn):  # srcgrad's own rules: parsed when first used
            register(_LazyRule(fn, key, name))
        else:
            register(parse_template(fn, key, name))
        for other in aliases:
            alias(other, key)
        return fn

    return add


def nondifferentiable(*keys, kernel: str | None = ""):
    """Register primitives whose derivative is zero everywhere it exists."""
    for key in keys:
        name = key.__name__ if kernel == "" else kernel
        register(
            Rule(
                key=key,
                name=key.__name__,
                kernel=name,
                result="y",
                params=(),
                adjoint=(),
                tangent=(),
                differentiable=False,
                origin="registry",
            )
        )


def alias(other, key) -> None:
    """Make `other` denote the primitive registered under `key`.

    A NumPy function also names a kernel: rule templates call it as `xp.<name>` (say
    `xp.matmul` for the operator `@`), and derivatives of derivatives read that code back.
    """
    if other is not None and other is not key:
        ALIASES[other] = key
        spelled = getattr(other, "__name__", None)
        if spelled and getattr(np, spelled, None) is other and key in RULES:
            KERNELS.setdefault(spelled, RULES[key])


def method(name: str, key) -> None:
    """Make the array method `x.name(...)` denote `key(x, ...)`."""
    METHODS[name] = key


def elementwise(*keys) -> None:
    """Declare primitives whose result has the broadcast shape of their array operands
    (lets the optimizer prove shapes equal and drop needless `unbroadcast` calls)."""
    ELEMENTWISE.update(keys)
