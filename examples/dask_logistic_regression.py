"""Logistic regression on a chunked Dask array, trained by gradient descent with the
gradient srcgrad generates: first on Dask's local threaded scheduler, then on a
`LocalCluster` of worker processes on this machine, each checked against the same steps
run on NumPy.

The parameters `w`, `b` are small NumPy arrays; the data `X`, `y` are Dask arrays split
into row chunks. Called with them, the emitted gradient runs on the Dask backend: each
step builds a lazy graph that reduces the rows chunk by chunk, and `dask.compute` runs
it in parallel.

Run it:  python examples/dask_logistic_regression.py [--rows 2000000] [--workers 2]
(needs `pip install "srcgrad[dask]"`)
"""

from __future__ import annotations

import argparse
import time

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster

import srcgrad


def loss(w, b, X, y):
    """Mean logistic loss (negative log-likelihood) of labels y in {0, 1}."""
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


gradient = srcgrad.grad(loss, wrt=("w", "b"))


def make_data(rows, features, chunks, seed=0):
    """A synthetic data set as lazy Dask arrays, drawn chunk by chunk (the same numbers on
    every scheduler)."""
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, features), chunks=(-(-rows // chunks), features))
    w_true = np.linspace(-1.0, 1.0, features)
    p = 1.0 / (1.0 + np.exp(-(X @ w_true + 0.5)))
    y = (rng.random(rows, chunks=X.chunks[0]) < p).astype(np.float64)
    return X, y


def train(X, y, steps, lr, compute):
    """Plain gradient descent from zeros; `compute` turns the step's gradients (lazy on
    Dask, already values on NumPy) into NumPy values."""
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(steps):
        gw, gb = compute(*gradient(w, b, X, y))
        w, b = w - lr * gw, b - lr * float(gb)
    return w, b


def report(label, seconds, w, b, reference):
    difference = max(np.max(np.abs(w - reference[0])), abs(b - reference[1]))
    matches = bool(np.allclose(w, reference[0], rtol=1e-9, atol=1e-12)
                   and np.isclose(b, reference[1], rtol=1e-9, atol=1e-12))
    print(f"{label:<34} {seconds:6.2f} s   max |difference from NumPy| = {difference:.1e}"
          f"   matches NumPy: {matches}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=8, help="row chunks of the data")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of the LocalCluster")
    args = parser.parse_args(argv)

    X, y = make_data(args.rows, args.features, args.chunks)
    X, y = dask.persist(X, y, scheduler="threads")
    X_host, y_host = dask.compute(X, y, scheduler="threads")
    print(f"{args.rows} rows x {args.features} features in {len(X.chunks[0])} chunks, "
          f"{args.steps} steps of gradient descent")

    start = time.perf_counter()
    reference = train(X_host, y_host, args.steps, args.lr, lambda *g: g)
    print(f"{'NumPy':<34} {time.perf_counter() - start:6.2f} s   "
          f"loss {loss(*reference, X_host, y_host):.6f}")

    start = time.perf_counter()
    with dask.config.set(scheduler="threads"):
        w, b = train(X, y, args.steps, args.lr, dask.compute)
    report("Dask, threaded scheduler", time.perf_counter() - start, w, b, reference)

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        start = time.perf_counter()
        # The cluster draws the same data itself, chunk by chunk, and keeps it.
        X, y = client.persist(list(make_data(args.rows, args.features, args.chunks)))
        w, b = train(X, y, args.steps, args.lr, lambda *g: client.compute(g, sync=True))
        report(f"Dask, LocalCluster ({args.workers} processes)", time.perf_counter() - start,
               w, b, reference)


if __name__ == "__main__":
    main()
