"""The `srcgrad` command line (typer is imported only here).

    srcgrad grad examples/basics.py:f --wrt x,y             # print the gradient module
    srcgrad grad examples/basics.py:f -o f_grad.py          # write it (atomically)
    srcgrad grad examples/basics.py:f --mode forward        # the forward-mode (JVP) module
    srcgrad show examples/basics.py:f --wrt x,y             # read it, highlighted
    srcgrad check examples/basics.py:mean_of_cubes --shape x=3,4   # against finite differences
    srcgrad rules [--mode reverse|forward|both] [--missing] # what has a derivative rule

Exit status: 0 success, 1 a problem in the user's code (a located diagnostic, no Python
traceback) or a failed check, 2 a usage error.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import linecache
import os
import sys
import sysconfig
import tempfile
import traceback
from enum import Enum
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


def _located_failure(what: str, exc: BaseException) -> typer.Exit:
    """An exception raised by the user's code: located at its innermost user frame."""
    libraries = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")})
    ours = str(Path(__file__).resolve().parent) + os.sep
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith(("<", ours))]
    # Point at the user's own code, not at the library it was calling when it failed.
    frames = [f for f in frames if not f.filename.startswith(libraries)] or frames
    what = f"{what}: {type(exc).__name__}: {exc}"
    if not frames:
        return _fail(f"error: {what}", 1)
    frame = frames[-1]
    text = linecache.getline(frame.filename, frame.lineno).rstrip("\n")

    def column(offset):  # frames count UTF-8 bytes (colno, end_colno: Python 3.11+)
        if offset is None or not text:
            return offset
        return len(text.encode()[:offset].decode(errors="ignore"))

    start, end = (column(getattr(frame, name, None)) for name in ("colno", "end_colno"))
    indent = len(text) - len(text.lstrip())
    if start is None:  # Python 3.10 frames carry no columns: underline the statement
        start, end = indent, len(text.rstrip())
    lines = [f"{frame.filename}:{frame.lineno}:{start + 1}: error: {what}"]
    if text.strip():
        lines.append(f"    {text.strip()}")
        if end and getattr(frame, "end_lineno", frame.lineno) == frame.lineno:
            lines.append(f"    {' ' * max(start - indent, 0)}{'^' * max(end - start, 1)}")
    return _fail("\n".join(lines), 1)


def _import_error(location: str, exc: BaseException) -> typer.Exit:
    return _located_failure(f"importing {location} failed", exc)


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


class Mode(str, Enum):
    """Which derivative `grad` and `show` emit."""

    reverse = "reverse"
    forward = "forward"


class RulesMode(str, Enum):
    """Which primitives `rules` lists: differentiable in reverse mode, forward mode, both."""

    reverse = "reverse"
    forward = "forward"
    both = "both"


Target = Annotated[str, typer.Argument(help="PATH.py:FUNCTION or package.module:FUNCTION",
                                       metavar="PATH.py:FUNCTION", show_default=False)]
Wrt = Annotated[Optional[str], typer.Option(
    help="Parameters to differentiate, by name or position, comma-separated "
         "(default: the first)", metavar="x,W", show_default=False)]
ModeOption = Annotated[Optional[Mode], typer.Option(
    help="reverse (the default; see --kind) or forward (the Jacobian-vector product, jvp)",
    show_default=False)]
KindOption = Annotated[Optional[str], typer.Option(
    help="Reverse mode: grad (the default), value_and_grad or vjp; jvp means --mode forward",
    metavar="KIND", show_default=False)]


def _resolve_kind(mode: Optional[Mode], kind: Optional[str]) -> str:
    """The pipeline's kind for `--mode` and `--kind`; a conflict is a usage error."""
    if kind is not None and kind not in _KINDS:
        raise _fail(f"error: --kind must be one of {', '.join(sorted(_KINDS))}", 2)
    if mode is None:
        return kind or "grad"
    if mode is Mode.forward:
        if kind not in (None, "jvp"):
            raise _fail(f"error: --kind {kind} is reverse mode; --mode forward writes the "
                        "jvp (drop one of the two options)", 2)
        return "jvp"
    if kind == "jvp":
        raise _fail("error: --kind jvp is forward mode; use --mode forward, or drop "
                    "--mode reverse", 2)
    return kind or "grad"


def _compile(target: str, wrt: Optional[str], mode: Optional[Mode], kind: Optional[str]):
    kind = _resolve_kind(mode, kind)
    function = _load_target(target)
    from srcgrad.codegen import pipeline

    try:
        return pipeline.compile_derivative(function, _parse_wrt(wrt), kind)
    except SrcgradError as exc:
        raise _fail(str(exc), 1) from None


@app.command()
def grad(
    target: Target,
    wrt: Wrt = None,
    mode: ModeOption = None,
    kind: KindOption = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write the module here (atomically) instead of printing it",
        metavar="OUT.py", show_default=False)] = None,
) -> None:
    """Generate the derivative of a function as a Python module."""
    compiled = _compile(target, wrt, mode, kind)
    if output is None:
        typer.echo(compiled.standalone_text, nl=False)
        return
    try:
        _write_atomically(output, compiled.standalone_text)
    except OSError as exc:
        raise _fail(f"error: cannot write {output}: {exc.strerror or exc}", 1) from None
    typer.echo(f"wrote {output}", err=True)


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


@app.command()
def show(
    target: Target,
    wrt: Wrt = None,
    mode: ModeOption = None,
    kind: KindOption = None,
    plain: Annotated[bool, typer.Option(
        "--plain", help="Plain text, no colours (automatic when the output is not a terminal)")
    ] = False,
) -> None:
    """Print the derivative, highlighted; a `# grad of line N: ...` comment above each
    block shows the source line it differentiates."""
    compiled = _compile(target, wrt, mode, kind)
    from srcgrad.api import _print_source

    _print_source(compiled.standalone_text, highlight=not plain and _stdout_is_terminal())


def _parse_shapes(specs: list[str]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, equals, dims = (part.strip() for part in spec.partition("="))
        try:
            if not equals or not name.isidentifier():
                raise ValueError
            shape = tuple(int(d) for d in dims.strip("()").split(",") if d.strip())
            if any(d < 0 for d in shape):
                raise ValueError
        except ValueError:
            raise _fail(f"error: --shape expects NAME=D1,D2,... (for example x=64,10), "
                        f"got {spec!r}", 2) from None
        if name in shapes:
            raise _fail(f"error: --shape gives {name!r} twice", 2)
        shapes[name] = shape
    return shapes


def _draw_inputs(function, shapes, seed: int):
    """Random float64 arguments: an array for each parameter with a --shape, a float for
    the others, the default for parameters that have one. Returns (args, drawn names)."""
    import numpy as np

    name = function.__name__
    parameters = list(inspect.signature(function).parameters.values())
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for parameter in parameters:
        if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            raise _fail(f"error: check cannot pass the keyword-only parameter "
                        f"{parameter.name!r} of {name}; give it a default", 2)
    unknown = [n for n in shapes if n not in {p.name for p in positional}]
    if unknown:
        raise _fail(f"error: --shape names {unknown[0]!r}, which is not a parameter of {name} "
                    f"(parameters: {', '.join(p.name for p in positional)})", 2)
    rng = np.random.default_rng(seed)
    args, drawn = [], []
    for parameter in positional:
        if parameter.name in shapes:
            args.append(rng.standard_normal(shapes[parameter.name]))
        elif parameter.default is parameter.empty:
            args.append(float(rng.standard_normal()))
        else:
            args.append(parameter.default)
            continue
        drawn.append(parameter.name)
    # Trailing defaults are left to the function, as a caller would leave them.
    last = max((positional.index(p) for p in positional if p.name in drawn), default=-1)
    return args[:last + 1], drawn


def _describe_input(value) -> str:
    shape = getattr(value, "shape", None)
    return "float" if shape is None else f"float64 array {shape}"


@app.command()
def check(
    target: Target,
    shape: Annotated[Optional[list[str]], typer.Option(
        "--shape", help="NAME=D1,D2,...: a random float64 array of this shape for parameter "
                        "NAME (repeat for each); parameters without one get a random float",
        metavar="NAME=D1,D2", show_default=False)] = None,
    wrt: Annotated[Optional[str], typer.Option(
        help="Parameters to check, by name or position, comma-separated (default: every "
             "parameter given a random value)", metavar="x,W", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed for the inputs and the directions")] = 0,
) -> None:
    """Check the derivatives in both modes against finite differences, at random inputs.

    Prints the absolute and relative error per argument and mode ("rev": the
    vector-Jacobian product, "fwd": the Jacobian-vector product); exits with status 1 when
    they disagree.
    """
    shapes = _parse_shapes(shape or [])
    function = _load_target(target)
    args, drawn = _draw_inputs(function, shapes, seed)
    from srcgrad.codegen import pipeline, source
    from srcgrad.testing import GradientCheckError, check_grad

    try:
        names, _ = pipeline.resolve_wrt(source.parse_function(function),
                                        _parse_wrt(wrt) if wrt is not None else tuple(drawn))
    except SrcgradError as exc:
        raise _fail(str(exc), 1) from None
    try:
        results = check_grad(function, *args, wrt=names, seed=seed)
    except SrcgradError as exc:
        raise _fail(str(exc), 1) from None
    except GradientCheckError as exc:
        raise _fail(f"error: {exc}", 1) from None
    except Exception as exc:  # noqa: BLE001 - any failure in the user's code
        raise _located_failure(f"running {function.__name__} failed", exc) from None
    shown = ", ".join(f"{p}: {_describe_input(v)}" for p, v in zip(
        inspect.signature(function).parameters, args, strict=False) if p in drawn)
    typer.echo(f"{function.__name__}({shown}), seed {seed}")
    for result in results:
        typer.echo(result.line())
    typer.echo(f"ok: the derivatives of {function.__name__} agree with finite differences")


# -- rules --------------------------------------------------------------------------------

@app.command()
def rules(
    mode: Annotated[Optional[RulesMode], typer.Option(
        help="Only primitives differentiable in this mode (both: in both modes)",
        show_default=False)] = None,
    missing: Annotated[bool, typer.Option(
        "--missing", help="List the public NumPy functions (numpy, numpy.linalg) that have "
                          "no rule yet instead")] = False,
) -> None:
    """List the primitives srcgrad differentiates: how NumPy code and operators spell them,
    the modes they support, and whether their derivative is zero (flat)."""
    from srcgrad import rule_table

    chosen = mode.value if mode is not None else None
    if missing:
        names = rule_table.missing_functions(chosen)
        for name in names:
            typer.echo(name)
        where = f" in {chosen} mode" if chosen is not None else ""
        typer.echo(f"{len(names)} public NumPy functions have no rule{where}")
        return
    rows = rule_table.rows(chosen)
    header = ("primitive", "spellings", "modes", "derivative")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths,
                                                                       strict=True))
                   + "  " + row[3])
    flat = sum(row[3] == "flat" for row in rows)
    typer.echo(f"{len(rows)} primitives: {len(rows) - flat} differentiable, {flat} flat")


@app.command()
def version() -> None:
    """Print the srcgrad version."""
    from srcgrad import __version__

    typer.echo(__version__)


def main() -> None:  # pragma: no cover - console entry point
    app()
