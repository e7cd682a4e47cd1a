"""GPU benchmark: srcgrad's emitted gradient on CuPy arrays against a hand-written CuPy
gradient and PyTorch autograd on CUDA, for an MLP loss and an elementwise loss.

Each row times one gradient evaluation (median over repeats, the device synchronised
around each): the function alone, srcgrad's gradient, the hand-written gradient and
PyTorch's forward + backward. It reports srcgrad / hand-written (the practical limit) and
srcgrad / function (the cheap-gradient principle, ideally under ~3). Before timing, it
checks that the three gradients agree.

Run it on a machine with an NVIDIA GPU:

    pip install "srcgrad[gpu]" torch
    python benchmarks/gpu.py [--dtype float32] [--repeat 50] [--scale 1.0]

Without a GPU it says so and exits with status 1; `--cpu` runs the same code on NumPy
and PyTorch's CPU device instead (a dry run: checks, but no GPU timings).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time

import numpy as np

import srcgrad

# -- the workloads, as a user writes them -------------------------------------------------------


def mlp_loss(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def elementwise_loss(x, y):
    return np.sum(np.logaddexp(0.0, -x * y) + 0.5 * np.tanh(x) ** 2)


# -- the same gradients written by hand ---------------------------------------------------------


def mlp_grad_by_hand(xp, W1, b1, W2, b2, X, y):
    h = xp.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    g_out = (2.0 / out.size) * (out - y)
    g_pre = (g_out @ W2.T) * (1.0 - h * h)
    return X.T @ g_pre, g_pre.sum(axis=0), h.T @ g_out, g_out.sum(axis=0)


def elementwise_grad_by_hand(xp, x, y):
    t = xp.tanh(x)
    margin = -x * y
    return -y * xp.exp(margin - xp.logaddexp(0.0, margin)) + t * (1.0 - t * t)


# -- PyTorch ------------------------------------------------------------------------------------


def torch_mlp_loss(torch, W1, b1, W2, b2, X, y):
    h = torch.tanh(X @ W1 + b1)
    return torch.mean((h @ W2 + b2 - y) ** 2)


def torch_elementwise_loss(torch, x, y):
    return torch.sum(torch.nn.functional.softplus(-x * y) + 0.5 * torch.tanh(x) ** 2)


def torch_gradient(torch, loss, arrays, wrt):
    tensors = [torch.as_tensor(a) for a in arrays]
    leaves = [t.requires_grad_() if i in wrt else t for i, t in enumerate(tensors)]

    def run():
        for i in wrt:
            leaves[i].grad = None
        loss(torch, *leaves).backward()
        return tuple(leaves[i].grad for i in wrt)

    return run


# -- timing -------------------------------------------------------------------------------------


def timed(run, synchronize, repeat):
    """Median wall time of `run()` in milliseconds, after two warm-up calls."""
    for _ in range(2):
        run()
    synchronize()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def workloads(xp, dtype, scale):
    rng = np.random.default_rng(0)

    def normal(*shape, std=1.0):
        return xp.asarray((rng.standard_normal(shape) * std).astype(dtype))

    batch, n_in, hidden, n_out = int(8192 * scale), 512, 1024, 16
    mlp = (normal(n_in, hidden, std=n_in ** -0.5), normal(hidden, std=0.1),
           normal(hidden, n_out, std=hidden ** -0.5), normal(n_out, std=0.1),
           normal(batch, n_in), normal(batch, n_out))
    n = int(10_000_000 * scale)
    elementwise = (normal(n), xp.sign(normal(n)))
    return [
        (f"MLP {batch}x{n_in}-{hidden}-{n_out}", mlp_loss, mlp, (0, 1, 2, 3),
         mlp_grad_by_hand, torch_mlp_loss),
        (f"elementwise, {n:,} elements", elementwise_loss, elementwise, (0,),
         elementwise_grad_by_hand, torch_elementwise_loss),
    ]


def _load(args):
    """(array module, to_host, synchronize, torch or None, torch device, device name)."""
    if args.cpu:
        return np, np.asarray, lambda: None, *_torch("cpu"), "CPU (dry run)"
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("CuPy sees no GPU")
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except (ImportError, RuntimeError) as error:  # no CuPy, or CUDA failing to start
        sys.exit(f"benchmarks/gpu.py needs an NVIDIA GPU with CuPy "
                 f'(pip install "srcgrad[gpu]"): {type(error).__name__}: {error}\n'
                 "Use --cpu for a dry run on NumPy.")

    def synchronize():
        cupy.cuda.Device().synchronize()

    return cupy, cupy.asnumpy, synchronize, *_torch("cuda"), name


def _torch(device):
    try:
        import torch
    except ImportError:
        return None, None
    if device == "cuda" and not torch.cuda.is_available():
        return None, None
    return torch, device


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the sizes")
    parser.add_argument("--cpu", action="store_true",
                        help="dry run on NumPy (and PyTorch's CPU device)")
    args = parser.parse_args(argv)
    xp, to_host, synchronize, torch, device, name = _load(args)
    tolerance = 1e-3 if args.dtype == "float32" else 1e-9
    print(f"device: {name}; dtype {args.dtype}; median of {args.repeat} runs, in ms")
    if torch is None:
        print("PyTorch with this device is not available: its column is left empty")
    print(f"{'workload':<34}{'function':>10}{'srcgrad':>10}{'by hand':>10}{'PyTorch':>10}"
          f"{'srcgrad/hand':>14}{'srcgrad/f':>11}")

    for label, loss, arrays, wrt, by_hand, torch_loss in workloads(xp, args.dtype, args.scale):
        gradient = srcgrad.grad(loss, wrt=wrt)
        ours = gradient(*arrays)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = by_hand(xp, *arrays)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for a, b in zip(ours, theirs, strict=True):
            assert type(a) is type(b) and a.dtype == b.dtype, (type(a), a.dtype, b.dtype)
            np.testing.assert_allclose(to_host(a), to_host(b), rtol=tolerance, atol=tolerance)
        times = [timed(functools.partial(loss, *arrays), synchronize, args.repeat),
                 timed(functools.partial(gradient, *arrays), synchronize, args.repeat),
                 timed(functools.partial(by_hand, xp, *arrays), synchronize, args.repeat)]
        if torch is not None:
            run = torch_gradient(torch, torch_loss, [torch.as_tensor(to_host(a), device=device)
                                                     for a in arrays], wrt)
            for a, b in zip(run(), theirs, strict=True):
                np.testing.assert_allclose(a.detach().cpu().numpy(), to_host(b),
                                           rtol=tolerance * 10, atol=tolerance * 10)
            sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
            times.append(timed(run, sync, args.repeat))
        cells = "".join(f"{t:10.3f}" for t in times) + ("" if torch else f"{'':>10}")
        print(f"{label:<34}{cells}{times[1] / times[2]:14.2f}{times[1] / times[0]:11.2f}")


if __name__ == "__main__":
    main()
