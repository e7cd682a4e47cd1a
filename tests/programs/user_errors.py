"""Functions outside srcgrad's supported subset (and a few that used to be), read by
tests/test_errors.py.

Each offending line ends with a marker comment `# <- NAME`; the tests find the expected
line by searching for the marker, so adding code here does not break them.
"""

import functools

import numpy as np

SCALE = 2.0


def helper(t):
    return t * 3.0


def uses_lambda(x):
    double = lambda t: t * 2.0  # <- lambda  # noqa: E731
    return double(x)


def uses_listcomp(x):
    y = [t * 2.0 for t in x]  # <- listcomp
    return y


def uses_list_repetition(x):
    rows = [x * 2.0] * 3  # <- list_repetition
    return np.sum(np.stack(rows))


def uses_list_concatenation(x):
    rows = [x] + [x * 2.0]  # <- list_concatenation
    return np.sum(rows[0] * rows[1])


def uses_with(x):
    with np.errstate(all="ignore"):  # <- with
        y = x * 2.0
    return y


def uses_try(x):
    try:  # <- try
        y = x * 2.0
    except ValueError:
        y = x
    return y


def uses_assert(x):
    assert x > 0.0  # <- assert
    return x * 2.0


def uses_del(x):
    y = x * 2.0
    del y  # <- del
    return x


def uses_global(x):
    global SCALE  # <- global
    return x * SCALE


def uses_nested_def(x):
    if x > 0:
        def inner(t):  # <- nested_def
            return t * 2.0

    return x * 2.0


def uses_kwargs_call(x, options):
    y = np.maximum(x, 0.0, **options)  # <- kwargs_call
    return y


def uses_varargs(x, *rest):  # <- varargs
    return x * 2.0


def uses_after_return(x):
    return x * 2.0
    y = x  # <- after_return  # noqa: F841


def uses_expression_statement(x):
    print(x)  # <- expression_statement
    return x * 2.0


def uses_no_return(x):
    y = x * 2.0  # <- no_return  # noqa: F841


def uses_bare_return(x):
    y = x * 2.0  # noqa: F841
    return  # <- bare_return


# -- once rejected, differentiated now -------------------------------------------------

def uses_if(x):
    if x > 0:
        x = x * 2.0
    return x


def uses_for(x):
    y = x
    for _ in range(3):
        y = y * x
    return y


def uses_while(x):
    y = x
    while y < 10.0:
        y = y * 2.0
    return y


def uses_ifexp(x):
    y = x if x > 0.0 else -x
    return y


def uses_and(x):
    y = x > 0.0 and x < 1.0
    return x * y


def uses_or(x):
    y = x < 0.0 or x > 1.0
    return x * y


def uses_subscript_store(x):
    y = np.zeros(3)
    y[0] = x
    return y


def calls_user_function(x):
    y = helper(x)
    return y * 2.0


def uses_tuple_value(x):
    pair = (x, x * 2.0)
    return pair[0] * pair[1]


def uses_list_value(x):
    items = [x, x * 2.0]
    items.append(x * x)
    return items[1] + items[2]


# -- callees -------------------------------------------------------------------------

def sort_feeds_output(x):
    y = np.sort(x)  # <- sort_active
    return y * 2.0


def sort_not_on_path(x):
    ordered = np.sort(x)  # noqa: F841
    return x[0] * 3.0


def unknown_method(x):
    y = x.frobnicate()  # <- method
    return y


def undefined_name(x):
    return x * not_defined_anywhere  # <- undefined_name  # noqa: F821


def undefined_callee(x):
    y = no_such_function(x)  # <- undefined_callee  # noqa: F821
    return y


# -- fine in themselves ----------------------------------------------------------------

def two_params(x, y):  # <- two_params
    return x * y + y


def scaled(x, n):  # <- scaled
    return x * n


def doubled(x):
    return x * 2.0  # <- doubled_return


partial_of_scaled = functools.partial(scaled, n=2.0)
