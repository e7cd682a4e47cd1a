"""Read a function's source and resolve the names it uses.

`parse_function` turns a live function object into a `Source`: its `ast.FunctionDef`
(decorators removed), where it came from (so diagnostics point into the user's file), and a
`Resolver` that answers "what object does this name or attribute chain denote" through the
function's closure cells, its globals and the builtins, the way Python itself would at run
time.
"""

from __future__ import annotations

import ast
import builtins
import collections.abc
import functools
import inspect
import textwrap
import types
import typing

from srcgrad.codegen.syntax import fix_locations, walk
from srcgrad.errors import Location, SourceUnavailableError, UnsupportedSyntaxError
from srcgrad.records import field, record

__all__ = ["Source", "Resolver", "UNRESOLVED", "parse_function", "object_like", "summary",
           "signature"]


class _Unresolved:
    def __repr__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED = _Unresolved()


@record
class Resolver:
    """Resolves free names of one function: closure cells, then globals, then builtins."""

    globals: dict
    closure: dict = field(default_factory=dict)

    def lookup(self, name: str):
        if name in self.closure:
            cell = self.closure[name]
            try:
                return cell.cell_contents
            except ValueError:
                return UNRESOLVED
        try:  # a mapping with a fallback (emitted code's live globals) answers [] only
            return self.globals[name]
        except KeyError:
            pass
        if hasattr(builtins, name):
            return getattr(builtins, name)
        return UNRESOLVED

    def resolve(self, node: ast.expr, local_names: frozenset[str] | set[str]):
        """The object a `Name` or dotted `Attribute` chain denotes, or UNRESOLVED.

        Attribute chains are followed only through modules and classes: `np.linalg.norm`
        resolves, `x.shape` on a local array does not (it is a run-time value).
        """
        if isinstance(node, ast.Name):
            if node.id in local_names:
                return UNRESOLVED
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value, local_names)
            if base is UNRESOLVED or not isinstance(base, (types.ModuleType, type)):
                return UNRESOLVED
            return getattr(base, node.attr, UNRESOLVED)
        return UNRESOLVED


@record
class Source:
    """A parsed function and the facts needed to locate its nodes in the user's file."""

    function: object
    tree: ast.FunctionDef
    filename: str
    line_offset: int  # add to an ast line number to get the file's line number
    col_offset: int  # indentation removed by dedent
    lines: list[str]  # the dedented source lines, for rendering diagnostics
    resolver: Resolver
    # Objects the differentiated call receives (parameter name -> the object), so that
    # calls on them (`model(x)`, `layer.forward(h)`) resolve from their types.
    specimens: dict = field(default_factory=dict)
    layouts: dict = field(default_factory=dict)  # parameter -> rank and unit axes
    floats: frozenset = frozenset()  # parameters holding float64 values
    sequences: frozenset = frozenset()  # parameters the call passes lists or tuples to
    mappings: frozenset = frozenset()  # parameters the call passes dicts to

    @property
    def name(self) -> str:
        return self.tree.name

    @functools.cached_property
    def rebound(self) -> frozenset:
        """The names the function assigns (its parameters among them, if it rebinds
        them); read once per call site of the functions it calls."""
        return frozenset(node.id for node in walk(self.tree) if isinstance(node, ast.Name)
                         and isinstance(node.ctx, (ast.Store, ast.Del)))

    def locate(self, node: ast.AST) -> Location:
        """Location of a node of `tree` (or of a node copied from one) in the user's file."""
        line = getattr(node, "lineno", None) or self.tree.lineno
        col = getattr(node, "col_offset", 0) or 0
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        if end_line != line:
            end_col = None
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return Location(
            filename=self.filename,
            line=line + self.line_offset,
            col=col + self.col_offset,
            end_col=None if end_col is None else end_col + self.col_offset,
            source_line=" " * self.col_offset + text,
        )


def _function_location(fn) -> Location | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    return Location(code.co_filename, code.co_firstlineno, 0, source_line="")


def _lambda_as_def(fn, module: ast.Module, col_offset: int) -> ast.FunctionDef:
    """`sq = lambda t: t * t` as `def sq(t): return t * t` (the lambda must be the only one
    on its lines, so that it is certain which lambda `fn` is)."""
    lambdas = [n for n in walk(module) if isinstance(n, ast.Lambda)]
    if len(lambdas) != 1:
        raise UnsupportedSyntaxError(
            "cannot tell which lambda on this line is being differentiated",
            Location(fn.__code__.co_filename, fn.__code__.co_firstlineno, col_offset),
            "bind the lambda to a name on a line of its own, or write it as a def")
    node = lambdas[0]
    name = "lambda_"
    for statement in module.body:
        if isinstance(statement, ast.Assign) and statement.value is node and isinstance(
                statement.targets[0], ast.Name):
            name = statement.targets[0].id
    body = ast.copy_location(ast.Return(value=node.body), node.body)
    tree = ast.FunctionDef(name=name, args=node.args, body=[body], decorator_list=[],
                           returns=None, type_comment=None)
    if hasattr(ast, "TypeVar"):  # Python 3.12+: the field exists and must be set
        tree.type_params = []
    return fix_locations(ast.copy_location(tree, node))


def _definition_text(fn) -> str:
    """`inspect.getsource(fn)`, without tokenizing when the indentation shows where the
    definition ends: the first line after the `def` line indented no deeper than it (and
    not blank or a comment) ends it. Such a line inside the definition (a string or a
    bracket continued at the left margin) leaves the text before it unparseable, and
    `inspect` decides. Compiling tokenize's patterns was ~5 ms of a first call."""
    fn = inspect.unwrap(fn)  # as getsource does
    lines, start = inspect.findsource(fn)
    first = lines[start]
    margin = len(first) - len(first.lstrip())
    end = start
    while end < len(lines) and lines[end].lstrip().startswith("@"):
        end += 1  # decorators of one line each
    if fn.__name__ != "<lambda>" and end < len(lines) and lines[end].lstrip().startswith(
            ("def ", "async def ")):
        last = end
        for end in range(end + 1, len(lines)):
            text = lines[end].strip()
            if not text or text.startswith("#"):
                continue
            if len(lines[end]) - len(lines[end].lstrip()) <= margin:
                break
            last = end
        raw = "".join(lines[start:last + 1])
        try:
            ast.parse(textwrap.dedent(raw))
            return raw
        except SyntaxError:
            pass
    return inspect.getsource(fn)


def parse_function(fn) -> Source:
    """Parse `fn`'s source. Raises SourceUnavailableError when Python cannot give it.

    A derivative returned by srcgrad (grad(f), vjp(f), ...) stands for its emitted
    function, whose source srcgrad registered: derivatives of derivatives transform it.
    """
    emitted = getattr(fn, "generic_function", None)
    if callable(emitted):
        fn = emitted()
    name = getattr(fn, "__qualname__", repr(fn))
    if not isinstance(fn, types.FunctionType):
        kind = "a built-in or C-extension function" if callable(fn) else "not a function"
        raise SourceUnavailableError(
            f"cannot read the source of {name!r}: it is {kind}",
            hint="srcgrad differentiates Python functions defined in a .py file; register a "
            "rule for this callable with srcgrad.extend instead",
        )
    try:
        raw = _definition_text(fn)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {name!r} ({exc})",
            location=_function_location(fn),
            hint="define the function in a .py file (source typed at an interactive prompt "
            "or built with exec is not kept by Python)",
        ) from None
    dedented = textwrap.dedent(raw)
    first = raw.splitlines()[0]
    col_offset = len(first) - len(first.lstrip()) - (
        len(dedented.splitlines()[0]) - len(dedented.splitlines()[0].lstrip())
    )
    try:
        module = ast.parse(dedented)
    except SyntaxError:  # a lambda in the middle of an expression spanning lines
        module = ast.parse("(\n" + dedented + "\n)") if fn.__name__ == "<lambda>" else None
        if module is None:
            raise
    tree = module.body[0]
    if fn.__name__ == "<lambda>":
        tree = _lambda_as_def(fn, module, col_offset)
    if not isinstance(tree, ast.FunctionDef):
        raise SourceUnavailableError(
            f"the source of {name!r} is not a plain function definition",
            location=_function_location(fn),
            hint="srcgrad differentiates functions defined with def (async functions and "
            "lambdas are not supported)",
        )
    tree.decorator_list = []
    closure = {}
    if fn.__closure__:
        closure = dict(zip(fn.__code__.co_freevars, fn.__closure__, strict=True))
    return Source(
        function=fn,
        tree=tree,
        filename=fn.__code__.co_filename,
        line_offset=fn.__code__.co_firstlineno - 1,
        col_offset=col_offset,
        lines=dedented.splitlines(),
        resolver=Resolver(fn.__globals__, closure),
    )


def object_like(value) -> bool:
    """An object whose methods srcgrad may call: not an array, number or container."""
    return (hasattr(value, "__dict__") and not hasattr(value, "shape")
            and not isinstance(value, (type, types.ModuleType, types.FunctionType)))


def _stand_in(cls, depth=0):
    """An instance of `cls` made without running `__init__`, holding stand-ins for the
    attributes its class annotates with classes (`fc1: Linear`); None when `cls` is not a
    class of objects srcgrad resolves methods on."""
    if (not isinstance(cls, type) or depth > 8 or cls.__module__ in ("builtins", "typing")
            or cls.__module__.split(".")[0] in ("numpy", "cupy", "dask")):
        return None
    try:
        value = cls.__new__(cls)
        hints = typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - any class srcgrad cannot build stays unresolved
        return None
    if not object_like(value):
        return None
    for name, hint in hints.items():
        held = _stand_in(hint, depth + 1)
        if held is not None:
            try:
                object.__setattr__(value, name, held)
            except (AttributeError, TypeError):
                return None
    return value


def annotated_specimens(fn) -> dict:
    """Stand-in objects for the parameters of `fn` annotated with a class (`model: MLP`),
    so that calls on them resolve before any call supplies real objects (the command line,
    `.source` before the first call)."""
    try:
        hints = typing.get_type_hints(fn)
        names = list(inspect.signature(fn).parameters)
    except Exception:  # noqa: BLE001 - unresolvable annotations: resolve at the first call
        return {}
    found = {}
    for name in names:
        value = _stand_in(hints.get(name))
        if value is not None:
            found[name] = value
    return found


def annotated_mappings(fn) -> frozenset:
    """The parameters of `fn` annotated as dicts (`params: dict`, `dict[str, np.ndarray]`,
    any `Mapping`), so that loops over them run over their keys in code written before
    any call passes one (the command line)."""
    try:
        hints = typing.get_type_hints(fn)
        names = set(inspect.signature(fn).parameters)
    except Exception:  # noqa: BLE001 - unresolvable annotations: none
        return frozenset()
    found = set()
    for name, hint in hints.items():
        origin = typing.get_origin(hint) or hint
        if name in names and isinstance(origin, type) and issubclass(
                origin, collections.abc.Mapping):
            found.add(name)
    return frozenset(found)


def summary(value, depth=0):
    """A hashable summary of the type of an object (and of the objects, lists and dicts it
    holds), under which code compiled for it stays valid."""
    if depth > 8:
        return type(value)
    if object_like(value):
        held = tuple((k, summary(v, depth + 1)) for k, v in sorted(vars(value).items())
                     if object_like(v) or isinstance(v, (list, tuple, dict)))
        return (type(value), held)
    if isinstance(value, (list, tuple)):
        return (type(value), tuple(summary(v, depth + 1) for v in value))
    return type(value).__name__


def signature(specimens: dict) -> tuple:
    """The summaries of the objects a call passes, by name."""
    return tuple((k, summary(v)) for k, v in sorted(specimens.items()))
