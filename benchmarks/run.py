"""Run every workload with every available peer and report times, first-call times and
peak memory.

    python benchmarks/run.py              # everything, one thread
    python benchmarks/run.py --quick      # smaller sizes, fewer repetitions (under 2 min)
    python benchmarks/run.py --threads 2  # two threads everywhere

Steady-state times are taken in this process, peers interleaved round-robin (the starting
peer rotates each repetition), warm-up excluded. First-call time and peak memory are
taken in a fresh process per peer per case (`--probe`). Results go to benchmarks/results/:
`<stem>.json`, `<stem>.md` and `<stem>.png` (the chart needs matplotlib). See README.md.
"""

from __future__ import annotations

import argparse
import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def pin_threads(threads: int) -> None:
    """Set every thread-count knob before NumPy, PyTorch or JAX is imported; with one
    thread, also keep the process on one CPU (XLA parallelizes its fused loops over every
    CPU it may use, whatever its flags say: unpinned, jax.jit's W6 ran on both cores)."""
    if threads == 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    os.environ["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
                               f" intra_op_parallelism_threads={threads}")
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["JAX_ENABLE_X64"] = "1"
    # A fixed mmap threshold: big arrays are mapped and unmapped, so the resident set
    # follows what is allocated (glibc otherwise raises the threshold after the first free
    # and keeps freed arrays resident in its heap). Used by the memory probes.
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes, fewer repetitions, probes for hand and srcgrad only")
    parser.add_argument("--threads", type=int, default=1, help="threads per library (default 1)")
    parser.add_argument("--only", default="",
                        help="comma-separated workloads, e.g. W3,W6 (add `compile` for the "
                             "20-line compile time, measured by default)")
    parser.add_argument("--peers", default="",
                        help="comma-separated peers (default: all available)")
    parser.add_argument("--no-probes", action="store_true",
                        help="skip the first-call and peak-memory processes")
    parser.add_argument("--out", default="",
                        help="results file stem (default latest, latest-quick, latest-threads2)")
    parser.add_argument("--probe", nargs=2, metavar=("PEER", "CASE"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    ARGUMENTS = parse_arguments()
    pin_threads(ARGUMENTS.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import harness

    sys.exit(harness.main(ARGUMENTS))
