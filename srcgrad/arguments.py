"""What the arguments of a call to a derivative are, as far as choosing its compiled code
goes: the layout of each array (rank and unit axes), which are float64, whether they are
plain enough to skip the argument checks next time, and integer-like values a derivative
cannot be taken with respect to."""

from __future__ import annotations

import re

import numpy as np

from srcgrad import runtime as rt

__all__ = ["layout", "fast_path", "can_take", "accepted", "MISS", "CONTAINERS", "plain",
           "is_integer_like", "describe"]


def layout(value):
    """`(None, 1)` for an array of shape (n, 1) with n != 1, `()` for a float; None for
    values of other kinds (0-d arrays included: only a Python number has the scalar
    layout, which may leave out the choice of backend)."""
    kind = type(value)
    if (kind is np.ndarray or kind is rt.StrictArray) and value.ndim:
        return tuple(1 if n == 1 else None for n in value.shape)
    if kind is float or kind is np.float64:
        return ()
    return None


def laid_out_entries(mapping: dict) -> list:
    """The entries (key, value) of a dict that code is specialized to: those with a
    `layout`, under keys that are strings. A dict of more entries than a model's
    parameters stays generic."""
    if len(mapping) > _ENTRIES:
        return []
    return [(key, value) for key, value in mapping.items()
            if type(key) is str and layout(value) is not None]


_ENTRIES = 64


def is_float64(value) -> bool:
    """A Python float or a float64 array (what may be updated in place)."""
    return type(value) is float or getattr(value, "dtype", None) == np.float64


MISS = object()  # a positional argument the call did not pass


def fast_path(args, function, slow, keywords=None, finish=None, summary=None, noted=None):
    """The function a derivative is called through after a plain call with `args` (and
    `keywords`, by name): it calls `function` with arguments of the types, dtypes and
    layouts that these have (objects: of the same `summary(object)`, what their code was
    compiled for), passed the same way, and returns its result (through
    `finish(result, args, keywords)` if given); it hands any other call to `slow`. It is
    written for the one signature, with a parameter per argument (no tuple to unpack)
    and no loop. It compares each array's shape with the one it saw last (one tuple
    comparison: type, shape and dtype take about a tenth of a microsecond an array); for
    other shapes it checks the layouts (rank and unit axes, what the compiled code was
    made for) and keeps the new shapes, so that calls whose sizes change (a last, smaller
    batch; training and test batches in turn) stay on it. The errors the full path
    locates (`rt.SharedMemoryError`, `rt.NonScalarOutputError`) go to `slow` too, which
    runs the call again to report them; any other error raised goes to `noted(error)`
    first (which says where), then on."""
    keywords = keywords or {}
    names = [f"a{i}" for i in range(len(args))] + list(keywords)
    scope = {"ndarray": np.ndarray, "function": function, "slow": slow, "MISS": MISS,
             "finish": finish, "summary": summary, "noted": noted or (lambda error: None),
             "located": (rt.SharedMemoryError, rt.NonScalarOutputError)}
    same, alike, arrays = [], [], []

    def array(read: str, value, i) -> None:  # `read` reads an array like `value`
        scope[f"shape{i}"], scope[f"dtype{i}"] = value.shape, value.dtype
        held = read if read.isidentifier() else f"v{i}"  # (an entry: read once, kept)
        first = read if held == read else f"({held} := {read})"
        # (a dtype is that same object but for arrays made another way, unpickled)
        is_array = (f"type({first}) is ndarray and ({held}.dtype is dtype{i} "
                    f"or {held}.dtype == dtype{i})")
        same.append(f"{is_array} and {held}.shape == shape{i}")
        axes = "".join(f" and s{i}[{k}] {'==' if n == 1 else '!='} 1"
                       for k, n in enumerate(value.shape))
        alike.append(f"{is_array} and len(s{i} := {held}.shape) == {value.ndim}{axes}")
        arrays.append(i)

    for i, (name, value) in enumerate(zip(names, (*args, *keywords.values()))):
        kind = type(value)
        if kind is np.ndarray:
            array(name, value, i)
            continue
        scope[f"type{i}"] = kind
        same.append(f"type({name}) is type{i}")
        if kind not in _NEUTRAL and kind not in CONTAINERS:  # an object
            scope[f"summary{i}"] = summary(value)
            same[-1] += f" and summary({name}) == summary{i}"
        alike.append(same[-1])
        if kind is dict:  # the entries its code is specialized to
            for j, (key, entry) in enumerate(laid_out_entries(value)):
                if type(entry) is np.ndarray:
                    array(f"{name}.get({key!r})", entry, f"{i}_{j}")
                else:
                    scope[f"type{i}_{j}"] = type(entry)
                    same.append(f"type({name}.get({key!r})) is type{i}_{j}")
                    alike.append(same[-1])
    positional, named = names[:len(args)], names[len(args):]
    parameters = ", ".join([*(f"{name}=MISS" for name in positional), *(["/"] * bool(args)),
                            "*more", *(f"{name}=MISS" for name in named), "**keywords"])
    passed = ", ".join([*positional, *(f"{name}={name}" for name in named)])
    handed = ", ".join(filter(None, [
        f"*[a for a in ({', '.join(positional)},) if a is not MISS]" * bool(positional),
        "*more",
        ("**{k: v for k, v in (" + "".join(f"({name!r}, {name}), " for name in named)
         + ") if v is not MISS}") * bool(named),
        "**keywords"]))
    shapes = ", ".join(f"shape{i}" for i in arrays)
    lines = [f"def call({parameters}):"]
    if arrays:
        lines.append(f"    global {shapes}")
    lines.append("    if not more and not keywords:")
    if same:
        lines += [f"        if not ({' and '.join(same)}):"]
        if arrays:
            lines += [f"            if not ({' and '.join(alike)}):",
                      f"                return slow({handed})",
                      f"            {shapes} = {', '.join(f's{i}' for i in arrays)}"]
        else:
            lines.append(f"            return slow({handed})")
    result = f"function({passed})"
    if finish is not None:
        result = (f"finish({result}, ({''.join(f'{name}, ' for name in positional)}), "
                  f"{{{', '.join(f'{name!r}: {name}' for name in named)}}})")
    lines += ["        try:",
              f"            return {result}",
              "        except located:",
              "            pass",
              "        except Exception as error:",
              "            noted(error)",
              "            raise",
              f"    return slow({handed})"]
    text = "\n".join(lines) + "\n"
    exec(compile(text, "<srcgrad call fast path>", "exec"), scope)  # noqa: S102 - text above
    return scope["call"]


# Names a fast path uses for itself, which a keyword it takes cannot have.
_RESERVED = re.compile(r"more|keywords|ndarray|function|slow|finish|summary|MISS|located|type"
                       r"|noted|error|Exception"
                       r"|len|(?:a|s|v|shape|dtype|type|summary)[0-9]+(?:_[0-9]+)?")


def can_take(keywords) -> bool:
    """Can a fast path take these keywords (none has a name it uses itself)?"""
    return not any(_RESERVED.fullmatch(name) for name in keywords)


def accepted(args, summary) -> tuple:
    """What the fast path made for `args` takes: each argument's type, an array's dtype
    and unit axes (its rank among them), the same of a dict's laid-out entries, and an
    object's summary."""
    return tuple((type(value), value.dtype, tuple(n == 1 for n in value.shape))
                 if type(value) is np.ndarray
                 else (dict, *_accepted_entries(value, summary))
                 if type(value) is dict else type(value)
                 if type(value) in _NEUTRAL or type(value) in CONTAINERS
                 else (type(value), summary(value)) for value in args)


def _accepted_entries(mapping: dict, summary) -> tuple:
    """The keys of a dict's laid-out entries and what `accepted` says of them."""
    entries = laid_out_entries(mapping)
    return accepted([value for _, value in entries], summary), tuple(k for k, _ in entries)


_NEUTRAL = frozenset({float, int, bool, str, type(None), np.float64, np.float32, np.int64,
                      np.int32, np.bool_})
CONTAINERS = frozenset({list, tuple, dict})


def plain(args, wrt_positions, is_object) -> bool:
    """Arguments the emitted function takes as they are, or whose gradients need only
    restructuring: floats and float arrays where a derivative is taken, those or integers,
    strings and None elsewhere, and lists, tuples, dicts and objects (`is_object(value)`)
    anywhere (not integer wrt arguments)."""
    for i, value in enumerate(args):
        kind = type(value)
        if kind is np.ndarray:
            if i in wrt_positions and value.dtype.kind not in "fc":
                return False
        elif kind in CONTAINERS or (kind not in _NEUTRAL and is_object(value)):
            continue
        elif kind not in _NEUTRAL or (i in wrt_positions and kind is not float
                                      and kind is not np.float64 and kind is not np.float32):
            return False
    return True


def is_integer_like(value) -> bool:
    if isinstance(value, (bool, int, np.bool_, np.integer)):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and getattr(dtype, "kind", "f") in "biu"


def describe(value) -> str:
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not isinstance(value, (np.generic,)):
        return f"an array of dtype {dtype}"
    return f"{type(value).__name__} {value!r}"
