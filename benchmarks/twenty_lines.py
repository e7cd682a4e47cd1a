"""The 20-line function whose first compilation the compile-time target is about: a
three-layer network's softmax cross-entropy with a penalty summed in a Python loop, a
data-dependent branch and a spread term, differentiated with respect to six arrays.

`python benchmarks/twenty_lines.py` prints its compile times; `benchmarks/run.py`
measures them in a fresh process, records them (`compile_20_lines` in the JSON) and checks
the target (<= 50 ms). `--compile N` only compiles N fresh copies, for counting the
instructions of one compilation, which a busy machine does not change:

    for n in 1 5; do PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no \
        --cachegrind-out-file=/dev/null python benchmarks/twenty_lines.py --compile $n; done

(the difference of the two "I refs" totals, divided by 4).
"""

from __future__ import annotations

import inspect
import json
import os
import statistics
import subprocess
import sys
import time
import types

import numpy as np

WRT = (0, 1, 2, 3, 4, 5)


def model_loss(W1, b1, W2, b2, W3, b3, X, Y, lam):
    z1 = X @ W1 + b1
    h1 = np.tanh(z1)
    z2 = h1 @ W2 + b2
    h2 = np.maximum(z2, 0.0)
    z3 = h2 @ W3 + b3
    shifted = z3 - np.max(z3, axis=1, keepdims=True)
    log_norm = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    log_probs = shifted - log_norm
    scale = 1.0 / X.shape[0]
    data_loss = -np.sum(Y * log_probs) * scale
    reg = 0.0
    for W in (W1, W2, W3):
        reg = reg + np.sum(W * W)
    penalty = lam * reg
    if data_loss > 10.0:
        penalty = penalty * 0.5
    spread = np.mean((h1 - np.mean(h1, axis=0)) ** 2)
    total = data_loss + penalty + 0.01 * spread
    return total


def inputs(rng: np.random.Generator) -> tuple:
    return (rng.normal(size=(8, 16)), rng.normal(size=16), rng.normal(size=(16, 16)),
            rng.normal(size=16), rng.normal(size=(16, 4)), rng.normal(size=4),
            rng.normal(size=(32, 8)), np.eye(4)[rng.integers(0, 4, 32)], 1e-3)


def _fresh_copy():
    """A new function object with model_loss's code: srcgrad compiles it anew."""
    f = model_loss
    return types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__,
                              f.__closure__)


def compile_times(repetitions: int = 7) -> dict:
    """Seconds of the first call of `srcgrad.grad` on fresh copies (parse, transform,
    optimize, emit and load for these arguments' layouts, then one run), in a process
    that has compiled once already; the run alone is subtracted."""
    import srcgrad

    args = inputs(np.random.default_rng(0))
    srcgrad.grad(_fresh_copy(), wrt=WRT)(*args)  # the compiler's tables, built once
    samples = []
    for _ in range(repetitions):
        derivative = srcgrad.grad(_fresh_copy(), wrt=WRT)
        start = time.perf_counter()
        derivative(*args)
        first = time.perf_counter() - start
        start = time.perf_counter()
        derivative(*args)
        samples.append(first - (time.perf_counter() - start))
    lines = len(inspect.getsource(model_loss).splitlines())
    return {"lines": lines, "min_s": min(samples), "median_s": statistics.median(samples),
            "samples": len(samples)}


def compile_only(copies: int) -> None:
    """Compile (and call once) `copies` fresh copies, after the one that builds the tables."""
    import srcgrad

    args = inputs(np.random.default_rng(0))
    srcgrad.grad(_fresh_copy(), wrt=WRT)(*args)
    for _ in range(copies):
        srcgrad.grad(_fresh_copy(), wrt=WRT)(*args)


def measure_in_fresh_process(repetitions: int, environment=None) -> dict:
    """`compile_times` in a new Python process (what a user's process holds, not a
    benchmark's heap of arrays and peers' caches); {"error": ...} when it fails."""
    command = [sys.executable, os.path.abspath(__file__), "--json", str(repetitions)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,
                          env=environment)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exited {done.returncode}: {tail[:160]}"}
    return json.loads(lines[-1])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--json"]:
        print(json.dumps(compile_times(int(sys.argv[2]))))
    elif sys.argv[1:2] == ["--compile"]:
        compile_only(int(sys.argv[2]))
    else:
        result = compile_times(15)
        print(f"compiling the {result['lines']}-line model_loss: "
              f"best {result['min_s'] * 1e3:.1f} ms, median {result['median_s'] * 1e3:.1f} "
              f"ms of {result['samples']}")
