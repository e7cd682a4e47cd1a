"""Emission: turn an emitted function's AST into module text, then into a callable.

Statements are unparsed one at a time (stdlib `ast.unparse`), so comments can sit between
them. The text is byte-for-byte deterministic: it depends only on the tree and the header
fields passed in. `load` compiles the text under a unique pseudo-filename registered with
`linecache`, so tracebacks, debuggers and `inspect.getsource` show the generated lines.
"""

from __future__ import annotations

import ast
import itertools
import linecache

from srcgrad.codegen.syntax import Comment

__all__ = ["render_functions", "render_module", "compile_module"]

_INDENT = "    "


def _block(body: list[ast.stmt], depth: int) -> list[str]:
    lines = []
    for stmt in body:
        lines += _statement(stmt, depth)
    if all(isinstance(s, Comment) for s in body):
        lines.append(f"{_INDENT * depth}pass")
    return lines


def _statement(stmt: ast.stmt, depth: int) -> list[str]:
    pad = _INDENT * depth
    if isinstance(stmt, Comment):
        return [f"{pad}# {stmt.text}"]
    if isinstance(stmt, ast.If):
        lines = [f"{pad}if {ast.unparse(stmt.test)}:", *_block(stmt.body, depth + 1)]
        orelse = stmt.orelse
        while len(orelse) == 1 and isinstance(orelse[0], ast.If):
            lines += [f"{pad}elif {ast.unparse(orelse[0].test)}:", *_block(orelse[0].body, depth + 1)]
            orelse = orelse[0].orelse
        if orelse:
            lines += [f"{pad}else:", *_block(orelse, depth + 1)]
        return lines
    if isinstance(stmt, ast.For):
        header = f"{pad}for {ast.unparse(stmt.target)} in {ast.unparse(stmt.iter)}:"
        return [header, *_block(stmt.body, depth + 1)]
    if isinstance(stmt, ast.While):
        return [f"{pad}while {ast.unparse(stmt.test)}:", *_block(stmt.body, depth + 1)]
    if isinstance(stmt, ast.FunctionDef):
        header = ast.unparse(copy_without_body(stmt)).splitlines()[0]
        return [f"{pad}{header}", *_block(stmt.body, depth + 1)]
    text = ast.unparse(stmt)
    return [f"{pad}{line}" for line in text.splitlines()]


def _function(function: ast.FunctionDef, docstring: str) -> list[str]:
    header = copy_without_body(function)
    lines = [ast.unparse(header).splitlines()[0]]
    if docstring:
        lines.append(f'{_INDENT}"""{docstring}"""')
    for stmt in function.body:
        lines += _statement(stmt, 1)
    return lines


def copy_without_body(function: ast.FunctionDef) -> ast.FunctionDef:
    import copy

    header = copy.copy(function)
    header.body = [ast.Pass()]
    header.decorator_list = []
    return header


def render_functions(functions: list[tuple[ast.FunctionDef, str]]) -> str:
    """The text of each (function, docstring), two blank lines before each."""
    lines = []
    for function, docstring in functions:
        lines += ["", "", *_function(function, docstring)]
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


def compile_module(text: str, label: str):
    """Compile module text under a unique `<srcgrad ...>` filename registered in linecache,
    so tracebacks, debuggers and `inspect.getsource` show the generated lines."""
    filename = f"<srcgrad-{next(_counter)} {label}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    return compile(text, filename, "exec")
