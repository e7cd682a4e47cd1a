"""What the random-program tests share: compiling generated source where srcgrad can read
it, and two small helpers of the writers and checkers."""

from __future__ import annotations

import itertools
import linecache
import types

_SERIAL = itertools.count()


def generated_module(text: str, kind: str, **names) -> types.ModuleType:
    """`text` run as a module under a fresh file name `<random-{kind}-N>` registered in
    linecache (so srcgrad reads the source as it reads a file's), with `names` defined
    first."""
    filename = f"<random-{kind}-{next(_SERIAL)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    module = types.ModuleType(filename.strip("<>").replace("-", "_"))
    module.__file__ = filename
    module.__dict__.update(names)
    exec(compile(text, filename, "exec"), module.__dict__)  # noqa: S102 - generated text
    return module


def unparenthesized(text: str) -> str:
    """`text` without one pair of enclosing parentheses, when they enclose all of it."""
    if not (text.startswith("(") and text.endswith(")")):
        return text
    level = 0
    for position, char in enumerate(text):
        level += {"(": 1, ")": -1}.get(char, 0)
        if level == 0 and position < len(text) - 1:
            return text
    return text[1:-1]


def close(a: float, b: float, rtol: float, scale: float) -> bool:
    """|a - b| within `rtol` of |a| + |b| + `scale`."""
    return abs(a - b) <= rtol * (abs(a) + abs(b) + scale)
