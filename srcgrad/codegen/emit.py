"""Emission: turn an emitted function's AST into module text, then into a callable.

Statements are unparsed one at a time (stdlib `ast.unparse`), so comments can sit between
them. The text is byte-for-byte deterministic: it depends only on the tree and the header
fields passed in. `load` compiles the text under a unique pseudo-filename registered with
`linecache`, so tracebacks, debuggers and `inspect.getsource` show the generated lines;
`note_place` names, on an error the emitted code raised, the line of the user's file it ran.
"""

from __future__ import annotations

import ast
import itertools
import linecache

from srcgrad.codegen.syntax import Comment
from srcgrad.errors import SrcgradError

__all__ = ["render_functions", "render_module", "compile_module", "place", "note_place"]

_INDENT = "    "


def _block(body: list[ast.stmt], depth: int, places: list) -> list[str]:
    lines = []
    for stmt in body:
        lines += _statement(stmt, depth, places)
    if all(isinstance(s, Comment) for s in body):
        lines.append(f"{_INDENT * depth}pass")
        places.append(None)
    return lines


def _statement(stmt: ast.stmt, depth: int, places: list) -> list[str]:
    """The lines of `stmt`; `places` gets, for each, the statement it runs (None for a
    comment)."""
    pad = _INDENT * depth
    if isinstance(stmt, Comment):
        places.append(None)
        return [f"{pad}# {stmt.text}"]
    places.append(stmt)
    if isinstance(stmt, ast.If):
        lines = [f"{pad}if {ast.unparse(stmt.test)}:", *_block(stmt.body, depth + 1, places)]
        orelse = stmt.orelse
        while len(orelse) == 1 and isinstance(orelse[0], ast.If):
            places.append(orelse[0])
            lines += [f"{pad}elif {ast.unparse(orelse[0].test)}:",
                      *_block(orelse[0].body, depth + 1, places)]
            orelse = orelse[0].orelse
        if orelse:
            places.append(None)
            lines += [f"{pad}else:", *_block(orelse, depth + 1, places)]
        return lines
    if isinstance(stmt, ast.For):
        header = f"{pad}for {ast.unparse(stmt.target)} in {ast.unparse(stmt.iter)}:"
        return [header, *_block(stmt.body, depth + 1, places)]
    if isinstance(stmt, ast.While):
        return [f"{pad}while {ast.unparse(stmt.test)}:", *_block(stmt.body, depth + 1, places)]
    if isinstance(stmt, ast.FunctionDef):
        header = ast.unparse(copy_without_body(stmt)).splitlines()[0]
        return [f"{pad}{header}", *_block(stmt.body, depth + 1, places)]
    lines = [f"{pad}{line}" for line in ast.unparse(stmt).splitlines()]
    places += [stmt] * (len(lines) - 1)
    return lines


def _function(function: ast.FunctionDef, docstring: str, places: list) -> list[str]:
    header = copy_without_body(function)
    lines = [ast.unparse(header).splitlines()[0]]
    places.append(function)
    if docstring:
        lines.append(f'{_INDENT}"""{docstring}"""')
        places.append(function)
    for stmt in function.body:
        lines += _statement(stmt, 1, places)
    return lines


def copy_without_body(function: ast.FunctionDef) -> ast.FunctionDef:
    import copy

    header = copy.copy(function)
    header.body = [ast.Pass()]
    header.decorator_list = []
    return header


def render_functions(functions: list[tuple[ast.FunctionDef, str]], places=None) -> str:
    """The text of each (function, docstring), two blank lines before each; `places`, if
    given, gets for each line of the text the statement it runs, or None."""
    lines: list[str] = []
    places = [] if places is None else places
    for function, docstring in functions:
        places += [None, None]
        lines += ["", "", *_function(function, docstring, places)]
    return "\n".join(lines) + "\n"


def render_module(
    functions: str,
    header_lines: list[str],
    imports: list[str] = ("import srcgrad.runtime as rt",),
) -> str:
    """Module text: header comment lines, imports, then the functions' text
    (`render_functions`)."""
    lines = [f"# {line}" if line else "#" for line in header_lines]
    lines += ["", *imports]
    return "\n".join(lines) + "\n" + functions


_counter = itertools.count(1)

# Emitted modules' filenames -> locate(line): where in the user's file (a Location) the
# statement on that line of the emitted text came from, or None.
_PLACES: dict = {}


def compile_module(text: str, label: str, locate=None):
    """Compile module text under a unique `<srcgrad ...>` filename registered in linecache,
    so tracebacks, debuggers and `inspect.getsource` show the generated lines (and with
    `locate`, `place` finds the user's line of each)."""
    filename = f"<srcgrad-{next(_counter)} {label}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    if locate is not None:
        _PLACES[filename] = locate
    return compile(text, filename, "exec")


def place(filename: str, line: int):
    """The Location in the user's file of what line `line` of an emitted module runs (of
    the user's own line when that module differentiates emitted code), or None."""
    found = None
    while filename in _PLACES:
        where = _PLACES[filename](line)
        if where is None:
            break
        found, filename, line = where, where.filename, where.line
    return found


def note_place(error: Exception) -> None:
    """Name, in a note on `error` (raised while emitted code ran), the line of the user's
    file whose code raised it: the innermost frame of emitted code in its traceback."""
    found = None
    frame = error.__traceback__
    while frame is not None:
        code = frame.tb_frame.f_code
        where = place(code.co_filename, frame.tb_lineno)
        if where is not None:
            found = where, code.co_filename, frame.tb_lineno
        frame = frame.tb_next
    add_note = getattr(error, "add_note", None)  # (Python 3.11 and later)
    if found is None or add_note is None or isinstance(error, SrcgradError) or any(
            note.startswith("srcgrad:") for note in getattr(error, "__notes__", ())):
        return
    where, filename, line = found
    shown = where.render()
    add_note("\n".join(filter(None, [
        f"srcgrad: raised by the code emitted for {where.filename}:{where.line}:"
        f"{where.col + 1} ({filename.strip('<>')}, line {line}):", shown,
        "help: call the function itself with the same arguments to see whether it raises "
        "there too; the derivative's `.source` shows the emitted code"])))
