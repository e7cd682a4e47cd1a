"""User-style programs with control flow, checked end to end by tests/test_corpus.py.

Branches, conditional expressions, `and`/`or`, loops over ranges and sequences, `while`,
`break`/`continue`/`return` anywhere, loop `else` clauses; then the same constructs around
slot writes (`y[i] = v`) and calls to the user's own functions.

Every program is differentiated in reverse mode (finite differences, dot-product test, full
gradient), in forward mode along the same directions, and again on the strict stand-in
backend (see `rulespec.check_case`).

Finite differences only see the branch the inputs take, so each row draws its inputs where
that decision is stable: a range on one side of the threshold, a threshold far from the
data, or a decision made on a plain (non-differentiated) integer or flag argument. Rows that
exercise a particular path say which in their id.
"""

import numpy as np

from rulespec import Arg, Case

# -- if / elif / else ----------------------------------------------------------------------


def sign_branch(x):
    if x > 0:
        y = x * x
    else:
        y = -3.0 * x
    return y


def branch_on_sum(x):
    if x.sum() > 0:
        y = np.sin(x) * x
    else:
        y = np.exp(x)
    return y


def branch_all_positive(x):
    if np.all(x > 0):
        y = np.log(x)
    else:
        y = x ** 2
    return y.sum()


def elif_chain(x, mode):
    if mode == 0:
        y = x * 2.0
    elif mode == 1:
        y = np.sin(x)
    elif mode == 2:
        y = x ** 3
    else:
        y = np.tanh(x) * x
    return y


def assign_in_one_branch(x, flag):
    y = x
    if flag:
        y = np.exp(x)
    return y * x


def scale_set_in_one_branch(x):
    scale = 1.0
    if x.mean() > 0:
        scale = x * 3.0
    return x * scale


def nested_ifs(x, y):
    if x > 0:
        if y > 0:
            z = x * y
        else:
            z = x - y * y
    else:
        if y > x:
            z = np.sin(x) * y
        else:
            z = x ** 2 + y
    return z


def swap_if_larger(x, y):
    if x.sum() > y.sum():
        x, y = y, x
    return x * 2.0 + y ** 2


def shape_depends_on_flag(x, reduce):
    if reduce:
        y = x.sum()
    else:
        y = x
    return y * x


def and_or_conditions(x, lo, hi):
    if x.min() > lo and x.max() < hi:
        y = np.sqrt(x)
    elif x.min() > lo or x.max() > 10.0:
        y = x * 2.0
    else:
        y = -x
    return y


def chained_comparison(x):
    if 0.0 < x < 1.0:
        y = np.sqrt(x)
    elif 1.0 <= x < 3.0:
        y = x ** 2
    else:
        y = -x
    return y


def not_conditions(x, flag):
    if not flag:
        return x * 2.0
    y = np.exp(-x)
    if not x.sum() > 10.0:
        y = y * x
    return y


def early_return_in_branch(x):
    if x > 0:
        return np.sqrt(x)
    return -x * x


def returns_one_argument(x, y):
    # the argument the branch not taken returns gets zeros of its shape, not 0.0
    if np.sum(y) > 0:
        return np.sum(x * x)
    return np.sum(np.tanh(y))


def loop_may_not_run(w, x, steps):
    h = np.tanh(x)
    for _ in range(steps):
        h = np.tanh(h @ w)
    return np.sum(h)


# -- conditional expressions, `and` / `or` values -------------------------------------------


def ifexp_scalar(x):
    y = x * 2.0 if x > 1.0 else x ** 3
    return y


def ifexp_nested(x, k):
    return x * x if k == 0 else (np.sin(x) if k == 1 else np.cos(x) * x)


def ifexp_on_reduction(x):
    s = np.sin(x) if np.max(x) < 1.0 else np.cos(x)
    return s * x


def or_value(a, b):
    c = a or b
    return c * b


def and_value(a, b):
    c = a and b
    return c * a


def leaky_relu_by_elements(x):
    total = 0.0
    for v in x:
        total = total + (v if v > 0 else 0.1 * v)
    return total


def running_max_ifexp(x):
    best = x[0]
    for v in x:
        best = v if v > best else best
    return best * 2.0


# -- for over range --------------------------------------------------------------------------


def range_start_stop_step(x):
    y = x
    for i in range(2, 11, 3):
        y = y * x + i
    return y


def range_negative_step(x):
    y = x
    for i in range(5, 0, -2):
        y = y * x + 1.0 / i
    return y


def range_negative_values(x):
    acc = 0.0 * x
    for i in range(-1, -7, -2):
        acc = acc + np.sin(x * i)
    return acc


def empty_ranges(x):
    y = x * 2.0
    for _ in range(3, 3):
        y = y * x
    for _ in range(5, 0):
        y = np.exp(y)
    for _ in range(0, 5, -1):
        y = y * 100.0
    return y


def trips_from_argument(x, n):
    y = x
    for _ in range(n):
        y = np.sin(y) * x
    return y


def range_from_arguments(x, start, stop, step):
    acc = x * 0.0
    for i in range(start, stop, step):
        acc = acc + x ** 2 * i
    return acc


def index_loop(x):
    acc = 0.0
    for i in range(len(x)):
        acc = acc + x[i] * i
    return acc


def neighbour_products(x):
    acc = 0.0
    for i in range(1, x.shape[0]):
        acc = acc + x[i] * x[i - 1]
    return acc


def loop_variable_arithmetic(x):
    acc = x
    for i in range(4):
        acc = acc + x * i - (i * i) * np.sin(x)
    return acc


def loop_carried_product(x):
    p = 1.0
    for i in range(1, 5):
        p = p * (x + i)
    return p


def overwrite_accumulator(x):
    y = x
    for _ in range(6):
        y = np.sin(y) + x
    return y


def rnn(W, b, h):
    for _ in range(20):
        h = np.tanh(W @ h + b)
    return h


def euler_decay(y, k):
    for _ in range(10):
        y = y + 0.1 * (-k * y)
    return y


def fibonacci_like(a, b):
    for _ in range(6):
        a, b = b, a + b * 0.5
    return a * b


def gradient_descent_steps(w, target):
    for _ in range(5):
        w = w - 0.2 * (w - target) * np.cos(w)
    return w


def newton_sqrt(a):
    y = a
    for _ in range(8):
        y = 0.5 * (y + a / y)
    return y


def fixed_point_cos(x):
    y = x
    for _ in range(30):
        y = np.cos(y) * 0.5 + x
    return y


def branch_in_loop(x):
    y = x
    for i in range(5):
        if i % 2 == 0:
            y = y * x
        else:
            y = y + np.sin(x)
    return y


def triangular_loops(x):
    acc = 0.0
    for i in range(4):
        for j in range(i):
            acc = acc + x[i] * x[j]
    return acc


def nested_index_loops(X):
    acc = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            acc = acc + X[i, j] * X[j, i] * (i - j)
    return acc


def loop_overwrites_array(x):
    h = x
    for _ in range(3):
        h = h[::-1] * 0.5 + np.sin(h)
    return h


def reversed_range(x):
    y = x
    for i in reversed(range(1, 5)):
        y = y * x + i
    return y


# -- for over sequences ----------------------------------------------------------------------


def sum_of_rows(X):
    acc = 0.0
    for row in X:
        acc = acc + np.tanh(row)
    return acc


def rows_branch_on_data(X):
    acc = np.zeros(X.shape[1])
    for row in X:
        if row.sum() > 0:
            acc = acc + row ** 2
        else:
            acc = acc - 0.5 * row
    return acc


def enumerate_rows(X):
    acc = np.zeros_like(X[0])
    for i, row in enumerate(X):
        acc = acc + row * (i + 1)
    return acc


def zip_rows(X, Y):
    acc = 0.0
    for a, b in zip(X, Y):
        acc = acc + a * np.sin(b)
    return acc


def zip_three(X, Y, z):
    acc = 0.0
    for a, b, c in zip(X, Y, z):
        acc = acc + a * b * c
    return acc


def reversed_rows(X):
    acc = X[0] * 0.0
    for row in reversed(X):
        acc = acc * 0.5 + row
    return acc


def enumerate_zip(X, Y):
    acc = 0.0
    for i, (a, b) in enumerate(zip(X, Y)):
        acc = acc + (a - b) ** 2 * (i + 1)
    return acc.sum()


def zip_enumerate(X, Y):
    acc = 0.0
    for (i, a), b in zip(enumerate(X), Y):
        acc = acc + a * b * i
    return acc


def loop_over_constant_list(x):
    y = 0.0 * x
    for c in [1.0, -2.0, 0.5]:
        y = y * x + c
    return y


def loop_over_tuple_of_arrays(x, y):
    acc = 0.0
    for t in (x, y, x * y):
        acc = acc + np.sin(t)
    return acc


def loop_over_list_of_arrays(x, y):
    total = 0.0
    for t in [x, y]:
        total = total + t * t
    return total


def nested_row_loops(X, Y):
    acc = 0.0
    for a in X:
        for b in Y:
            acc = acc + np.dot(a, b) ** 2
    return acc


def columns_loop(X):
    acc = 0.0
    for col in X.T:
        acc = acc + np.sum(col ** 2) * col.mean()
    return acc


def rnn_over_inputs(W, U, xs, h):
    for x in xs:
        h = np.tanh(W @ h + U @ x)
    return h.sum()


def horner(coeffs, x):
    y = 0.0 * x
    for c in coeffs:
        y = y * x + c
    return y


def horner_reversed(coeffs, x):
    y = 0.0
    for c in reversed(coeffs):
        y = y * x + c
    return y


def logsumexp_loops(x):
    m = x[0]
    for v in x:
        if v > m:
            m = v
    total = 0.0
    for v in x:
        total = total + np.exp(v - m)
    return m + np.log(total)


def softmax_loops(x):
    m = x.max()
    total = 0.0
    for v in x:
        total = total + np.exp(v - m)
    return np.exp(x - m) / total


def power_iteration(A, v):
    for _ in range(10):
        v = A @ v
        v = v / np.linalg.norm(v)
    return v


# -- while -----------------------------------------------------------------------------------


def double_until_large(x):
    y = x * 2
    while np.linalg.norm(y) < 1000:
        y = y * 2
    return y


def halve_until_small(x):
    y = x
    while np.abs(y).sum() > 1.0:
        y = y * 0.5
    return y * x


def while_counter(x):
    i = 0
    y = x
    while i < 5:
        y = y * x + 1.0
        i = i + 1
    return y


def newton_sqrt_to_tolerance(a):
    y = a
    count = 0
    while np.abs(y * y - a).max() > 1e-10 and count < 50:
        y = 0.5 * (y + a / y)
        count = count + 1
    return y


def grow_and_count(x):
    steps = 0
    y = x
    while y.sum() < 10.0:
        y = y * 1.3 + 0.1
        steps = steps + 1
    return y * steps


def while_true_break(x):
    y = x
    while True:
        y = y * 1.5
        if y.sum() > 10.0:
            break
    return y


def while_continue(x):
    i = 0
    y = x
    while i < 6:
        i = i + 1
        if i % 3 == 0:
            continue
        y = np.sin(y) + x
    return y


def while_else(x, limit):
    y = x
    i = 0
    while i < 4:
        if y.sum() > limit:
            break
        y = y * 2.0
        i = i + 1
    else:
        y = -y
    return y


def while_return(x):
    y = x
    while True:
        y = y * 2.0
        if np.abs(y).max() > 5.0:
            return y - x


def for_inside_while(x):
    total = 0.0
    k = 0
    while k < 3:
        for i in range(k + 1):
            total = total + x ** (i + 1)
        k = k + 1
    return total


def if_inside_while(x):
    y = x
    n = 0
    while n < 6:
        if n % 2 == 0:
            y = y * np.cos(x)
        else:
            y = y + x
        n = n + 1
    return y


# -- break, continue, return -----------------------------------------------------------------


def break_at_argument(x, n):
    y = x
    for i in range(10):
        if i >= n:
            break
        y = y * x + 1.0
    return y


def break_on_data(X):
    acc = X[0] * 0.0
    for row in X:
        if row.sum() > 2.0:
            break
        acc = acc + row * row
    return acc


def continue_every_other(x):
    y = x
    for i in range(6):
        if i % 2 == 1:
            continue
        y = y * x + i
    return y


def continue_on_data(X):
    acc = 0.0
    for row in X:
        if row.mean() < 0:
            continue
        acc = acc + np.exp(row)
    return acc


def break_and_continue(x):
    y = x
    for i in range(10):
        if i == 1:
            continue
        if i == 5:
            break
        y = np.sin(y) * x + i
    return y


def break_inner_only(X):
    acc = 0.0
    for row in X:
        for v in row:
            if v < 0:
                break
            acc = acc + v * v
    return acc


def return_inside_loop(x):
    y = x
    for i in range(10):
        y = y * x
        if i == 3:
            return y
    return -y


def return_inside_loop_on_data(x):
    y = x
    for i in range(20):
        y = y * 1.5
        if y.sum() > 10.0:
            return y * i
    return y


def return_in_nested_loops(X):
    acc = 0.0
    for i in range(3):
        for j in range(3):
            acc = acc + X[i, j] * (i + 1)
            if i * j == 2:
                return acc * 2.0
    return acc


def multiple_returns(x, mode):
    if mode == 0:
        return x * 2.0
    y = np.sin(x)
    for i in range(3):
        if mode == 1 and i == 1:
            return y * x
        y = y + x
        if mode == 2:
            if i == 2:
                return y ** 2
    return y - x


def for_else(x, threshold):
    y = x
    for _ in range(4):
        y = y * 1.5
        if y.sum() > threshold:
            break
    else:
        y = y * 10.0
    return y


def first_large_row(X, threshold):
    found = X[0] * 0.0
    for row in X:
        if row.max() > threshold:
            found = row * 2.0
            break
    else:
        found = X.sum(axis=0)
    return found


def early_return_before_loop(x, skip):
    if skip:
        return x
    for _ in range(3):
        x = x * x
    return x


def early_return_in_for_else(x, limit):
    y = x
    for _ in range(4):
        y = y * 1.5
        if y.sum() > limit:
            break
    else:
        return y * 10.0
    return y - x


def return_in_while_else(x, n):
    i = 0
    y = x
    while i < n:
        y = np.sin(y) + x
        i = i + 1
    else:
        return y * 2.0


def two_breaks(x, a, b):
    y = x
    for i in range(10):
        if i == a:
            break
        y = y * x
        if i == b:
            break
        y = y + 1.0
    return y


def trailing_continue(x):
    y = x
    for _ in range(4):
        y = y * x
        continue
    return y


def break_out_of_while_in_for(X):
    acc = 0.0
    for row in X:
        y = row
        while True:
            y = y * 2.0
            if y.sum() > 5.0:
                break
        acc = acc + y
    return acc


def return_from_while_in_for(X):
    acc = 0.0
    for row in X:
        k = 0
        while k < 3:
            acc = acc + row * k
            if acc.sum() > 6.0:
                return acc
            k = k + 1
    return -acc


def continue_in_while_in_for(X):
    acc = 0.0
    for row in X:
        k = 0
        while k < 4:
            k = k + 1
            if k == 2:
                continue
            acc = acc + row ** k
    return acc


def search_with_returns(X, target):
    for i, row in enumerate(X):
        for j, v in enumerate(row):
            if v > target:
                if j == 0:
                    return row * v
                return X[i - 1] * v if i > 0 else row
    return X.sum(axis=0)


def everything_at_once(X, limit):
    acc = X[0] * 0.0
    for i, row in enumerate(X):
        y = row
        k = 0
        while y.sum() < limit and k < 10:
            if k % 2 == 0:
                y = y * 1.5
            else:
                y = y + np.sin(y)
            k = k + 1
        if y.max() > 8.0:
            acc = acc + y * i
            continue
        for j in range(i):
            acc = acc * 0.9 + np.tanh(y) * j
            if j == 2:
                break
        else:
            acc = acc - y
    return acc


# -- loops over other iterables, scoping, updates --------------------------------------------


def defined_in_loop(X):
    for row in X:
        last = row * 2.0
    return last * X[0]


def loop_index_after_loop(x):
    y = x
    for i in range(3):
        y = y * x
    return y * i


def augmented_updates(x):
    acc = x * 0.0
    y = x * 1.0
    for i in range(1, 4):
        acc += x * i
        y *= x
    acc -= y
    return acc


def enumerate_from_one(X):
    acc = 0.0
    for i, row in enumerate(X, 1):
        acc = acc + row * i
    return acc


def enumerate_start_keyword(X):
    acc = 0.0
    for i, row in enumerate(X, start=1):
        acc = acc + row * i
    return acc


def zip_with_reversed(X, Y):
    acc = 0.0
    for a, b in zip(X, reversed(Y)):
        acc = acc + a * b
    return acc


def enumerate_reversed(X):
    acc = 0.0
    for i, row in enumerate(reversed(X)):
        acc = acc + row * i
    return acc


def unpack_rows(X):
    acc = 0.0
    for a, b in X:
        acc = acc + a * np.exp(b)
    return acc


def zip_shifted(x):
    acc = 0.0
    for a, b in zip(x, x[1:]):
        acc = acc + (b - a) ** 2
    return acc


def iterate_slice(x):
    acc = 0.0
    for v in x[::-1]:
        acc = acc * 0.5 + v
    return acc


def iterate_computed(x):
    acc = 0.0
    for v in np.sin(x) * x:
        acc = acc + v * v
    return acc


def int_accumulator(X):
    acc = 0
    for row in X:
        acc = acc + row
    return acc


def no_rows(X):
    acc = 0.0
    for row in X:
        acc = acc + row
    return acc + X.sum()


def float_of_elements(x):
    total = 0.0
    for v in x:
        total = total + float(v) * v
    return total


def branch_chain_on_index(x):
    y = x
    for i in range(5):
        if i == 0:
            y = y * 2.0
        elif i < 3:
            y = np.sin(y) + x
        else:
            y = y * x
    return y


def loop_in_branch(x, flag):
    y = x
    if flag:
        for i in range(3):
            if i != 1:
                y = y * x
    return y


def reassign_parameter_in_loop(x):
    acc = 0.0
    for _ in range(3):
        x = np.sin(x)
        acc = acc + x
    return acc * x


def ifexp_shapes(x, reduce):
    y = x.sum() if reduce else x
    return y * x


def chained_while(x, n):
    i = 1
    y = x
    while 0 < i < n:
        y = y * x
        i = i + 1
    return y


def pass_in_branch(x):
    if x.sum() > 0:
        pass
    else:
        x = x * 2.0
    return x


def not_and_flags(x, a, b):
    if not a and b:
        y = x * 2.0
    elif a and not b:
        y = np.exp(x)
    else:
        y = x ** 3
    return y


def swap_in_loop(x, y):
    for _ in range(3):
        x, y = np.sin(y), x * y
    return x + y


def loop_over_list_argument(x, coeffs):
    y = 0.0 * x
    for c in coeffs:
        y = y * x + c
    return y


def enumerate_tuple_argument(x, coeffs):
    y = 0.0 * x
    for i, c in enumerate(coeffs):
        y = y + c * x ** i
    return y


def inner_while_trips_vary(X):
    acc = 0.0
    for row in X:
        y = row
        while y.sum() < 5.0:
            y = y * 1.5
        acc = acc + y
    return acc


def backwards_index(x):
    acc = 0.0
    n = x.shape[0]
    for i in range(n - 1, -1, -1):
        acc = acc * 0.5 + x[i] ** 2
    return acc


def bisection_steps(x):
    lo = x * 0.0
    hi = x * 0.0 + 2.0
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        if (mid * mid - x).sum() > 0:
            hi = mid
        else:
            lo = mid
    return lo + hi * x


# -- slot writes inside control flow -----------------------------------------------------------


def cumulative_sum_slots(x):
    out = np.zeros_like(x)
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i]
        out[i] = s * x[i]
    return out


def slot_write_in_branch(x):
    out = x * 1.0
    for i in range(x.shape[0]):
        if i % 2 == 0:
            out[i] = np.sin(out[i]) * x[i]
    return out


def overwrite_slot_repeatedly(x):
    y = np.zeros(2)
    for i in range(4):
        y[i % 2] = y[i % 2] * x[i] + x[i]
    return y


def rows_written_in_loop(X):
    out = np.zeros_like(X)
    h = np.zeros(X.shape[1])
    for i, row in enumerate(X):
        h = np.tanh(h + row)
        out[i] = h
    return out


def augmented_slot_in_loop(x):
    y = x * 1.0
    for i in range(1, x.shape[0]):
        y[i] += y[i - 1] * 0.5
    return y


def broadcast_in_loop(x, y):
    # y comes in a float and leaves the first trip an array of x's shape: its gradient must
    # be summed back to a float
    for _ in range(2):
        y = y - x * y
    return np.sum(y * y)


def self_assignment_after_branch(x):
    r = np.sin(x)
    if np.sum(r) > 1.0:
        r = r * 2.0
    r = r  # a copy of r onto itself: its adjoint must not be lost
    return np.sum(r)


def update_after_early_return(x):
    a = np.tanh(x)
    if np.sum(a) > 1.0:
        return a * 2.0
    a += x  # `a` is the program's own array: nothing else sees it
    return a


def slot_after_early_return(x):
    h = np.zeros_like(x)
    if np.sum(x) > 1.0:
        return h * 2.0 + x
    h[0] = x[1]
    return h


def alias_made_after_update(x, y):
    h = np.zeros_like(x)
    h[0] = x[1]
    a = h if y > 0.0 else x  # (an alias made after the update sees the new value)
    return np.sum(a * h)


def item_named_before_append(x):
    hs = [x * 1.0]
    acc = 0.0
    for _ in range(3):
        h = hs[-1]
        hs.append(np.tanh(h))  # the list grows; the array `h` names does not change
        acc = acc + h * 2.0
    return np.sum(acc)


def unused_parameter_rebound_in_loop(x, y):
    # the output does not depend on y, whose gradient is zeros of the float it came as
    for _ in range(2):
        y = y * x
    return np.sum(x * x)


def zero_d_slots_in_loop(x):
    h = np.zeros(())
    for i in range(x.shape[0]):
        h[...] = h * x[i] + np.sin(x[i])
    return h


def rebuilt_then_written_in_loop(x):
    # v is made anew each trip, then written into; the backward sweep writes its slots back
    for _ in range(3):
        v = np.where(x > 0, 0.5, x * x)
        v[::2] = np.sum(x * x)
    return v


# -- calls to user functions inside control flow ----------------------------------------------


def square(t):
    return t * t


def cell(h, w):
    return np.tanh(h * w + 0.5)


def grow(t, n):
    for _ in range(n):
        t = np.sin(t) + t
    return t


def doubled_or_cubed(t):
    if t.sum() > 0:
        return t * 2.0
    return t ** 3


def call_in_loop(x, w):
    h = x
    for _ in range(5):
        h = cell(h, w)
    return h


def call_in_branch(x):
    if x.sum() > 0:
        y = square(x)
    else:
        y = square(np.sin(x))
    return y


def recursive_power(x, n):
    if n == 0:
        return x * 0.0 + 1.0
    return x * recursive_power(x, n - 1)


def call_with_a_loop_in_a_loop(x):
    acc = 0.0
    for k in range(3):
        acc = acc + grow(x, k)
    return acc


def call_with_returns_per_row(X):
    acc = 0.0
    for row in X:
        acc = acc + doubled_or_cubed(row)
    return acc


# Called by the programs above, not differentiated on their own.
CALLEES = (square, cell, grow, doubled_or_cubed)

# -- rows ------------------------------------------------------------------------------------

V3 = (3,)
M23 = (2, 3)

CASES = [
    # if / elif / else
    Case(sign_branch, (Arg((), 0.5, 2.0),), (), id="sign_branch-positive"),
    Case(sign_branch, (Arg((), -2.0, -0.5),), (), id="sign_branch-negative"),
    Case(sign_branch, (Arg(None, -2.0, -0.5),), (), id="sign_branch-negative-float"),
    Case(branch_on_sum, (Arg(V3, 0.1, 2.0),), (), id="branch_on_sum-positive"),
    Case(branch_on_sum, (Arg(M23, -2.0, -0.1),), (), id="branch_on_sum-negative"),
    Case(branch_all_positive, (Arg(M23, 0.5, 2.0),), (), id="branch_all_positive-all"),
    Case(branch_all_positive, (Arg((4,), -2.0, 2.0, avoid=0.2),), (),
         id="branch_all_positive-mixed"),
    *[Case(elif_chain, (Arg(V3), mode), (), id=f"elif_chain-mode{mode}") for mode in range(4)],
    Case(assign_in_one_branch, (Arg(V3), True), (), id="assign_in_one_branch-taken"),
    Case(assign_in_one_branch, (Arg(V3), False), (), id="assign_in_one_branch-skipped"),
    Case(scale_set_in_one_branch, (Arg(V3, 0.2, 2.0),), (), id="scale_set_in_one_branch-taken"),
    Case(scale_set_in_one_branch, (Arg(V3, -2.0, -0.2),), (),
         id="scale_set_in_one_branch-skipped"),
    Case(nested_ifs, (Arg((), 0.5, 2.0), Arg((), 0.5, 2.0)), (), id="nested_ifs-pp"),
    Case(nested_ifs, (Arg(None, 0.5, 2.0), Arg(None, -2.0, -0.5)), (), id="nested_ifs-pn"),
    Case(nested_ifs, (Arg((), -2.0, -1.0), Arg((), -0.5, 2.0)), (), id="nested_ifs-n-above"),
    Case(nested_ifs, (Arg((), -1.0, -0.5), Arg((), -3.0, -1.5)), (), id="nested_ifs-n-below"),
    Case(swap_if_larger, (Arg(V3, 1.0, 2.0), Arg(V3, -1.0, 0.5)), (), id="swap_if_larger-swapped"),
    Case(swap_if_larger, (Arg(V3, -1.0, 0.5), Arg(V3, 1.0, 2.0)), (), id="swap_if_larger-kept"),
    Case(shape_depends_on_flag, (Arg(V3), True), (), id="shape_depends_on_flag-reduced"),
    Case(shape_depends_on_flag, (Arg(V3), False), (), id="shape_depends_on_flag-kept"),
    Case(and_or_conditions, (Arg(V3, 0.5, 2.0), 0.0, 3.0), (), id="and_or_conditions-and"),
    Case(and_or_conditions, (Arg(V3, 1.5, 2.0), 0.0, 1.0), (), id="and_or_conditions-or"),
    Case(and_or_conditions, (Arg(V3, -2.0, -0.5), 0.0, 3.0), (), id="and_or_conditions-else"),
    Case(chained_comparison, (Arg(None, 0.2, 0.8),), (), id="chained_comparison-first"),
    Case(chained_comparison, (Arg(None, 1.5, 2.5),), (), id="chained_comparison-second"),
    Case(chained_comparison, (Arg((), 3.5, 5.0),), (), id="chained_comparison-above"),
    Case(chained_comparison, (Arg((), -2.0, -0.5),), (), id="chained_comparison-below"),
    Case(not_conditions, (Arg(V3), False), (), id="not_conditions-early"),
    Case(not_conditions, (Arg(V3), True), (), id="not_conditions-late"),
    Case(not_conditions, (Arg(V3, 4.0, 5.0), True), (), id="not_conditions-large"),
    Case(early_return_in_branch, (Arg((), 0.5, 2.0),), (), id="early_return_in_branch-taken"),
    Case(early_return_in_branch, (Arg(None, -2.0, -0.5),), (),
         id="early_return_in_branch-skipped"),
    Case(returns_one_argument, (Arg(M23), Arg(V3, 0.5, 2.0)), (), id="returns_one_argument-x"),
    Case(returns_one_argument, (Arg(M23), Arg(V3, -2.0, -0.5)), (),
         id="returns_one_argument-y"),
    Case(loop_may_not_run, (Arg((3, 3)), Arg(M23), 2), (), id="loop_may_not_run-twice"),
    Case(loop_may_not_run, (Arg((3, 3)), Arg(M23), 0), (), id="loop_may_not_run-never"),
    # conditional expressions, `and` / `or` values
    Case(ifexp_scalar, (Arg((), 1.5, 3.0),), (), id="ifexp_scalar-then"),
    Case(ifexp_scalar, (Arg(None, -1.0, 0.5),), (), id="ifexp_scalar-else"),
    *[Case(ifexp_nested, (Arg(M23), k), (), id=f"ifexp_nested-{k}") for k in range(3)],
    Case(ifexp_on_reduction, (Arg(V3, -1.0, 0.5),), (), id="ifexp_on_reduction-then"),
    Case(ifexp_on_reduction, (Arg(M23, 1.5, 2.0),), (), id="ifexp_on_reduction-else"),
    Case(or_value, (Arg(None, 0.5, 2.0), Arg(None)), (), id="or_value-first"),
    Case(or_value, (0.0, Arg(None)), (), id="or_value-second"),
    Case(or_value, (Arg((), -2.0, -0.5), Arg(())), (), id="or_value-0d"),
    Case(and_value, (Arg(None, 0.5, 2.0), Arg(None)), (), id="and_value-second"),
    Case(and_value, (Arg((), -2.0, -0.5), Arg(())), (), id="and_value-0d"),
    Case(leaky_relu_by_elements, (Arg((6,), avoid=0.1),), ()),
    Case(running_max_ifexp, (Arg((5,), distinct=True),), ()),
    # for over range
    Case(range_start_stop_step, (Arg(V3, -1.0, 1.0),), ()),
    Case(range_start_stop_step, (Arg(None, -1.0, 1.0),), (), id="range_start_stop_step-float"),
    Case(range_negative_step, (Arg(M23),), ()),
    Case(range_negative_values, (Arg(V3),), ()),
    Case(empty_ranges, (Arg(V3),), ()),
    *[Case(trips_from_argument, (Arg(V3), n), (), id=f"trips_from_argument-{n}")
      for n in (0, 1, 4)],
    *[Case(range_from_arguments, (Arg(V3), *bounds), (), id=f"range_from_arguments{bounds}")
      for bounds in [(1, 7, 2), (6, -3, -3), (4, 4, 1), (0, 3, -1)]],
    Case(index_loop, (Arg((4,)),), ()),
    Case(neighbour_products, (Arg((5,)),), ()),
    Case(loop_variable_arithmetic, (Arg(M23),), ()),
    Case(loop_carried_product, (Arg(V3),), ()),
    Case(loop_carried_product, (Arg(None),), (), id="loop_carried_product-float"),
    Case(overwrite_accumulator, (Arg(V3),), ()),
    Case(rnn, (Arg((3, 3), -0.6, 0.6), Arg(V3), Arg(V3)), ()),
    Case(euler_decay, (Arg(V3), Arg((), 0.5, 2.0)), ()),
    Case(fibonacci_like, (Arg(V3), Arg(V3)), ()),
    Case(gradient_descent_steps, (Arg(V3), Arg(V3)), ()),
    Case(newton_sqrt, (Arg(V3, 0.5, 4.0),), ()),
    Case(newton_sqrt, (Arg(None, 0.5, 4.0),), (), id="newton_sqrt-float"),
    Case(fixed_point_cos, (Arg(M23),), ()),
    Case(branch_in_loop, (Arg(V3),), ()),
    Case(triangular_loops, (Arg((4,)),), ()),
    Case(nested_index_loops, (Arg((3, 3)),), ()),
    Case(loop_overwrites_array, (Arg((4,)),), ()),
    Case(reversed_range, (Arg(V3, -1.0, 1.0),), ()),
    # for over sequences
    Case(sum_of_rows, (Arg((4, 3)),), ()),
    Case(sum_of_rows, (Arg((4,)),), (), id="sum_of_rows-vector"),
    Case(rows_branch_on_data, (Arg((6, 3), -1.5, 1.5),), ()),
    Case(enumerate_rows, (Arg((4, 3)),), ()),
    Case(zip_rows, (Arg((3, 2)), Arg((3, 2))), ()),
    Case(zip_rows, (Arg((4,)), Arg((4,))), (), id="zip_rows-vectors"),
    Case(zip_three, (Arg((3, 2)), Arg((3, 2)), Arg((3,))), ()),
    Case(reversed_rows, (Arg((4, 2)),), ()),
    Case(enumerate_zip, (Arg((3, 2)), Arg((3, 2))), ()),
    Case(zip_enumerate, (Arg((3, 2)), Arg((3, 2))), ()),
    Case(loop_over_constant_list, (Arg(V3),), ()),
    Case(loop_over_tuple_of_arrays, (Arg(V3), Arg(V3)), ()),
    Case(loop_over_list_of_arrays, (Arg(M23), Arg(M23)), ()),
    Case(nested_row_loops, (Arg((2, 3)), Arg((3, 3))), ()),
    Case(columns_loop, (Arg((3, 4)),), ()),
    Case(rnn_over_inputs, (Arg((3, 3), -0.6, 0.6), Arg((3, 2)), Arg((5, 2)), Arg(V3)), ()),
    Case(horner, (Arg((4,)), Arg(V3)), ()),
    Case(horner, (Arg((4,)), Arg(None)), (), id="horner-float"),
    Case(horner_reversed, (Arg((5,)), Arg(M23)), ()),
    Case(logsumexp_loops, (Arg((5,), distinct=True),), ()),
    Case(softmax_loops, (Arg((4,), distinct=True),), ()),
    Case(power_iteration, (Arg((3, 3)), Arg(V3, 0.5, 1.0)), ()),
    # while
    Case(double_until_large, (Arg(V3, 0.5, 2.0),), ()),
    Case(double_until_large, (Arg(V3, 50.0, 200.0),), (), id="double_until_large-few"),
    Case(halve_until_small, (Arg(V3, 1.0, 4.0),), ()),
    Case(halve_until_small, (Arg(V3, 0.05, 0.3),), (), id="halve_until_small-none"),
    Case(while_counter, (Arg(M23, -1.0, 1.0),), ()),
    Case(newton_sqrt_to_tolerance, (Arg(V3, 0.5, 4.0),), ()),
    Case(grow_and_count, (Arg(V3, 0.5, 1.0),), ()),
    Case(while_true_break, (Arg(V3, 0.5, 2.0),), ()),
    Case(while_continue, (Arg(V3),), ()),
    Case(while_else, (Arg(V3, 0.5, 1.0), 1000.0), (), id="while_else-no-break"),
    Case(while_else, (Arg(V3, 0.5, 1.0), -1000.0), (), id="while_else-break-at-once"),
    Case(while_else, (Arg(V3, 0.5, 1.0), 10.0), (), id="while_else-break-later"),
    Case(while_return, (Arg(V3, 0.5, 2.0),), ()),
    Case(for_inside_while, (Arg(V3),), ()),
    Case(if_inside_while, (Arg(V3),), ()),
    # break, continue, return
    *[Case(break_at_argument, (Arg(V3, -1.0, 1.0), n), (), id=f"break_at_argument-{n}")
      for n in (0, 3, 20)],
    Case(break_on_data, (Arg((5, 2), -1.0, 1.5),), ()),
    Case(continue_every_other, (Arg(V3, -1.0, 1.0),), ()),
    Case(continue_on_data, (Arg((5, 2)),), ()),
    Case(break_and_continue, (Arg(V3),), ()),
    # Rows that finish, break at once, finish, break half way.
    Case(break_inner_only, (Arg((4, 4), -0.5, 2.0, avoid=0.1),), ()),
    Case(return_inside_loop, (Arg(V3, -1.0, 1.0),), ()),
    Case(return_inside_loop_on_data, (Arg(V3, 0.5, 1.0),), ()),
    Case(return_inside_loop_on_data, (Arg(V3, -1.0, -0.5),), (),
         id="return_inside_loop_on_data-never"),
    Case(return_in_nested_loops, (Arg((3, 3)),), ()),
    *[Case(multiple_returns, (Arg(V3), mode), (), id=f"multiple_returns-{mode}")
      for mode in range(4)],
    Case(for_else, (Arg(V3, 0.5, 1.0), 1000.0), (), id="for_else-no-break"),
    Case(for_else, (Arg(V3, 0.5, 1.0), -1000.0), (), id="for_else-break"),
    Case(first_large_row, (Arg((4, 3), -1.0, 1.0), 0.4), (), id="first_large_row-found"),
    Case(first_large_row, (Arg((4, 3), -1.0, 1.0), 5.0), (), id="first_large_row-else"),
    Case(early_return_before_loop, (Arg(V3), True), (), id="early_return_before_loop-skip"),
    Case(early_return_before_loop, (Arg(V3), False), (), id="early_return_before_loop-loop"),
    Case(early_return_in_for_else, (Arg(V3, 0.5, 1.0), 1000.0), (),
         id="early_return_in_for_else-else"),
    Case(early_return_in_for_else, (Arg(V3, 0.5, 1.0), -1000.0), (),
         id="early_return_in_for_else-break"),
    Case(return_in_while_else, (Arg(V3), 3), (), id="return_in_while_else-3"),
    Case(return_in_while_else, (Arg(V3), 0), (), id="return_in_while_else-0"),
    *[Case(two_breaks, (Arg(V3, -1.0, 1.0), a, b), (), id=f"two_breaks-{a}-{b}")
      for a, b in [(2, 5), (5, 2), (20, 20)]],
    Case(trailing_continue, (Arg(V3),), ()),
    Case(break_out_of_while_in_for, (Arg((3, 2), 0.2, 1.0),), ()),
    Case(return_from_while_in_for, (Arg((3, 2), 0.2, 1.0),), ()),
    Case(return_from_while_in_for, (Arg((3, 2), -1.0, -0.2),), (),
         id="return_from_while_in_for-never"),
    Case(continue_in_while_in_for, (Arg((3, 2)),), ()),
    *[Case(search_with_returns, (Arg((3, 3), -1.0, 1.0, distinct=True), target), (),
           id=f"search_with_returns-{target}") for target in (0.5, 0.8, 0.9, 2.0, -0.9)],
    Case(everything_at_once, (Arg((6, 3), 0.2, 1.5), 4.0), (), id="everything_at_once-4"),
    Case(everything_at_once, (Arg((6, 3), 0.2, 1.5), 2.0), (), id="everything_at_once-2"),
    Case(everything_at_once, (Arg((6, 3), 0.2, 1.5), 12.0), (), id="everything_at_once-12"),
    # loops over other iterables, scoping, updates
    Case(defined_in_loop, (Arg((3, 2)),), ()),
    Case(loop_index_after_loop, (Arg(V3),), ()),
    Case(augmented_updates, (Arg(V3),), ()),
    Case(enumerate_from_one, (Arg((3, 2)),), ()),
    Case(enumerate_start_keyword, (Arg((3, 2)),), ()),
    Case(zip_with_reversed, (Arg((3, 2)), Arg((3, 2))), ()),
    Case(enumerate_reversed, (Arg((3, 2)),), ()),
    Case(unpack_rows, (Arg((3, 2)),), ()),
    Case(zip_shifted, (Arg((5,)),), ()),
    Case(iterate_slice, (Arg((5,)),), ()),
    Case(iterate_computed, (Arg((4,)),), ()),
    Case(int_accumulator, (Arg((4, 2)),), ()),
    Case(no_rows, (Arg((0, 3)),), ()),
    Case(float_of_elements, (Arg((4,)),), ()),
    Case(branch_chain_on_index, (Arg(V3),), ()),
    Case(loop_in_branch, (Arg(V3), True), (), id="loop_in_branch-taken"),
    Case(loop_in_branch, (Arg(V3), False), (), id="loop_in_branch-skipped"),
    Case(reassign_parameter_in_loop, (Arg(V3),), ()),
    Case(ifexp_shapes, (Arg(V3), True), (), id="ifexp_shapes-reduced"),
    Case(ifexp_shapes, (Arg(V3), False), (), id="ifexp_shapes-kept"),
    Case(chained_while, (Arg(V3, -1.0, 1.0), 4), ()),
    Case(pass_in_branch, (Arg(V3, 0.5, 1.0),), (), id="pass_in_branch-pass"),
    Case(pass_in_branch, (Arg(V3, -1.0, -0.5),), (), id="pass_in_branch-else"),
    *[Case(not_and_flags, (Arg(V3), a, b), (), id=f"not_and_flags-{a}-{b}")
      for a in (True, False) for b in (True, False)],
    Case(swap_in_loop, (Arg(V3), Arg(V3)), ()),
    Case(loop_over_list_argument, (Arg(V3), [1.0, -2.0, 0.5]), ()),
    Case(enumerate_tuple_argument, (Arg(V3), (1.0, -2.0, 0.5)), ()),
    Case(inner_while_trips_vary, (Arg((3, 2), 0.3, 2.0),), ()),
    Case(backwards_index, (Arg((4,)),), ()),
    # The branch decisions change within the difference step of a second derivative
    # (the function is piecewise linear in x), so only first order is checked.
    Case(bisection_steps, (Arg((2,), 0.5, 3.0),), (), order2=False),
    # slot writes inside control flow
    Case(cumulative_sum_slots, (Arg((4,)),), ()),
    Case(slot_write_in_branch, (Arg((5,)),), ()),
    Case(overwrite_slot_repeatedly, (Arg((4,)),), ()),
    Case(rows_written_in_loop, (Arg((4, 3)),), ()),
    Case(augmented_slot_in_loop, (Arg((4,)),), ()),
    Case(broadcast_in_loop, (Arg(V3, -0.5, 0.5), Arg(None, 0.2, 0.8)), ()),
    Case(unused_parameter_rebound_in_loop, (Arg(V3), Arg(None)), ()),
    Case(self_assignment_after_branch, (Arg(V3, -1.0, -0.1),), (), id="self_assignment-else"),
    Case(self_assignment_after_branch, (Arg(V3, 0.5, 1.0),), (), id="self_assignment-then"),
    Case(update_after_early_return, (Arg(V3, -1.0, 0.0),), (), id="update_after_return-on"),
    Case(update_after_early_return, (Arg(V3, 1.0, 2.0),), (), id="update_after_return-early"),
    Case(slot_after_early_return, (Arg(V3, -1.0, 0.0),), (), id="slot_after_return-on"),
    Case(slot_after_early_return, (Arg(V3, 1.0, 2.0),), (), id="slot_after_return-early"),
    Case(alias_made_after_update, (Arg(V3), 1.0), (), id="alias_after_update-h"),
    Case(alias_made_after_update, (Arg(V3), -1.0), (), id="alias_after_update-x"),
    Case(item_named_before_append, (Arg(V3),), ()),
    Case(zero_d_slots_in_loop, (Arg(V3),), ()),
    Case(rebuilt_then_written_in_loop, (Arg((5,)),), ()),
    # calls to user functions inside control flow
    Case(call_in_loop, (Arg(V3), Arg(V3)), ()),
    Case(call_in_branch, (Arg(V3, 0.2, 1.0),), (), id="call_in_branch-then"),
    Case(call_in_branch, (Arg(V3, -1.0, -0.2),), (), id="call_in_branch-else"),
    Case(recursive_power, (Arg(V3), 3), ()),
    Case(call_with_a_loop_in_a_loop, (Arg(V3),), ()),
    Case(call_with_returns_per_row, (Arg((4, 2)),), ()),
]
