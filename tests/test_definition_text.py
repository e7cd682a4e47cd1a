"""srcgrad reads a function's definition without tokenizing its file when the indentation
shows where the definition ends; it must give what `inspect.getsource` gives, whatever the
layout of the file."""

import ast
import functools
import inspect
import textwrap

import numpy as np
import pytest

import srcgrad
from srcgrad.codegen.source import _definition_text


def _decorate(function):
    @functools.wraps(function)
    def wrapper(*args):
        return function(*args)
    return wrapper


def plain(x):
    return np.sum(x * x)


@_decorate
def decorated(x):
    return np.sum(np.sin(x))


@functools.lru_cache(
    maxsize=None,
)
def decorated_on_lines(x):
    return x


def string_at_the_margin(x):
    note = """
a line at the left margin
"""
    return np.sum(x) + len(note)


def bracket_at_the_margin(
    x,
):
    return np.sum(x ** 3)


def continued(x):
    y = x * 2.0 + \
x
    return np.sum(y)


def with_comments(x):
    # a comment in the body
# a comment at the margin, inside
    y = x * 3.0

    return np.sum(y)  # trailing
# after the function


def one_line(x): return np.sum(x)


def nested(x):
    def inner(y):
        return y * 2.0
    return np.sum(inner(x))


class Model:
    def loss(self, x):
        return np.sum(x * x)


square = lambda x: np.sum(x * x)  # noqa: E731


FUNCTIONS = [plain, decorated, decorated_on_lines, string_at_the_margin,
             bracket_at_the_margin, continued, with_comments, one_line, nested, Model.loss,
             square]


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__qualname__)
def test_the_text_is_what_inspect_gives(function):
    ours, theirs = _definition_text(function), inspect.getsource(function)
    assert ast.dump(ast.parse(textwrap.dedent(ours))) == ast.dump(
        ast.parse(textwrap.dedent(theirs)))


@pytest.mark.parametrize("function", [string_at_the_margin, bracket_at_the_margin, continued,
                                      with_comments])
def test_functions_laid_out_unusually_differentiate(function):
    x = np.linspace(0.5, 1.5, 4)
    srcgrad.check_grad(function, x)
