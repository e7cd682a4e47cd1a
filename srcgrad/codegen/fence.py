"""The supported subset: every node type is either allowed or rejected with a located error.

`check(source)` walks the whole function once. Allowed node types are listed in `_ALLOWED`;
every other type is rejected with the message and hint from `_REJECTED` (or a generic one),
so nothing outside the subset reaches the later passes.
"""

from __future__ import annotations

import ast

from srcgrad.codegen.source import Source
from srcgrad.errors import UnsupportedSyntaxError
from srcgrad.codegen.syntax import walk

__all__ = ["check"]

_CONTROL_FLOW_HINT = (
    "control flow in differentiated code is not supported yet; for elementwise choices "
    "use np.where(cond, a, b), otherwise move the {what} outside the differentiated function"
)

_ALLOWED = (
    ast.FunctionDef,
    ast.arguments,
    ast.arg,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Expr,
    ast.Return,
    ast.Pass,
    ast.If,
    ast.For,
    ast.While,
    ast.Break,
    ast.Continue,
    ast.IfExp,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.Call,
    ast.keyword,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Name,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Dict,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.expr_context,
    # Parts of other nodes (no position of their own): the node holding them is judged.
    ast.comprehension,
    ast.withitem,
    ast.boolop,
    ast.excepthandler,
    ast.alias,
    ast.match_case,
    ast.type_ignore,
)

# node type -> (what, hint)
_REJECTED: dict[type, tuple[str, str]] = {
    ast.Try: ("`try` statements", "move error handling outside the differentiated function"),
    ast.Raise: ("`raise` statements", "validate inputs outside the differentiated function"),
    ast.Assert: ("`assert` statements", "check inputs outside the differentiated function"),
    ast.With: ("`with` blocks", "move the `with` block outside the differentiated function"),
    ast.Delete: ("`del` statements", "remove the `del`; names go out of scope on return"),
    ast.Global: ("`global` declarations", "pass the value in as an argument instead"),
    ast.Nonlocal: ("`nonlocal` declarations", "pass the value in as an argument instead"),
    ast.Import: ("imports inside the function", "import at module level"),
    ast.ImportFrom: ("imports inside the function", "import at module level"),
    ast.FunctionDef: ("function definitions inside a branch or loop",
                      "define the helper at the top of the function body or at module level"),
    ast.AsyncFunctionDef: ("async functions", "differentiate a plain def"),
    ast.ClassDef: ("class definitions", "define classes at module level"),
    ast.Lambda: ("lambdas", "write the lambda's body inline"),
    ast.ListComp: ("list comprehensions", "build the array with np.stack or vectorised code"),
    ast.SetComp: ("set comprehensions", "use arrays instead of sets"),
    ast.DictComp: ("dict comprehensions", "pass arrays instead of dicts"),
    ast.GeneratorExp: ("generator expressions", "use vectorised NumPy code"),
    ast.Set: ("set literals", "use arrays instead of sets"),
    ast.Starred: ("starred expressions (`*args`)", "pass the arguments one by one"),
    ast.NamedExpr: ("assignment expressions (`:=`)", "assign in a separate statement"),
    ast.JoinedStr: ("f-strings", "strings play no part in a derivative; build them outside"),
    ast.Yield: ("generators (`yield`)", "return the value instead"),
    ast.YieldFrom: ("generators (`yield from`)", "return the value instead"),
    ast.Await: ("`await`", "differentiate a plain def"),
}


def _reject(source: Source, node: ast.AST, what: str, hint: str):
    raise UnsupportedSyntaxError(f"{what} cannot be differentiated", source.locate(node), hint)


def _check_signature(source: Source, args: ast.arguments) -> None:
    if args.vararg is not None:
        _reject(source, args.vararg, "variadic parameters (`*args`)", "name each parameter")
    if args.kwarg is not None:
        _reject(source, args.kwarg, "variadic keyword parameters (`**kwargs`)",
                "name each parameter")


def _is_append(stmt: ast.Expr) -> bool:
    """`items.append(value)`: the one mutating method call supported (lists of arrays)."""
    call = stmt.value
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append" and isinstance(call.func.value, ast.Name)
            and len(call.args) == 1 and not call.keywords)


def _is_bare_pop(stmt: ast.Expr) -> bool:
    """`items.pop()` as a statement (emitted code undoing an append)."""
    call = stmt.value
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "pop" and isinstance(call.func.value, ast.Name)
            and not call.args and not call.keywords)


def _check_statement(source: Source, stmt: ast.stmt) -> None:
    if isinstance(stmt, ast.Expr) and (_is_append(stmt) or _is_bare_pop(stmt)):
        return
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(
            stmt.value.func, ast.Attribute) and stmt.value.func.attr.startswith("require_"):
        return  # the checks emitted code makes (xp.require_scalar, ...)
    if isinstance(stmt, ast.Expr) and not isinstance(stmt.value, ast.Constant):
        _reject(source, stmt, "expression statements",
                "a derivative only depends on assigned values; assign the result to a "
                "name or remove the statement")
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            if isinstance(target, ast.Subscript):
                if not isinstance(target.value, ast.Name) or len(targets) > 1:
                    _reject(source, target, "this form of slot assignment",
                            "assign to a slot of a named array: `y[i] = v`")
                continue
            elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            for element in elements:
                if isinstance(element, ast.Subscript):
                    _reject(source, element, "slot assignments inside tuple unpacking",
                            "assign each slot in its own statement")
                elif not isinstance(element, (ast.Name, ast.Tuple, ast.List)):
                    _reject(source, element, f"assignments to {type(element).__name__}",
                            "assign to plain names")


def _check_body(source: Source, body: list[ast.stmt]) -> None:
    for index, stmt in enumerate(body):
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            _check_body_nested(source, stmt)
        if isinstance(stmt, ast.Return) and index != len(body) - 1:
            _reject(source, body[index + 1], "statements after `return`",
                    "remove the unreachable code")
        _check_statement(source, stmt)
    returns = [n for n in walk(source.tree) if isinstance(n, ast.Return)]
    if not returns or all(r.value is None for r in returns):
        _reject(source, body[-1] if body else source.tree, "a function without a returned value",
                "end the function with `return <value>`")
    for node in returns:
        if node.value is None:
            _reject(source, node, "a bare `return` in a differentiated function",
                    "return the value")


def _check_body_nested(source: Source, stmt: ast.stmt) -> None:
    if isinstance(stmt, ast.For):
        target = stmt.target
        names = target.elts if isinstance(target, ast.Tuple) else [target]
        for name in names:
            if not isinstance(name, (ast.Name, ast.Tuple)):
                _reject(source, name, "loop targets other than names",
                        "loop over names and assign inside the body")
    for part in (stmt.body, stmt.orelse):
        for index, inner in enumerate(part):
            if isinstance(inner, (ast.If, ast.For, ast.While)):
                _check_body_nested(source, inner)
            if isinstance(inner, (ast.Return, ast.Break, ast.Continue)) and index != len(part) - 1:
                _reject(source, part[index + 1], f"statements after `{type(inner).__name__.lower()}`",
                        "remove the unreachable code")
            _check_statement(source, inner)


def _is_no_grad(source: Source, node: ast.With) -> bool:
    """`with srcgrad.no_grad():` (no `as`): supported."""
    from srcgrad import control

    if len(node.items) != 1 or node.items[0].optional_vars is not None:
        return False
    expr = node.items[0].context_expr
    if not isinstance(expr, ast.Call) or expr.args or expr.keywords:
        return False
    return source.resolver.resolve(expr.func, frozenset()) is control.no_grad


def check(source: Source) -> None:
    """Raise UnsupportedSyntaxError at the first construct outside the supported subset."""
    tree = source.tree
    _check_signature(source, tree.args)
    nodes = sorted(
        walk(tree), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))
    )
    starred_arguments = {id(a) for n in nodes if isinstance(n, ast.Call) for a in n.args
                         if isinstance(a, ast.Starred)}
    for node in nodes:
        if isinstance(node, ast.With) and _is_no_grad(source, node):
            continue
        if isinstance(node, ast.Starred) and id(node) in starred_arguments:
            continue  # f(*args): normalization checks the callee and the sequence
        if node is not tree and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _reject(source, node, *_REJECTED[type(node)])
        if isinstance(node, _ALLOWED):
            continue
        what, hint = _REJECTED.get(
            type(node), (f"{type(node).__name__} nodes", "rewrite it with supported constructs")
        )
        _reject(source, node, what, hint)
    _check_body(source, tree.body)
