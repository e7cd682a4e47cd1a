"""Would fusing W6's elementwise chain beat the hand-written NumPy gradient, and reach
jax.jit? One thread, median of repeated calls, every variant checked against the
hand-written gradient (which updates in place) before it is timed.

Variants: the whole gradient as one numexpr expression; numexpr for the arithmetic only
(tanh and exp by NumPy); the hand-written gradient run over blocks of 2^15 elements, so
that its temporaries stay in the cache (NumPy only); the same blocks with numexpr for the
arithmetic; srcgrad's emitted gradient, whose chain of elementwise statements
`xp.blockwise` runs over blocks of 2^14 elements (called directly, without the
`Derivative` wrapper); and jax.jit when JAX is installed (XLA fuses the whole chain into
one loop).

Run:  python benchmarks/numexpr_eval.py     (needs `pip install numexpr`; JAX optional)
"""

import os

if hasattr(os, "sched_setaffinity"):  # one CPU: XLA would spread its loop over all of them
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
os.environ.setdefault("NUMEXPR_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")

import sys  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

import workloads  # noqa: E402

BLOCK = 1 << 15  # elements per block: 256 KiB of float64, a few arrays fit in L2


def _blocked(gradient_of_block):
    def blocked(x):
        out = np.empty_like(x)
        for start in range(0, x.size, BLOCK):
            out[start:start + BLOCK] = gradient_of_block(x[start:start + BLOCK])
        return out
    return blocked


def _srcgrad_variant():
    import srcgrad

    gradient = srcgrad.grad(workloads.elementwise)
    gradient(np.ones(4))  # compiled for 1-d float64 arrays
    namespace: dict = {}
    exec(compile(gradient.source, "<srcgrad W6>", "exec"), namespace)
    return namespace["elementwise_grad"]


def _jax_variant():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    gradient = jax.jit(jax.grad(lambda x: jnp.sum(jnp.tanh(x) ** 2 * jnp.exp(-x))))

    def run(x):  # (x is already a JAX array: see `arguments`)
        return gradient(x).block_until_ready()
    run.arguments = jnp.asarray  # the benchmark's jax peers also take JAX arrays
    return run


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

    variants = [("hand-written NumPy", workloads.elementwise_grad),
                ("numexpr, whole expression", fused_all),
                ("numexpr, arithmetic only", fused_arithmetic),
                ("NumPy in blocks", _blocked(workloads.elementwise_grad)),
                ("numexpr arithmetic in blocks", _blocked(fused_arithmetic))]
    variants.append(("srcgrad (emitted, in blocks)", _srcgrad_variant()))
    jitted = _jax_variant()
    if jitted is not None:
        variants.append(("jax.jit", jitted))
    print(f"numexpr {ne.__version__}, NumPy {np.__version__}, one thread, "
          f"blocks of {BLOCK} elements")
    for n in (10**6, 10**7):
        x = np.random.default_rng(0).uniform(-2.0, 2.0, n)
        expected = workloads.elementwise_grad(x)
        times = {label: [] for label, _ in variants}
        inputs = {label: getattr(fn, "arguments", lambda a: a)(x) for label, fn in variants}
        for label, fn in variants:
            np.testing.assert_allclose(np.asarray(fn(inputs[label])), expected, rtol=1e-9,
                                       atol=1e-15)
        for _ in range(5):  # interleaved rounds, so that drift hits every variant alike
            for label, fn in variants:
                times[label] += timeit.repeat(lambda fn=fn, a=inputs[label]: fn(a), number=1,
                                              repeat=3)
        hand = np.median(times["hand-written NumPy"])
        for label, _ in variants:
            seconds = np.median(times[label])
            print(f"n={n:>9}  {label:30} {seconds * 1e3:8.1f} ms  {seconds / hand:5.2f}x hand")
    return 0


if __name__ == "__main__":
    sys.exit(main())
