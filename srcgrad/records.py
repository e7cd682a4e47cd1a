"""`record`: the dataclass decorator for the compiler's own classes.

It generates `__init__` only: their instances are compared, hashed and printed by
identity (nothing compares them by value). Python 3.11 compiles every generated method on
its own, so the full frozen dataclass (`__eq__`, `__hash__`, `__repr__`, `__setattr__`,
`__delattr__`) cost about 1 ms a class at import, 20 ms of the 48 ms that `import
srcgrad.api` took; that import is part of every first call in a fresh process.
"""

from __future__ import annotations

import dataclasses
import functools

__all__ = ["record", "field"]

record = functools.partial(dataclasses.dataclass, eq=False, repr=False)
field = dataclasses.field
