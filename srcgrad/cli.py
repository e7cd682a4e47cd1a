"""The `srcgrad` command line (typer is imported only here).

    srcgrad grad examples/basics.py:f --wrt x,y           # print the gradient module
    srcgrad grad examples/basics.py:f -o f_grad.py        # write it (atomically)

Exit status: 0 success, 1 a problem in the user's code (a located diagnostic, no Python
traceback), 2 a usage error.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from srcgrad.errors import SrcgradError

app = typer.Typer(
    name="srcgrad",
    help="Ahead-of-time, source-to-source automatic differentiation for Python/NumPy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_KINDS = {"grad", "value_and_grad", "vjp"}


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _load_target(target: str):
    """Import `path.py:func` or `pkg.mod:func` and return the function."""
    if ":" not in target:
        raise _fail(f"error: expected PATH.py:FUNCTION or module:FUNCTION, got {target!r}", 2)
    location, _, name = target.rpartition(":")
    if location.endswith(".py") or os.sep in location or "/" in location:
        path = Path(location)
        if not path.is_file():
            raise _fail(f"error: no such file: {location}", 2)
        module_name = path.stem
        directory = str(path.resolve().parent)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            raise _fail(
                f"{exc.filename}:{exc.lineno}:{exc.offset or 0}: error: {exc.msg}\n"
                f"    {(exc.text or '').strip()}", 1) from None
    else:
        try:
            module = importlib.import_module(location)
        except ImportError as exc:
            raise _fail(f"error: cannot import module {location!r}: {exc}", 2) from None
    function = getattr(module, name, None)
    if function is None:
        raise _fail(f"error: {location} has no function {name!r}", 2)
    return getattr(function, "__wrapped__", function)


def _parse_wrt(wrt: Optional[str]):
    if wrt is None:
        return 0
    items = [item.strip() for item in wrt.split(",") if item.strip()]
    parsed = tuple(int(item) if item.lstrip("-").isdigit() else item for item in items)
    return parsed[0] if len(parsed) == 1 else parsed


def _write_atomically(path: Path, text: str) -> None:
    directory = path.resolve().parent
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


@app.command()
def grad(
    target: Annotated[str, typer.Argument(help="PATH.py:FUNCTION or package.module:FUNCTION")],
    wrt: Annotated[Optional[str], typer.Option(help="Parameters to differentiate, by name or "
                                               "position, comma-separated (default: the first)")] = None,
    kind: Annotated[str, typer.Option(help="grad, value_and_grad or vjp")] = "grad",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the module "
                                                   "here instead of printing it")] = None,
) -> None:
    """Generate the derivative of a function as a Python module."""
    if kind not in _KINDS:
        raise _fail(f"error: --kind must be one of {', '.join(sorted(_KINDS))}", 2)
    function = _load_target(target)
    from srcgrad.codegen import pipeline

    try:
        compiled = pipeline.compile_reverse(function, _parse_wrt(wrt), kind)
    except SrcgradError as exc:
        raise _fail(str(exc), 1) from None
    if output is None:
        typer.echo(compiled.text, nl=False)
        return
    try:
        _write_atomically(output, compiled.text)
    except OSError as exc:
        raise _fail(f"error: cannot write {output}: {exc.strerror or exc}", 1) from None
    typer.echo(f"wrote {output}", err=True)


@app.command()
def version() -> None:
    """Print the srcgrad version."""
    from srcgrad import __version__

    typer.echo(__version__)


def main() -> None:  # pragma: no cover - console entry point
    app()
