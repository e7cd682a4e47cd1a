"""Adjoint helpers for reductions, shape manipulation, joining, linear algebra and einsum.

Same contract as :mod:`srcgrad.runtime.adjoints`: each helper takes the backend ``xp``
first, uses only ``xp.<kernel>`` calls, and is listed in ``__all__``.
"""

from __future__ import annotations

__all__: list[str] = []
