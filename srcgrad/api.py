"""Function transforms: grad, value_and_grad, vjp, jvp (jacobian, hessian and hvp, built
on them, are in `srcgrad.composites`).

Each transform returns a `Derivative`: a callable that compiles its function on first use
(or on `.source`), caches the result per function object, transform, `wrt` and options,
and from then on calls the emitted code directly. A redefined function is a new object and
compiles anew.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import operator
import sys
import threading
import weakref

import numpy as np

from srcgrad import arguments, errors
from srcgrad import runtime as rt
from srcgrad.codegen import emit, pipeline
from srcgrad.codegen.analysis.layouts import entry_name
from srcgrad.codegen import source as source_module

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "show", "Derivative"]

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


class _LiveGlobals(dict):
    """Globals for emitted code: `rt` plus, at run time, the user's globals and closure cells,
    so module-level values rebound after compilation are seen (as the original would)."""

    def __init__(self, function):
        super().__init__(rt=rt, __builtins__=builtins)
        self._globals = function.__globals__
        cells = function.__closure__ or ()
        self._cells = dict(zip(function.__code__.co_freevars, cells, strict=True))

    def __missing__(self, name):
        if name in self._cells:
            return self._cells[name].cell_contents
        return self._globals[name]


def _load(compiled, label: str):
    """Execute the emitted module and return its entry function. Each function runs with
    the globals of the user function it differentiates (modules may differ), and calls the
    others directly."""
    code = emit.compile_module(compiled.text, label, compiled.locate)
    namespaces = {}
    for emitted_name, function in compiled.functions:
        namespace = _LiveGlobals(function)
        exec(code, namespace)  # noqa: S102 - our own emitted code
        namespaces[emitted_name] = namespace
    functions = {n: namespaces[n][n] for n in namespaces}
    for namespace in namespaces.values():
        namespace.update(functions)
    return functions[compiled.function_name]


class _CallSlot(property):
    """`Derivative.__call__`: on a derivative, the function its calls run (read in C, as
    a property's value is); called from the class (`Derivative.__call__(d, x)`), a call of
    `d`."""

    def __call__(self, derivative, *args, **kwargs):
        return derivative._calls(*args, **kwargs)


class Derivative:
    """A derivative of a Python function, compiled to source on first use."""

    def __init__(self, function, kind: str, wrt, has_aux: bool = False):
        if not callable(function):
            raise TypeError(f"{kind} expects a function, got {function!r}")
        self._function = function
        self._kind = kind
        self._wrt = wrt
        self._has_aux = has_aux
        self._compiled = None
        self._call = None
        self._calls = self._slow_call  # what a call runs (see `__call__`)
        self._fast_paths = {}  # those made for earlier calls, by code and signature
        self._has_objects = False  # has any call passed an object (its methods resolve)?
        self._last_specimens = None
        self._parameter_names = None
        self._pullback = None  # the vjp behind gradients of one-element outputs
        functools.update_wrapper(self, function, updated=())

    # -- compilation --------------------------------------------------------------------

    def _entry(self, specimens=None, layouts=None, floats=frozenset(), sequences=frozenset(),
               mappings=frozenset()):
        """The compiled derivative and its emitted function (compiled on first request,
        then cached) for calls passing these objects and arrays of these layouts, `floats`
        naming the float64 ones, `sequences` the lists and tuples and `mappings` the
        dicts."""
        specimens = specimens or {}
        layouts = layouts or {}
        key = (self._kind, self._wrt if not isinstance(self._wrt, list) else tuple(self._wrt),
               self._has_aux, source_module.signature(specimens), tuple(sorted(layouts.items())),
               tuple(sorted(floats)), tuple(sorted(sequences)), tuple(sorted(mappings)))
        with _LOCK:
            try:
                per_function = _CACHE.setdefault(self._function, {})
            except TypeError:
                per_function = {}
            entry = per_function.get(key)
            if entry is None:
                try:
                    compiled = pipeline.compile_derivative(
                        self._function, self._wrt, self._kind, self._has_aux, specimens,
                        layouts, floats, sequences, mappings)
                except errors.SrcgradError as exc:
                    raise exc.with_traceback(None) from None
                call = _load(compiled, f"{self._kind} of {compiled.source.name}")
                function = self._function
                while isinstance(function, Derivative):  # (its parameters are the function's)
                    function = function._function
                call.__defaults__ = getattr(function, "__defaults__", None)
                call.__kwdefaults__ = getattr(function, "__kwdefaults__", None)
                entry = (compiled, call)
                per_function[key] = entry
        return entry

    def _compile(self, specimens=None, layouts=None, floats=frozenset(),
                 sequences=frozenset(), mappings=frozenset()):
        """Compile (or fetch) the derivative; `specimens` are the objects the call passes
        (by parameter name): methods called on them resolve from their types, so code is
        compiled once per type signature; `layouts` are the ranks and unit axes of its
        arrays, to which the code is specialized."""
        entry = self._entry(specimens, layouts, floats, sequences, mappings)
        self._compiled, self._call = entry
        self._positions = {name: compiled_index for compiled_index, name in
                           enumerate(self._compiled.parameters)}
        return entry

    def generic_function(self):
        """The emitted entry function for arguments of any layout: what transforming this
        derivative again reads."""
        if self._compiled is None:
            self._compile(self._last_specimens)
        return self._entry(self._last_specimens)[1]

    @property
    def extra_parameters(self) -> tuple[str, ...]:
        """Names of the inputs a vjp/jvp takes besides the function's own (the cotangent,
        or one tangent per wrt parameter), in order."""
        if self._compiled is None:
            self._compile()
        return self._compiled.extra_parameters

    def emitted_function(self):
        """The emitted entry function of the latest call (specialized to the layouts of
        its arrays), or for arguments of any layout before the first call."""
        if self._call is None:
            self._compile()
        return self._call

    @property
    def source(self) -> str:
        """The emitted module text (for the argument types of the latest call, when it
        received objects whose methods it calls)."""
        if self._compiled is None:
            self._compile(self._last_specimens)
        return self._compiled.text

    @property
    def __signature__(self):
        signature = inspect.signature(self._function)
        if self._kind not in ("vjp", "jvp"):
            return signature
        if self._compiled is None:
            self._compile()
        keyword_only = any(
            p.default is not p.empty or p.kind is p.KEYWORD_ONLY
            for p in signature.parameters.values()
        )
        kind = inspect.Parameter.KEYWORD_ONLY if keyword_only else (
            inspect.Parameter.POSITIONAL_OR_KEYWORD)
        extra = [inspect.Parameter(n, kind) for n in self._compiled.extra_parameters]
        return signature.replace(parameters=[*signature.parameters.values(), *extra])

    # -- calling ------------------------------------------------------------------------

    def _check_wrt(self, args, kwargs) -> None:
        compiled = self._compiled
        for name in compiled.wrt:
            index = self._positions[name]
            if index < len(args):
                value = args[index]
            elif name in kwargs:
                value = kwargs[name]
            else:
                continue
            if arguments.is_integer_like(value):
                params = compiled.source.tree.args
                arg = next(a for a in params.args + params.kwonlyargs + params.posonlyargs
                           if a.arg == name)
                raise errors.NonFloatWrtError(
                    f"{self._kind} of {compiled.source.name}: argument `{name}` is "
                    f"{arguments.describe(value)}, but derivatives need floating-point inputs",
                    compiled.source.locate(arg),
                    f"pass a float (for example {name}=float(...) or "
                    f"np.asarray(..., dtype=float)), or leave `{name}` out of wrt",
                )

    def _names(self) -> list:
        """The function's parameter names (none for a builtin: compiling it reports it)."""
        if self._parameter_names is None:
            try:
                self._parameter_names = list(inspect.signature(self._function).parameters)
            except (TypeError, ValueError):
                self._parameter_names = []
        return self._parameter_names

    def _layouts(self, args, kwargs):
        """The layout (rank and unit axes) of each array and float this call passes, by
        name, the names of the float64 ones, of the lists and tuples, and of the dicts."""
        found, floats, sequences, mappings = {}, set(), set(), set()
        for name, value in (*zip(self._names(), args), *kwargs.items()):
            layout = arguments.layout(value)
            if layout is not None:
                found[name] = layout
                if arguments.is_float64(value):
                    floats.add(name)
            elif type(value) is list or type(value) is tuple:
                sequences.add(name)
            elif type(value) is dict:
                mappings.add(name)
                for key, entry in arguments.laid_out_entries(value):
                    label = entry_name(name, key)
                    found[label] = arguments.layout(entry)
                    if arguments.is_float64(entry):
                        floats.add(label)
        return found, frozenset(floats), frozenset(sequences), frozenset(mappings)

    def _specimens(self, args, kwargs) -> dict:
        """The objects (not arrays, numbers or containers) this call passes, by name."""
        if not self._has_objects:
            return {}
        found = {n: a for n, a in zip(self._names(), args) if source_module.object_like(a)}
        found.update({n: a for n, a in kwargs.items() if source_module.object_like(a)})
        return found

    # A call goes straight to `self._calls`: `_slow_call` at first, then, after a plain
    # call, a function made for that call's signature (`arguments.fast_path`), which runs
    # the emitted code for arguments of the same types, dtypes and layouts (any sizes) and
    # hands any other call to `_slow_call`. (A method `__call__` would cost a bound method and one
    # more Python frame a call: as much as the emitted code of a small gradient.)
    __call__ = _CallSlot(operator.attrgetter("_calls"), doc="Call the derivative.")

    def _slow_call(self, *args, **kwargs):
        return self._full_call(args, kwargs)

    def __copy__(self):
        """A copy with the same state that calls through its own methods (its fast path,
        made by its own calls, updates it, not the original)."""
        copied = object.__new__(type(self))
        copied.__dict__.update(self.__dict__)
        copied._calls = copied._slow_call
        copied._fast_paths = {}
        return copied

    def _fast_path(self, args, kwargs, emitted):
        """The fast path for calls like this plain one: made once per compiled code and
        signature, so calls that alternate between a few (a float and a float64 scalar,
        a batch with and without a unit axis, keywords or not) do not make one each
        time. Calls passing lists, tuples, dicts or objects have their results
        restructured."""
        keywords = dict(sorted(kwargs.items()))
        summary = source_module.summary
        key = (emitted, arguments.accepted(args, summary), tuple(keywords),
               arguments.accepted(keywords.values(), summary))
        fast = self._fast_paths.get(key)
        if fast is None:
            if len(self._fast_paths) >= 16:
                self._fast_paths.clear()
            structured = any(type(value) in arguments.CONTAINERS or source_module.object_like(
                value) for value in (*args, *kwargs.values()))
            fast = self._fast_paths[key] = arguments.fast_path(
                args, emitted, self._slow_call, keywords,
                self._restructured if structured else None, summary, emit.note_place)
        return fast

    def _plain(self, args, kwargs) -> bool:
        """Are the arguments ones the emitted function takes as they are (`plain`)?"""
        named = [len(args) + i for i, name in enumerate(kwargs) if name in self._compiled.wrt]
        return arguments.plain((*args, *kwargs.values()), self._wrt_positions().union(named),
                               source_module.object_like)

    def _full_call(self, args, kwargs):
        self._has_objects = self._has_objects or any(
            source_module.object_like(a) for a in (*args, *kwargs.values()))
        specimens = self._specimens(args, kwargs)
        # (this call's code, kept here: another thread's call may compile other code)
        compiled, emitted = self._compile(specimens, *self._layouts(args, kwargs))
        self._last_specimens = specimens
        self._check_wrt(args, kwargs)
        try:
            result = emitted(*args, **kwargs)
            # (each positional argument bound to its parameter, keywords naming parameters:
            # the others take their defaults, the same at every call)
            if (len(args) <= emitted.__code__.co_argcount
                    and all(name in self._positions or name in compiled.extra_parameters
                            for name in kwargs)
                    and arguments.can_take(kwargs) and self._plain(args, kwargs)):
                self._calls = self._fast_path(args, kwargs, emitted)
            return self._restructured(result, args, kwargs)
        except rt.SharedMemoryError as exc:
            raise errors.SharedMemoryError(
                exc.message, errors.Location(exc.filename, exc.line, exc.col),
                "write the update as an assignment that makes a new array (`a = a + b` "
                "for `a += b`), or copy the array first",
            ).with_traceback(None) from None
        except rt.NonScalarOutputError as exc:
            shape = getattr(exc, "shape", None)
            if (shape is not None and int(np.prod(shape)) == 1 and not self._has_aux
                    and self._kind in ("grad", "value_and_grad")):
                return self._one_element(args, kwargs, shape)
            raise errors.NonScalarOutputError(
                str(exc).split(": ", 1)[-1], compiled.output_location,
                f"use srcgrad.vjp({compiled.source.name}) with a cotangent of the "
                "output's shape, or reduce the output (for example with .sum()) first",
            ).with_traceback(None) from None
        except Exception as exc:
            emit.note_place(exc)
            raise

    def _restructured(self, result, args, kwargs):
        """The emitted function's result for these arguments, with the gradients of lists,
        tuples, dicts and objects given their structure."""
        if self._kind != "jvp" and self._containers(args, kwargs):
            result = self._as_gradients(result, args, kwargs)
        inner = self._function
        if (self._kind == "jvp" and isinstance(inner, Derivative) and inner._kind != "jvp"
                and inner._containers(args, kwargs)):
            # jvp of a gradient: both halves have the shape of that gradient
            result = tuple(inner._as_gradients(part, args, kwargs) for part in result)
        return result

    def _one_element(self, args, kwargs, shape):
        """The gradient of a one-element output (shape (1,), (1, 1), ...), as PyTorch's
        `backward()` gives it: the vector-Jacobian product with a cotangent of one."""
        pullback = self._pullback
        if pullback is None:
            pullback = self._pullback = Derivative(self._function, "vjp", self._wrt)
            pullback._has_objects = self._has_objects  # (its name needs their types)
            pullback._compile(pullback._specimens(args, kwargs))
        (cotangent,) = pullback.extra_parameters  # (by name: keyword-only after defaults)
        gradient = pullback(*args, **kwargs, **{cotangent: np.ones(shape)})
        if self._kind == "value_and_grad":  # (the value a copy: the function may return x)
            return rt.containers.own(rt.NUMPY, self._function(*args, **kwargs)), gradient
        return gradient

    def _wrt_positions(self) -> frozenset:
        return frozenset(self._positions[name] for name in self._compiled.wrt)

    def _arguments(self, args, kwargs):
        for name in self._compiled.wrt:
            index = self._positions[name]
            yield args[index] if index < len(args) else kwargs.get(name)

    def _containers(self, args, kwargs) -> bool:
        """Does any wrt argument hold its arrays in a structure (a list, tuple, dict or an
        object), so that its gradient must be given the same structure?"""
        return any(isinstance(a, (list, tuple, dict)) or (
            hasattr(a, "__dict__") and not hasattr(a, "shape"))
            for a in self._arguments(args, kwargs))

    def _as_gradients(self, result, args, kwargs):
        """Gradients of list/tuple/dict arguments in the arguments' own structure."""
        value = None
        if self._kind == "value_and_grad":
            value, result = result
        grads = result if self._compiled.as_tuple else (result,)
        converted = tuple(rt.NUMPY.as_gradient(g, a)
                          for g, a in zip(grads, self._arguments(args, kwargs), strict=True))
        converted = converted if self._compiled.as_tuple else converted[0]
        return (value, converted) if self._kind == "value_and_grad" else converted

    def __repr__(self) -> str:
        function = getattr(self._function, "__qualname__", self._function)
        return f"<srcgrad {self._kind} of {function}>"

    def _repr_markdown_(self) -> str:
        return f"```python\n{self.source}```\n"

    def _repr_html_(self) -> str:
        import html

        return f'<pre><code class="language-python">{html.escape(self.source)}</code></pre>'


def _transform(kind: str):
    def transform(function=None, wrt=0, **options):
        if function is None:
            return lambda f: Derivative(f, kind, wrt, **options)
        return Derivative(function, kind, wrt, **options)

    transform.__name__ = kind
    return transform


def grad(function=None, wrt=0):
    """The gradient of a scalar-valued function.

    Usable as `grad(f)`, `@grad` and `@grad(wrt=...)`. `wrt` is a parameter position or
    name, or a tuple of them; one gives one gradient, a tuple gives a tuple.
    """
    return _transform("grad")(function, wrt)


def value_and_grad(function=None, wrt=0, has_aux: bool = False):
    """Like `grad`, but returns `(value, gradient)`. With `has_aux=True` the function returns
    `(value, aux)` and the result is `((value, aux), gradient)`."""
    return _transform("value_and_grad")(function, wrt, has_aux=has_aux)


def vjp(function=None, wrt=0):
    """The vector-Jacobian product: a function of the original arguments plus a cotangent of
    the output's shape, returning the pulled-back gradients (PyTorch's `y.backward(v)`)."""
    return _transform("vjp")(function, wrt)


def jvp(function=None, wrt=0):
    """Forward mode: a function of the original arguments plus one tangent per `wrt`
    parameter (named `d<param>`), returning `(output, output_tangent)`."""
    return _transform("jvp")(function, wrt)


def show(derivative) -> None:
    """Print a derivative's emitted source: highlighted (with rich, where it is installed)
    on a terminal, plain otherwise."""
    if not isinstance(derivative, Derivative):
        raise TypeError("show expects a function returned by srcgrad.grad, value_and_grad, "
                        "vjp or jvp")
    try:
        terminal = sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        terminal = False
    _print_source(derivative.source, highlight=terminal)


_PROVENANCE = ("# grad of line ", "# tangent of line ")


def _print_source(text: str, highlight: bool) -> None:
    """Print emitted source to stdout; with `highlight`, colour it with rich (an optional
    import: plain text without it) and make the comments naming source lines stand out."""
    if highlight:
        try:
            from rich.console import Console
            from rich.syntax import Syntax
        except ImportError:
            highlight = False
    if not highlight:
        print(text, end="")
        return
    syntax = Syntax(text.rstrip("\n"), "python", theme="ansi_dark", background_color="default")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(_PROVENANCE):
            syntax.stylize_range("bold cyan not dim", (number, 0), (number, len(line)))
    Console(file=sys.stdout, force_terminal=True).print(syntax, soft_wrap=True)
