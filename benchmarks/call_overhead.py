"""What a cached call of a derivative costs beyond its emitted function: the `Derivative`
object's call and the check that the arguments have the types, dtypes and layouts the
emitted code was made for (`srcgrad/arguments.py`, `fast_path`).

Three derivatives, one of a function of a float, one of a function of six small arrays
and one of a function of two arrays called with batches of two sizes in turn (the first
comparison of shapes fails every time), are each called through the `Derivative` and
directly (`emitted_function()`), side by side in interleaved rounds; the best time of
each is kept (the noise of a shared machine only adds), and the difference is the cost of
the call.

Run:  python benchmarks/call_overhead.py

A busy machine changes the times but not the instructions; to count those of one call:

    for n in 0 100000; do PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no \\
        --cachegrind-out-file=/dev/null python benchmarks/call_overhead.py --count float $n; done

(the difference of the two "I refs" totals, divided by 100000; `emitted` for the emitted
function alone, `arrays` and `emitted-arrays` for the six arrays, `sizes` and
`emitted-sizes` for the batches, a call being two of them).
"""

from __future__ import annotations

import sys
import timeit

import numpy as np


def polynomial(x):
    return 3.0 * x ** 3 + 2.0 * x ** 2 + x


def first_of_six(a, b, c, d, e, f):
    return np.sum(a)


def batch_loss(w, x):
    return np.sum(x @ w)


def _cases() -> dict:
    """Each case's function and the arguments of its calls (a call of each)."""
    import srcgrad

    arrays = tuple(np.full(3, 0.5) for _ in range(6))
    w = np.full((3, 2), 0.5)
    batches = ((w, np.full((8, 3), 0.5)), (w, np.full((5, 3), 0.5)))
    cases = {}
    for label, function, calls in (("float", polynomial, ((0.7,),)),
                                   ("arrays", first_of_six, (arrays,)),
                                   ("sizes", batch_loss, batches)):
        derivative = srcgrad.grad(function, wrt=(0,))
        for args in calls:
            derivative(*args)  # compiled, and its fast path made for these arguments
        cases[label] = (derivative, calls)
        cases[f"emitted-{label}"] = (derivative.emitted_function(), calls)
    return cases


def _run(function, calls) -> None:
    for args in calls:
        function(*args)


def best_times(rounds: int = 40, number: int = 5000) -> dict:
    """The best time of one call of each case, in seconds."""
    cases = _cases()
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for label, (function, calls) in cases.items():
            seconds = timeit.timeit(lambda f=function, c=calls: _run(f, c),
                                    number=number) / number / len(calls)
            best[label] = min(best[label], seconds)
    return best


def main(argv: list[str]) -> int:
    if argv[:1] == ["--count"]:
        label = {"emitted": "emitted-float"}.get(argv[1], argv[1])
        function, calls = _cases()[label]
        for _ in range(int(argv[2])):
            _run(function, calls)
        return 0
    best = best_times()
    for label in ("float", "arrays", "sizes"):
        through, direct = best[label], best[f"emitted-{label}"]
        print(f"{label:>6}: {through * 1e9:7.0f} ns through the Derivative, "
              f"{direct * 1e9:7.0f} ns emitted function alone: "
              f"{(through - direct) * 1e9:5.0f} ns for the call")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
