"""Located diagnostics.

Every problem srcgrad finds in a user's program is one small class below. Each renders as

    path/to/model.py:12:8: error: <what is wrong>
        y = np.sort(x)
            ^^^^^^^^^^
    help: <what to do about it>

so that editors and terminals can jump to the spot, like a compiler's message.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass

__all__ = [
    "Location",
    "SrcgradError",
    "UnsupportedSyntaxError",
    "UnknownCalleeError",
    "NonDifferentiableError",
    "SourceUnavailableError",
    "UnknownWrtError",
    "NonFloatWrtError",
    "NonScalarOutputError",
    "RuleError",
    "SharedMemoryError",
]


@dataclass(frozen=True)
class Location:
    """A span in a user's file: 1-based line, 0-based column (as in `ast`)."""

    filename: str
    line: int
    col: int
    end_col: int | None = None
    source_line: str | None = None

    def text(self) -> str:
        if self.source_line is not None:
            return self.source_line
        return linecache.getline(self.filename, self.line).rstrip("\n")

    def render(self) -> str:
        """The source line with a caret under the span, indented by four spaces."""
        line = self.text()
        if not line:
            return ""
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        start = max(self.col - indent, 0)
        end = self.end_col - indent if self.end_col is not None else start + 1
        width = max(end - start, 1)
        return f"    {stripped}\n    {' ' * start}{'^' * width}"


class SrcgradError(Exception):
    """Base class: a problem in the user's program or call, with a location and a hint."""

    kind = "error"

    def __init__(self, message: str, location: Location | None = None, hint: str = ""):
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        parts = []
        if self.location is not None:
            where = f"{self.location.filename}:{self.location.line}:{self.location.col + 1}"
            parts.append(f"{where}: {self.kind}: {self.message}")
            shown = self.location.render()
            if shown:
                parts.append(shown)
        else:
            parts.append(f"{self.kind}: {self.message}")
        if self.hint:
            parts.append(f"help: {self.hint}")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()


class UnsupportedSyntaxError(SrcgradError):
    """A construct outside the differentiable subset."""


class UnknownCalleeError(SrcgradError):
    """A call on the differentiated path whose target srcgrad cannot read or has no rule for."""


class NonDifferentiableError(SrcgradError):
    """A non-differentiable operation whose result the gradient would have to flow through."""


class SourceUnavailableError(SrcgradError):
    """The function's source cannot be read (built-in, C extension, interactive prompt)."""


class UnknownWrtError(SrcgradError):
    """`wrt` names a parameter (or position) the function does not have."""


class NonFloatWrtError(SrcgradError):
    """An integer or boolean value was passed for a parameter being differentiated."""


class NonScalarOutputError(SrcgradError):
    """`grad` was used on a function whose output is not a scalar."""


class RuleError(SrcgradError):
    """A derivative rule template is malformed."""


class SharedMemoryError(SrcgradError, ValueError):
    """At run time: an in-place update would change an array another name shares."""
