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
import sysconfig
import tempfile
import traceback
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

_KINDS = {"grad", "value_and_grad", "vjp", "jvp"}


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _syntax_error(exc: SyntaxError) -> typer.Exit:
    """`file:line:col: error: msg`, the offending line and a caret (as Python would show)."""
    text = (exc.text or "").rstrip("\n")
    stripped = text.lstrip()
    lines = [f"{exc.filename}:{exc.lineno}:{exc.offset or 0}: error: {exc.msg}"]
    if stripped:
        lines.append(f"    {stripped}")
        if exc.offset:
            lines.append(f"    {' ' * max(exc.offset - 1 - (len(text) - len(stripped)), 0)}^")
    return _fail("\n".join(lines), 1)


def _import_error(location: str, exc: BaseException) -> typer.Exit:
    """A failure while running the user's module: located at its innermost user frame."""
    libraries = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")})
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith("<") and frame.filename != __file__]
    # Point at the user's own code, not at the library it was calling when it failed.
    frames = [f for f in frames if not f.filename.startswith(libraries)] or frames
    what = f"importing {location} failed: {type(exc).__name__}: {exc}"
    if not frames:
        return _fail(f"error: {what}", 1)
    frame = frames[-1]
    column = (getattr(frame, "colno", None) or 0) + 1  # colno: Python 3.11+
    lines = [f"{frame.filename}:{frame.lineno}:{column}: error: {what}"]
    if frame.line:
        lines.append(f"    {frame.line.strip()}")
    return _fail("\n".join(lines), 1)


def _is_missing(location: str, exc: ImportError) -> bool:
    """Whether `exc` says the target module itself (or a parent package) does not exist,
    rather than that the module exists and failed to import something."""
    missing = getattr(exc, "name", None)
    return isinstance(exc, ModuleNotFoundError) and missing is not None and (
        location == missing or location.startswith(f"{missing}."))


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
            raise _syntax_error(exc) from None
        except Exception as exc:  # noqa: BLE001 - any failure in the user's module code
            raise _import_error(location, exc) from None
    else:
        # Like `python -m`, find modules relative to the working directory (a console
        # script's sys.path[0] is its bin directory instead).
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(location)
        except SyntaxError as exc:
            raise _syntax_error(exc) from None
        except ImportError as exc:
            if _is_missing(location, exc):
                raise _fail(f"error: cannot import module {location!r}: {exc}", 2) from None
            raise _import_error(location, exc) from None
        except Exception as exc:  # noqa: BLE001 - any failure in the user's module code
            raise _import_error(location, exc) from None
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


def _file_mode(path: Path) -> int:
    """An existing file keeps its permissions; a new one gets the usual 0o666 minus umask
    (mkstemp's temporary files are private, 0o600)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write_atomically(path: Path, text: str) -> None:
    directory = path.resolve().parent
    mode = _file_mode(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
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
    kind: Annotated[str, typer.Option(help="grad, value_and_grad, vjp or jvp")] = "grad",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the module "
                                                   "here instead of printing it")] = None,
) -> None:
    """Generate the derivative of a function as a Python module."""
    if kind not in _KINDS:
        raise _fail(f"error: --kind must be one of {', '.join(sorted(_KINDS))}", 2)
    function = _load_target(target)
    from srcgrad.codegen import pipeline

    try:
        compiled = pipeline.compile_derivative(function, _parse_wrt(wrt), kind)
    except SrcgradError as exc:
        raise _fail(str(exc), 1) from None
    if output is None:
        typer.echo(compiled.standalone_text, nl=False)
        return
    try:
        _write_atomically(output, compiled.standalone_text)
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
