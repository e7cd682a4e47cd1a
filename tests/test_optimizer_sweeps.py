"""The optimizer's driver and the tree helpers its passes share (codegen/optimize.py,
codegen/syntax.py): passes run until none changes the code, each one's report of a change
is honest, dead code goes in one analysis, and `walk` / `rewrite` visit what `ast.walk` /
`ast.NodeTransformer` visit."""

import ast
import dataclasses
import inspect
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import srcgrad
from srcgrad.codegen import optimize
from srcgrad.codegen.analysis import liveness
from srcgrad.codegen.syntax import links, rewrite, walk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads  # noqa: E402


def _copy(function):
    return types.FunctionType(function.__code__, function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)


def _fresh_derivative(case):
    """srcgrad's derivative of a new copy of the case's primal (compiled anew)."""
    workload = dataclasses.replace(case.workload, primal=_copy(case.workload.primal))
    return dataclasses.replace(case, workload=workload).srcgrad_derivative()


@pytest.mark.parametrize("case", list(workloads.cases(test=True)), ids=lambda c: c.name)
def test_every_pass_reports_its_changes_on_the_workloads(case, monkeypatch):
    """With the check on, a pass that changed the code but said it did not raises."""
    monkeypatch.setattr(optimize, "CHECK_CHANGES", True)
    checked = _fresh_derivative(case)
    result = checked(*case.grad_args)
    monkeypatch.setattr(optimize, "CHECK_CHANGES", False)
    plain = _fresh_derivative(case)
    again = plain(*case.grad_args)
    assert plain.source == checked.source
    for a, b in zip(*(r if isinstance(r, tuple) else (r,) for r in (result, again)),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def _function(text: str) -> ast.FunctionDef:
    return ast.parse(inspect.cleandoc(text)).body[0]


@pytest.fixture
def checked(monkeypatch):
    """`y = x; return y`, with every pass's report checked."""
    monkeypatch.setattr(optimize, "CHECK_CHANGES", True)
    return _function("""
        def f(x):
            y = x
            return y
    """)


def test_the_check_catches_a_pass_that_hides_a_change(checked):
    function = checked

    def sneaky():
        function.body[0].value = ast.Name("z", ast.Load())
        return False

    with pytest.raises(AssertionError, match="sneaky changed the code"):
        optimize._until_nothing_changes([sneaky], function)


def test_the_check_catches_a_pass_listed_as_idempotent_that_is_not(checked):
    function = checked
    left = [2]

    def halfway():  # one change per run, and it changes twice
        if left[0]:
            left[0] -= 1
            function.body[0].value = ast.Name(f"x{left[0]}", ast.Load())
            return True
        return False

    with pytest.raises(AssertionError, match="halfway is listed as idempotent"):
        optimize._until_nothing_changes([halfway], function, idempotent={halfway})


def test_passes_run_until_none_changes_and_settled_ones_wait():
    """A pass that found nothing runs again only after another changed the code."""
    function = _function("""
        def f(x):
            return x
    """)
    calls = []
    budget = {"a": 2, "b": 1, "c": 0}  # how many more times each pass changes the code

    def make(name):
        def one():
            calls.append(name)
            if budget[name]:
                budget[name] -= 1
                return True
            return False
        return one

    optimize._until_nothing_changes([make("a"), make("b"), make("c")], function)
    # sweep 1: a and b change, c finds nothing; sweep 2: a changes, b finds nothing, c
    # runs again (the code changed after it) and finds nothing; sweep 3: a finds
    # nothing, b and c already found nothing in this very code: the driver stops.
    assert calls == ["a", "b", "c", "a", "b", "c", "a"]
    assert budget == {"a": 0, "b": 0, "c": 0}


@pytest.mark.parametrize("idempotent", [False, True])
def test_a_pass_listed_twice_or_idempotent_does_not_run_for_nothing(idempotent, monkeypatch):
    monkeypatch.setattr(optimize, "CHECK_CHANGES", False)  # (the check would run a again)
    function = _function("""
        def f(x):
            return x
    """)
    calls = []
    changes = iter([True])

    def a():
        calls.append("a")
        return next(changes, False)

    def b():
        calls.append("b")
        return False

    optimize._until_nothing_changes([a, b, a], function,
                                    idempotent={a} if idempotent else frozenset())
    # a changes the code, b finds nothing; the second a runs only if a may have left
    # work for itself; then every pass has found nothing in this code
    assert calls == (["a", "b"] if idempotent else ["a", "b", "a"])


def test_a_chain_of_dead_temporaries_goes_in_one_analysis(monkeypatch):
    function = _function("""
        def f(x):
            a = x * 2.0
            b = a + 1.0
            c = b * b
            d = c - a
            return x
    """)
    analyses = []
    original = liveness.analyze

    def counted(*args, **kwargs):
        analyses.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(liveness, "analyze", counted)
    assert optimize._eliminate(function)
    assert ast.unparse(function) == "def f(x):\n    return x"
    assert len(analyses) == 1  # d, then c, b and a: found dead together
    assert not optimize._eliminate(function)


def dead_loop_state(x):
    unused = 0.0
    for _ in range(3):
        unused = unused + np.sin(x)  # read only by itself: dead
    return np.sum(x * x)


def test_a_value_that_only_feeds_itself_in_a_loop_is_dead():
    gradient = srcgrad.grad(dead_loop_state)
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(gradient(x), 2.0 * x, rtol=1e-15)
    assert "sin" not in gradient.source and "unused" not in gradient.source


def _sample_trees():
    """Syntax trees of real code: modules of the project and of the standard library."""
    import json.decoder
    import textwrap

    from srcgrad.codegen import reverse

    for module in (optimize, reverse, textwrap, json.decoder):
        yield ast.parse(inspect.getsource(module))


_SKIPPED = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.alias)


def test_walk_visits_what_ast_walk_does_but_contexts_and_operators():
    for tree in _sample_trees():
        expected = [n for n in ast.walk(tree) if not isinstance(n, _SKIPPED)]
        assert list(walk(tree)) == expected


def test_clone_copies_every_node_and_list_but_contexts_and_operators():
    from srcgrad.codegen.syntax import clone

    stateless = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)
    for tree in _sample_trees():
        copy = clone(tree)
        assert ast.dump(copy, include_attributes=True) == ast.dump(tree,
                                                                   include_attributes=True)
        mutable = {id(n) for n in ast.walk(tree) if not isinstance(n, stateless)}
        mutable |= {id(v) for n in ast.walk(tree) for v in vars(n).values()
                    if isinstance(v, list)}
        assert not [n for n in ast.walk(copy) if id(n) in mutable]
        assert not [v for n in ast.walk(copy) for v in vars(n).values() if id(v) in mutable]


def test_rewrite_does_what_a_node_transformer_does():
    class Rename(ast.NodeTransformer):
        def visit_Name(self, node):
            return ast.Name("renamed", node.ctx) if node.id.startswith("s") else node

        def visit_Constant(self, node):
            return ast.Constant(0) if isinstance(node.value, int) else node

    def change(node):
        if isinstance(node, ast.Name) and node.id.startswith("s"):
            return ast.Name("renamed", node.ctx)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return ast.Constant(0)
        return node

    for tree in _sample_trees():
        text = ast.unparse(tree)
        expected = ast.dump(Rename().visit(ast.parse(text)))
        assert ast.dump(rewrite(ast.parse(text), change)) == expected


def test_links_give_every_parent_and_every_read():
    tree = ast.parse("y = f(x, x + 1)\nz = y * x")
    parents, reads = links(tree)
    assert {name: len(nodes) for name, nodes in reads.items()} == {"f": 1, "x": 3, "y": 1}
    for node in walk(tree):
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, _SKIPPED):
                assert parents[id(child)] is node


def test_propagation_drops_a_name_assigned_to_itself_and_keeps_its_facts():
    from srcgrad.codegen import folding

    function = _function("""
        def f(x):
            b = x
            b = b
            c = b * 2.0
            return c
    """)
    tally = folding.Tally()
    function.body = folding.propagate(function.body, frozenset({"x"}), tally)
    assert ast.unparse(function) == "def f(x):\n    b = x\n    c = x * 2.0\n    return c"
    assert tally.count == 2
    user = _function("""
        def f(x):
            b = b
            return b
    """)
    user.body = folding.propagate(user.body, frozenset({"x", "b"}), folding.Tally())
    assert "b = b" in ast.unparse(user)  # the user's own statements stay as written
