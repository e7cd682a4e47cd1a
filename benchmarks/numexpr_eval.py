"""Would fusing elementwise chains with numexpr speed up W6's gradient? One thread, median
of repeated calls, against the hand-written NumPy gradient (which updates in place).

Run:  python benchmarks/numexpr_eval.py     (needs `pip install numexpr`)
"""

import os

os.environ.setdefault("NUMEXPR_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

import workloads  # noqa: E402


def main() -> int:
    try:
        import numexpr as ne
    except ImportError:
        print("numexpr is not installed (pip install numexpr); nothing to compare")
        return 1
    ne.set_num_threads(1)

    def fused_all(x):  # the whole gradient as one numexpr expression
        return ne.evaluate("exp(-x) * tanh(x) * (2.0 * (1.0 - tanh(x) * tanh(x)) - tanh(x))",
                           local_dict={"x": x})

    def fused_arithmetic(x):  # transcendental functions by NumPy, the arithmetic fused
        t, e = np.tanh(x), np.exp(-x)
        return ne.evaluate("e * t * (2.0 * (1.0 - t * t) - t)", local_dict={"t": t, "e": e})

    print(f"numexpr {ne.__version__}, NumPy {np.__version__}, one thread")
    for n in (10**6, 10**7):
        x = np.random.default_rng(0).uniform(-2.0, 2.0, n)
        expected = workloads.elementwise_grad(x)
        for label, fn in (("hand-written NumPy", workloads.elementwise_grad),
                          ("numexpr, whole expression", fused_all),
                          ("numexpr, arithmetic only", fused_arithmetic)):
            np.testing.assert_allclose(fn(x), expected, rtol=1e-9, atol=1e-15)
            seconds = np.median(timeit.repeat(lambda fn=fn: fn(x), number=3, repeat=7)) / 3
            print(f"n={n:>9}  {label:28} {seconds * 1e3:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
