"""Derivative rules for your own functions.

srcgrad differentiates Python it can read. For a function it cannot (compiled code, a
library call) or should not read, register a rule in the same template form as the
built-in rules::

    import srcgrad.extend as ext
    from srcgrad.extend import adjoint, d, tangent, xp

    def softclip(x, limit):            # srcgrad calls this as is in the primal
        return limit * np.tanh(x / limit)

    @ext.rule(softclip)
    def softclip_rule(y, x, limit):
        with adjoint:
            d[x] = d[y] * (1.0 - (y / limit) ** 2)
        with tangent:
            d[y] = d[x] * (1.0 - (y / limit) ** 2)

The template's first parameter is the result, the others the function's parameters (same
names and defaults). `d[x] = e` in `with adjoint:` adds e to x's adjoint; `d[y] = e` in
`with tangent:` defines y's tangent; a parameter with no `d[...]` gets no derivative.
Check a rule with `srcgrad.check_grad`. The module that registers a rule must be imported
before a derivative that uses it is compiled (and before a generated module runs).
"""

from __future__ import annotations

from srcgrad.errors import RuleError
from srcgrad.rules import registry
from srcgrad.rules.registry import Seq, adjoint, d, tangent, xp
from srcgrad.runtime import register_kernel

__all__ = ["rule", "adjoint", "tangent", "d", "xp", "Seq"]


def rule(function):
    """Register the decorated template as the derivative rule of `function`."""
    if not callable(function):
        raise TypeError(f"srcgrad.extend.rule expects the function the rule is for, "
                        f"got {function!r}")

    def register(template):
        kernel = f"user_{getattr(function, '__module__', 'm').replace('.', '_')}_" \
                 f"{function.__name__}"
        entry = registry.parse_template(template, function, kernel)
        if not entry.adjoint and not entry.tangent:
            raise RuleError(f"the rule for {function.__name__} has neither a `with adjoint:` "
                            "nor a `with tangent:` block", hint="add both blocks")
        missing = [mode for mode, block in (("adjoint", entry.adjoint),
                                            ("tangent", entry.tangent)) if not block]
        if missing:
            raise RuleError(f"the rule for {function.__name__} has no `with {missing[0]}:` "
                            "block", hint="give both: reverse and forward mode use the same "
                            "rule table")
        registry.RULES.pop(function, None)  # re-registering (a reloaded module) replaces it
        registry.KERNELS.pop(kernel, None)
        registry.register(entry)
        register_kernel(kernel, function)
        return template

    return register
