"""The compiler as a list of named passes.

    source -> fence -> normalize -> reverse (runs the analyses) -> optimize -> emit
"""

from __future__ import annotations

import ast
import builtins
import os

from srcgrad._version import __version__
from srcgrad.codegen import (
    emit,
    fence,
    forward,
    lift,
    normalize,
    optimize,
    reverse,
    source,
)
from srcgrad.codegen.analysis import layouts, mutation
from srcgrad.codegen.naming import RESERVED, Namer
from srcgrad.codegen.syntax import fix_locations, walk
from srcgrad.errors import SrcgradError, UnknownWrtError, UnsupportedSyntaxError
from srcgrad.records import record

__all__ = ["Compiled", "compile_derivative", "resolve_wrt", "VERSION"]

VERSION = __version__


@record
class Compiled:
    """An emitted derivative: its module text and what is needed to load and call it."""

    text: str
    function_name: str
    source: source.Source
    wrt: tuple[str, ...]
    kind: str
    output_location: object  # errors.Location of the return statement
    parameters: tuple[str, ...]
    extra_parameters: tuple[str, ...]
    functions: tuple = ()  # (emitted name, user function) for every function in the module
    standalone_text: str = ""  # `text` plus imports of the user's values it reads
    as_tuple: bool = False  # wrt was a tuple: the gradients come as a tuple
    # for each line of `text` from `first_line` on: (the Source, the statement it runs) or
    # None, so that an error raised by the emitted code can name the user's line
    places: tuple = ()
    first_line: int = 1

    def locate(self, line: int):
        """The Location in the user's file of the statement line `line` of `text` runs."""
        index = line - self.first_line
        if 0 <= index < len(self.places) and self.places[index] is not None:
            src, stmt = self.places[index]
            return src.locate(stmt)
        return None


def resolve_wrt(src: source.Source, wrt) -> tuple[tuple[str, ...], bool]:
    """Map `wrt` (position, name, or a tuple of them) to parameter names.

    Returns the names and whether the caller asked for a tuple of gradients.
    """
    params = reverse.parameter_names(src.tree)
    as_tuple = isinstance(wrt, (tuple, list))
    items = list(wrt) if as_tuple else [wrt]
    names = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise UnknownWrtError(
                f"wrt entries must be parameter positions or names, not {item!r}",
                src.locate(src.tree), f"parameters are: {', '.join(params)}")
        if isinstance(item, int):
            if not -len(params) <= item < len(params):
                raise UnknownWrtError(
                    f"wrt={item} but {src.name} has {len(params)} parameter(s)",
                    src.locate(src.tree), f"parameters are: {', '.join(params)}")
            item = params[item]
        elif item not in params:
            raise UnknownWrtError(
                f"wrt names {item!r}, which is not a parameter of {src.name}",
                src.locate(src.tree), f"parameters are: {', '.join(params)}")
        if item in names:
            raise UnknownWrtError(f"wrt names {item!r} twice", src.locate(src.tree),
                                  f"list each parameter once; parameters are: {', '.join(params)}")
        names.append(item)
    if not names:
        raise UnknownWrtError("wrt is empty", src.locate(src.tree),
                              f"name at least one of: {', '.join(params)}")
    return tuple(names), as_tuple


def _check_reserved(src: source.Source) -> None:
    for arg in [*src.tree.args.posonlyargs, *src.tree.args.args, *src.tree.args.kwonlyargs]:
        if arg.arg in RESERVED:
            raise UnsupportedSyntaxError(
                f"the parameter name `{arg.arg}` is reserved for srcgrad's emitted code",
                src.locate(arg), "rename the parameter")


def _describe(kind: str, wrt: tuple[str, ...], as_tuple: bool, has_aux: bool) -> str:
    shown = repr(tuple(wrt)) if as_tuple else repr(wrt[0])
    extra = ", has_aux=True" if has_aux else ""
    return f"{kind}(wrt={shown}{extra})"


_WHAT = {"primal": "Primal", "grad": "Gradient", "value_and_grad": "Value and gradient",
         "vjp": "Vector-Jacobian product", "jvp": "Jacobian-vector product"}


@record
class Entry:
    """One derivative function of an emitted module."""

    name: str
    function: object  # the user's function it differentiates
    kind: str
    wrt: tuple[str, ...]
    tree: ast.FunctionDef | None = None  # None while being compiled (recursion)
    docstring: str = ""
    source: object = None  # the source.Source it was compiled from
    # the shape of its (primal) result in the symbols of its parameters' layouts, when
    # known (`analysis.layouts`)
    result: tuple | None = None


class Module:
    """The derivative functions of one emitted module: the entry, then every user function
    it calls on the differentiated path (each with the parameters it needs), in order."""

    def __init__(self):
        self.entries: dict[tuple, Entry] = {}
        self.namer = Namer()
        # the entries whose code checks, when it runs, for updates of the caller's arrays
        # (and those that call them): their calls are kept even when their results are
        # not used, so that the checks run
        self.effects: set[str] = set()

    def request(self, function, kind: str, wrt: tuple[str, ...], **context) -> Entry:
        """The derivative of a called user function (compiled on first request), for a
        call passing what `context` says (`calls.call_context`: objects, dicts, layouts).
        Its derivative inputs (cotangent, tangents) come first, then the call's
        arguments."""
        key = (function, kind, wrt, _context_key(**context))
        if key not in self.entries:
            src = _front(function, **context)
            name = self.namer.fresh(f"{_label(function, src)}_{kind}")
            entry = self.entries[key] = Entry(name, function, kind, wrt)
            self.build(entry, src, has_aux=False, as_tuple=len(wrt) > 1, internal=True)
        return self.entries[key]

    def primal(self, function, **context) -> str | None:
        """The name of `function` compiled as is (its normalized body, calling backend
        kernels) for a call passing what `context` says, so the forward sweep runs it on
        the arguments' device; None when it cannot be compiled (then the caller keeps
        calling the original)."""
        key = (function, "primal", (), _context_key(**context))
        if key not in self.entries:
            try:
                src = _front(function, **context)
            except SrcgradError:
                return None
            name = self.namer.fresh(f"{_label(function, src)}_primal")
            entry = self.entries[key] = Entry(name, function, "primal", ())
            try:
                self.build(entry, src, has_aux=False, as_tuple=False, internal=True)
            except SrcgradError:
                del self.entries[key]
                return None
        return self.entries[key].name

    def build(self, entry: Entry, src: source.Source, has_aux: bool, as_tuple: bool,
              internal: bool) -> ast.FunctionDef:
        entry.source = src
        normalized, inplace = normalize.normalize_with_updates(src)
        if not src.filename.startswith("<srcgrad"):
            # Emitted code restores what its forward sweep overwrote before reading it
            # again, so its in-place updates are consistent by construction.
            guards = mutation.check(src, normalized, inplace)
            _guard(normalized, guards)
            if guards:
                self.effects.add(entry.name)
        if entry.kind == "primal":
            tree = reverse.primal(src, normalized, self, entry.name)
            entry.tree = optimize.optimize(tree, normalize.local_names(normalized), src.layouts,
                                           src.floats, effects=self.effects,
                                           callees=self.callees())
            entry.result = self._result(entry, src)
            entry.docstring = f"{src.name}, calling the array backend's kernels."
            self._note_effects(entry)
            return entry.tree
        if entry.kind == "jvp":
            if has_aux:
                raise UnsupportedSyntaxError("jvp does not take has_aux", src.locate(src.tree),
                                             "drop has_aux")
            tree = forward.forward(src, normalized, entry.wrt, src.name, self, entry.name,
                                   internal)
        else:
            options = reverse.ReverseOptions(wrt=entry.wrt, kind=entry.kind, has_aux=has_aux,
                                             name=src.name, tuple_result=as_tuple)
            tree = reverse.reverse(src, normalized, options, self, entry.name, internal)
        entry.tree = optimize.optimize(tree, normalize.local_names(normalized), src.layouts,
                                       src.floats, own_results=not internal,
                                       tangents=entry.kind == "jvp", effects=self.effects,
                                       callees=self.callees())
        if entry.kind == "jvp":
            entry.result = self._result(entry, src)
        self._note_effects(entry)
        entry.docstring = f"{_WHAT[entry.kind]} of {src.name} with respect to {', '.join(entry.wrt)}."
        self.last_return = normalized.body[-1]
        return entry.tree


    def callees(self) -> dict:
        """What the module's compiled functions return, for the shape analysis of their
        callers (`analysis.layouts.Shapes`)."""
        return {entry.name: (entry.kind, tuple(a.arg for a in entry.tree.args.args),
                             entry.wrt, entry.result)
                for entry in self.entries.values()
                if entry.tree is not None and entry.kind in ("primal", "vjp", "jvp")}

    def _result(self, entry: Entry, src: source.Source):
        """The shape of what a primal or jvp entry computes (the first half of a jvp's
        result), in the symbols of its parameters' layouts; None when unknown."""
        returned = entry.tree.body[-1]
        if not src.layouts or not isinstance(returned, ast.Return) or returned.value is None:
            return None
        value = returned.value
        if entry.kind == "jvp":
            if not isinstance(value, ast.Tuple) or len(value.elts) != 2:
                return None
            value = value.elts[0]
        shapes = layouts.analyze(entry.tree, src.layouts, self.callees())
        found = shapes.of(value)
        return None if found is None else tuple(shapes.find(d) for d in found)

    def _note_effects(self, entry: Entry) -> None:
        """An entry that calls one with run-time checks has them too."""
        if any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
               and node.func.id in self.effects for node in walk(entry.tree)):
            self.effects.add(entry.name)


def _guard(function: ast.FunctionDef, guards) -> None:
    """Insert the run-time checks `mutation.check` asks for before their statements."""
    for stmt, array, sharing, message, where in guards:
        check = ast.Expr(ast.Call(
            func=ast.Attribute(value=ast.Name("xp", ast.Load()), attr="require_unshared",
                               ctx=ast.Load()),
            args=[ast.Name(array, ast.Load()),
                  ast.Tuple(elts=[ast.Name(n, ast.Load()) for n in sharing], ctx=ast.Load()),
                  ast.Constant(message), ast.Constant(where.filename),
                  ast.Constant(where.line), ast.Constant(where.col)], keywords=[]))
        ast.copy_location(check, stmt)
        for node in walk(function):
            for field_name in ("body", "orelse"):
                body = getattr(node, field_name, None)
                if isinstance(body, list) and any(s is stmt for s in body):
                    index = next(i for i, s in enumerate(body) if s is stmt)
                    body.insert(index, fix_locations(check))


def _label(function, src: source.Source) -> str:
    """How emitted names call a function: `MLP.__call__` -> `MLP_call`, `f` -> `f`."""
    parts = getattr(function, "__qualname__", "").split(".")
    if len(parts) >= 2 and not parts[-2].startswith("<"):  # a method: Class.method
        params = src.tree.args.posonlyargs + src.tree.args.args
        receiver = src.specimens.get(params[0].arg) if params else None
        owner = type(receiver).__name__ if receiver is not None else parts[-2]
        return f"{owner}_{parts[-1].strip('_')}"  # named for the receiver's own class
    return src.name


def _context_key(specimens=None, mappings=frozenset(), layouts=None, floats=frozenset()):
    return (source.signature(specimens or {}), tuple(sorted(mappings)),
            tuple(sorted((layouts or {}).items())), tuple(sorted(floats)))


def _front(fn, specimens=None, mappings=frozenset(), layouts=None,
           floats=frozenset()) -> source.Source:
    src = source.parse_function(fn)
    src.specimens = dict(specimens or source.annotated_specimens(fn))
    src.mappings = frozenset(mappings)
    src.layouts = dict(layouts or {})
    src.floats = frozenset(floats)
    src = lift.lift_nested(src)
    _check_reserved(src)
    fence.check(src)
    return src


def compile_derivative(fn, wrt=0, kind: str = "grad", has_aux: bool = False,
                       specimens=None, layouts=None, floats=frozenset(),
                       sequences=frozenset(), mappings=frozenset()) -> Compiled:
    """Run the pipeline on `fn`; raises a located SrcgradError on bad input. `specimens`
    maps parameters to the objects a call passes, to resolve method calls on them;
    `layouts` maps parameters to the rank and unit axes of the arrays a call passes
    (`(None, 1)`: a column), to specialize the emitted code to them; `floats` names those
    that are float64 (arrays or Python floats), whose dead temporaries may be updated in
    place; `sequences` those the call passes lists or tuples to (reverse mode cannot join
    or repeat them: said where the code does it, at compile time), and `mappings` those it
    passes dicts to (a loop over one runs over its keys)."""
    src = source.parse_function(fn)
    src.specimens = dict(specimens or source.annotated_specimens(fn))
    src.layouts = dict(layouts or {})
    src.floats = frozenset(floats)
    src.sequences = frozenset(sequences)
    # (code written before any call, for the command line: dicts as annotated)
    src.mappings = frozenset(mappings) if layouts is not None else source.annotated_mappings(fn)
    src = lift.lift_nested(src)
    names, as_tuple = resolve_wrt(src, wrt)
    _check_reserved(src)
    fence.check(src)
    module = Module()
    name = module.namer.fresh(f"{src.name}_{kind}")
    entry = Entry(name, src.function, kind, names)
    module.entries[("entry",)] = entry
    tree = module.build(entry, src, has_aux, as_tuple, internal=False)
    ret = module.last_return
    header = [
        f"Generated by srcgrad {VERSION}; do not edit.",
        f"Source: {getattr(fn, '__module__', '?')}.{fn.__qualname__} "
        f"({os.path.basename(src.filename)}, line {src.tree.lineno + src.line_offset})",
        f"Transform: {_describe(kind, names, as_tuple, has_aux)}",
    ]
    if src.layouts:
        header.append("For arguments shaped: " + ", ".join(
            f"{name} {_spell_layout(layout)}" for name, layout in src.layouts.items()))
    entries = list(module.entries.values())
    functions, places = "", []
    for e in entries:  # (rendered one by one: the same text, and each line's Source)
        statements: list = []
        functions += emit.render_functions([(e.tree, e.docstring)], statements)
        places += [None if s is None else (e.source, s) for s in statements]
    text = emit.render_module(functions, header)
    imports = ["import srcgrad.runtime as rt", *_user_imports(entries)]
    standalone = emit.render_module(functions, header, imports)
    params = tuple(reverse.parameter_names(src.tree))
    all_params = tuple(reverse.parameter_names(tree))
    return Compiled(
        text=text,
        function_name=tree.name,
        source=src,
        wrt=names,
        kind=kind,
        output_location=src.locate(ret),
        parameters=params,
        extra_parameters=tuple(p for p in all_params if p not in params),
        functions=tuple((e.tree.name, e.function) for e in entries),
        standalone_text=standalone,
        as_tuple=as_tuple,
        places=tuple(places),
        first_line=text.count("\n") - functions.count("\n") + 1,
    )


def _spell_layout(layout: tuple) -> str:
    """`(n, 1)` for a column, `()` for a number: n stands for any size but 1."""
    if not layout:
        return "()"
    return "(" + ", ".join("1" if d == 1 else "n" for d in layout) + ("," if len(layout) == 1
                                                                         else "") + ")"


def _user_imports(entries) -> list[str]:
    """`from <module> import <names>` for the user's module-level values the emitted
    functions read, so a module written to disk runs without the compiler."""
    emitted = {e.tree.name for e in entries}
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        tree = entry.tree
        names = [n for n in walk(tree) if n.__class__ is ast.Name]
        bound = {*reverse.parameter_names(tree), *emitted, "rt", "xp"}
        bound.update(n.id for n in names if isinstance(n.ctx, ast.Store))
        bound.update(n.name for n in walk(tree) if n.__class__ is ast.FunctionDef)
        module = getattr(entry.function, "__module__", None) or "__main__"
        for node in names:
            if (isinstance(node.ctx, ast.Load) and node.id not in bound
                    and not hasattr(builtins, node.id)):
                wanted.setdefault(module, set()).add(node.id)
    return [f"from {module} import {', '.join(sorted(names))}"
            for module, names in sorted(wanted.items())]
