"""The benchmark machinery behind run.py: timing in this process, probes in fresh
processes, checks against the hand-written gradient, and the results files.

run.py pins the thread counts before this module (and with it NumPy) is imported.
"""

from __future__ import annotations

import dataclasses
import datetime
import gc
import itertools
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
import types
import warnings

import numpy as np
import peers as peers_module
import report
import twenty_lines
import workloads

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

# (repetitions, seconds per sample) for the in-process timing
FULL_TIMING = (15, 0.02)
QUICK_TIMING = (5, 0.005)
QUICK_PROBE_PEERS = ("primal", "hand", "srcgrad")
# the emitted function is the one srcgrad runs, so its first call and memory are srcgrad's
UNPROBED_PEERS = ("srcgrad-emitted",)
CHECK_RTOL = 1e-7

warnings.filterwarnings("ignore", category=SyntaxWarning)  # Tangent's generated code


# ---------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------

def _loop(function, args, number: int) -> float:
    """Seconds for `number` calls of function(*args), garbage collection off (as timeit)."""
    repeat, clock = itertools.repeat, time.perf_counter
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for _ in repeat(None, number):
            function(*args)
        return clock() - start
    finally:
        if enabled:
            gc.enable()


def _calibrate(function, args, target: float) -> int:
    """Calls per sample so that one sample takes at least `target` seconds."""
    number = 1
    while True:
        elapsed = _loop(function, args, number)
        if elapsed >= target or number >= 1 << 24:
            return number
        number = max(number * 2, int(number * target / max(elapsed, 1e-9) * 1.2))


def _summary(per_call: list[float]) -> dict:
    q1, median, q3 = np.percentile(per_call, [25, 50, 75])
    return {"median_s": float(median), "min_s": float(min(per_call)), "q1_s": float(q1), "q3_s": float(q3),
            "iqr_s": float(q3 - q1), "samples": len(per_call)}


def _check(result: tuple, reference: tuple) -> str:
    """'' when `result` matches the hand-written gradient, else what differs."""
    if len(result) != len(reference):
        return f"{len(result)} gradients, expected {len(reference)}"
    worst = 0.0
    for index, (got, want) in enumerate(zip(result, reference, strict=True)):
        got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
        if got.shape != want.shape:
            return f"gradient {index} has shape {got.shape}, expected {want.shape}"
        scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-300)
        error = float(np.max(np.abs(got - want), initial=0.0)) / scale
        if not np.isfinite(error) or error > CHECK_RTOL:
            return f"gradient {index} differs: max error {error:.2e} of its largest entry"
        worst = max(worst, error)
    return ""


def time_case(case, peers, repetitions: int, target: float) -> dict[str, dict]:
    """Check, then time, every peer on `case`; peers interleaved per repetition."""
    reference = case.hand_gradient()
    rows, ready = {}, []
    for peer in peers:
        row = rows[peer.name] = {"status": "ok"}
        if not peer.available:
            row["status"] = f"unavailable: {peer.reason}"
            continue
        try:
            prepared = peer.prepare(case)
            start = time.perf_counter()
            result = prepared.function(*prepared.args)
            row["first_call_in_process_s"] = time.perf_counter() - start
            mismatch = _check(prepared.to_numpy(result), reference) if peer.name != "primal" else ""
        except Exception as exc:  # noqa: BLE001 - a peer that fails is reported, not fatal
            row["status"] = "error: " + f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
            continue
        if mismatch:
            row["status"] = f"mismatch: {mismatch}"
            continue
        del result
        _loop(prepared.function, prepared.args, 3)  # warm-up
        row["number"] = _calibrate(prepared.function, prepared.args, target)
        row["per_call"] = []
        ready.append((peer.name, prepared))
    for repetition in range(repetitions):
        shift = repetition % max(len(ready), 1)
        for name, prepared in ready[shift:] + ready[:shift]:
            number = rows[name]["number"]
            rows[name]["per_call"].append(_loop(prepared.function, prepared.args, number) / number)
    for name, _ in ready:
        rows[name].update(_summary(rows[name]["per_call"]))
    return rows


# ---------------------------------------------------------------------------------------
# probes: first call and peak memory, one fresh process per peer per case
# ---------------------------------------------------------------------------------------

def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (VmHWM) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def probe(peer_name: str, case_key: str) -> dict:
    """In a fresh process: import the peer, time its first call (compilation, tracing and
    the call itself), then measure the peak extra memory of warm calls."""
    key, _, size = case_key.partition(":")
    workload = next(w for w in workloads.WORKLOADS if w.key == key)
    case = workloads.make_case(workload, type(workload.sizes[0])(size))
    peer = next(cls() for cls in peers_module.PEERS if cls.name == peer_name)
    start = time.perf_counter()
    if not peer.load():
        return {"error": peer.reason}
    out = {"import_s": time.perf_counter() - start}
    gc.collect()
    # Tangent transforms when the derivative is made, srcgrad and JAX at its first call:
    # time both
    start = time.perf_counter()
    prepared = peer.prepare(case)
    function, args = prepared.function, prepared.args
    result = function(*args)
    out["first_call_s"] = time.perf_counter() - start
    del result
    for _ in range(2):
        function(*args)
    deltas = []
    for _ in range(3):
        gc.collect()
        baseline = _status_kib("VmRSS")
        if not _reset_peak_rss():
            break
        result = function(*args)
        deltas.append(_status_kib("VmHWM") - baseline)
        del result
    if deltas:
        out["peak_rss_delta_bytes"] = int(np.median(deltas))
    if peer.name == "srcgrad":
        out["compile_again_s"] = _compile_again(case)
    if peer.numpy_based:
        gc.collect()
        tracemalloc.start()
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        result = function(*args)
        out["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1] - baseline
        tracemalloc.stop()
        del result
    return out


# Probes import modules as users do, from cached bytecode: with PYTHONDONTWRITEBYTECODE
# set, every fresh process would compile srcgrad's (editable) sources again and count it
# as first-call time. `warm_bytecode` writes the caches once before the probes.
PROBE_ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def warm_bytecode(peers, case, threads: int) -> None:
    for peer in peers:
        if peer.available and peer.name not in UNPROBED_PEERS:
            run_probe(peer.name, case, threads)


def _compile_again(case) -> float:
    """Seconds srcgrad takes to compile a fresh copy of the primal (no call), in a process
    that has compiled once already: the compiler is imported, its tables are built."""
    primal = case.workload.primal
    copy = types.FunctionType(primal.__code__, primal.__globals__, primal.__name__,
                              primal.__defaults__, primal.__closure__)
    fresh = dataclasses.replace(case.workload, primal=copy)
    start = time.perf_counter()
    dataclasses.replace(case, workload=fresh).srcgrad_derivative().emitted_function()
    return time.perf_counter() - start


def run_probe(peer_name: str, case, threads: int) -> dict:
    command = [sys.executable, os.path.join(HERE, "run.py"), "--threads", str(threads),
               "--probe", peer_name, f"{case.workload.key}:{case.size}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                              check=False, env=PROBE_ENVIRONMENT)
        lines = done.stdout.strip().splitlines()
        if done.returncode or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return {"error": f"probe exited {done.returncode}: {tail[:160]}"}
        return json.loads(lines[-1])
    except subprocess.TimeoutExpired:
        return {"error": "probe timed out after 600 s"}


# ---------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------

def machine(threads: int) -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__,
            "threads": threads}


def revision() -> str:
    """The checkout's commit, with "+ changes" when srcgrad/ differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "../srcgrad"],
                                 cwd=HERE, capture_output=True, text=True,
                                 check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted changes to srcgrad/" if changed else "")


def main(arguments) -> int:
    if arguments.probe:
        print(json.dumps(probe(*arguments.probe)))
        return 0
    quick, threads = arguments.quick, arguments.threads
    started = time.perf_counter()
    load_before = os.getloadavg()
    only = {k.strip() for k in arguments.only.split(",") if k.strip()}
    wanted = {k.strip() for k in arguments.peers.split(",") if k.strip()}
    peers = [cls() for cls in peers_module.PEERS if not wanted or cls.name in wanted
             or cls.name in ("primal", "hand")]
    for peer in peers:
        peer.load()
        state = peer.version if peer.available else f"unavailable ({peer.reason})"
        print(f"{peer.name:16} {state}", flush=True)
    repetitions, target = QUICK_TIMING if quick else FULL_TIMING
    results = []
    if not arguments.no_probes:
        warm_bytecode([p for p in peers if not quick or p.name in QUICK_PROBE_PEERS],
                      workloads.make_case(workloads.WORKLOADS[0], 1), threads)
    for case in workloads.cases(quick=quick, only=only):
        gc.collect()
        rows = time_case(case, peers, repetitions, target)
        if not arguments.no_probes:
            for peer in peers:
                row = rows[peer.name]
                if (row["status"] != "ok" or peer.name in UNPROBED_PEERS
                        or (quick and peer.name not in QUICK_PROBE_PEERS)):
                    continue
                probed = run_probe(peer.name, case, threads)
                if "error" in probed:
                    row["probe_error"] = probed["error"]
                row.update({k: v for k, v in probed.items() if k != "error"})
        report.add_ratios(rows)
        results.append({"case": case.name, "workload": case.workload.key,
                        "title": case.workload.title, "size": case.size,
                        "rows": rows})
        print(report.case_text(results[-1]), flush=True)
    twenty = None
    if not only or "compile" in only:
        twenty = twenty_lines.measure_in_fresh_process(7 if quick else 15, PROBE_ENVIRONMENT)
        if "error" in twenty:
            print(f"compile the 20-line function: {twenty['error']}", flush=True)
            twenty = None
        else:
            print(f"compile the {twenty['lines']}-line function (benchmarks/twenty_lines.py): "
                  f"best {twenty['min_s'] * 1e3:.1f} ms, median "
                  f"{twenty['median_s'] * 1e3:.1f} ms", flush=True)
    document = {
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "srcgrad_revision": revision(),
        "load_average_before": [round(v, 2) for v in load_before],
        "machine": machine(threads),
        "timing": {"repetitions": repetitions, "seconds_per_sample": target},
        "peers": [{"name": p.name, "available": p.available, "version": p.version,
                   "reason": p.reason, "note": p.note} for p in peers],
        "results": results,
        "compile_20_lines": twenty,
        "wall_s": None,
    }
    document["wall_s"] = round(time.perf_counter() - started, 1)
    document["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    stem = arguments.out or "latest" + ("-quick" if quick else "") + (
        f"-threads{threads}" if threads != 1 else "")
    os.makedirs(RESULTS, exist_ok=True)
    paths = report.write(document, os.path.join(RESULTS, stem))
    if stem == "latest":
        report.update_readme(os.path.join(HERE, "README.md"), document)
    print(f"\n{time.perf_counter() - started:.0f} s; wrote " + ", ".join(
        os.path.relpath(p, os.getcwd()) for p in paths))
    return 0
