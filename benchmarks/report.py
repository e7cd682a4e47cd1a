"""Results: ratios, the Markdown table, the targets, the JSON file and the bar chart."""

from __future__ import annotations

import json
import os
import re

PEER_ORDER = ("primal", "hand", "srcgrad", "srcgrad-emitted", "autograd", "torch", "jax",
              "jax-jit", "tangent")
README_BEGIN, README_END = "<!-- results:begin -->", "<!-- results:end -->"


def add_ratios(rows: dict) -> None:
    """Time over the hand-written gradient's and over the NumPy primal's: the median of
    the ratios of samples taken in the same repetition (peers are interleaved, so the two
    samples of a pair ran within a fraction of a second of each other, and a machine that
    slows down for a while slows both), or, without paired samples, the ratio of the
    medians."""
    for key, reference in (("ratio_hand", "hand"), ("ratio_primal", "primal")):
        base = rows.get(reference, {})
        for row in rows.values():
            pairs = list(zip(row.get("per_call", ()), base.get("per_call", ())))
            if pairs and len(pairs) == len(row["per_call"]) == len(base["per_call"]):
                ratios = sorted(mine / theirs for mine, theirs in pairs)
                row[key] = _median(ratios)
                # the quartiles of the paired ratios: how far this run's noise reaches
                row[f"{key}_q1"] = _median(ratios[:len(ratios) // 2]) if len(ratios) > 1 else None
                row[f"{key}_q3"] = _median(ratios[-(len(ratios) // 2):]) if len(ratios) > 1 else None
            elif base.get("median_s") and "median_s" in row:
                row[key] = row["median_s"] / base["median_s"]
    # tracemalloc is exact where both have it; the RSS figure is page-granular
    for key in ("peak_rss_delta_bytes", "tracemalloc_peak_bytes"):
        hand_memory = rows.get("hand", {}).get(key)
        for row in rows.values():
            if hand_memory and key in row:
                row["memory_ratio_hand"] = row[key] / hand_memory


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def seconds(value) -> str:
    if value is None:
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def size(value) -> str:
    if value is None:
        return ""
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if abs(value) >= scale:
            scaled = value / scale
            return f"{scaled:.3g} {unit}" if abs(scaled) < 1000 else f"{scaled:.0f} {unit}"
    return f"{value} B"


def ratio(value) -> str:
    return "" if value is None else f"{value:.2f}"


def _row_cells(name: str, row: dict) -> list[str]:
    status = row["status"]
    if status != "ok":
        return [name, "", "", "", "", "", "", "", status.replace("|", "/")]
    memory = row.get("peak_rss_delta_bytes")
    traced = row.get("tracemalloc_peak_bytes")
    note = row.get("probe_error", "")
    return [name, seconds(row["median_s"]), seconds(row["iqr_s"]),
            ratio(row.get("ratio_hand")), ratio(row.get("ratio_primal")),
            seconds(row.get("first_call_s")), size(memory),
            "" if traced is None else size(traced), note.replace("|", "/")]


HEADER = ["peer", "median", "IQR", "x hand", "x primal", "first call", "peak RSS +",
          "tracemalloc peak", "note"]


def case_text(result: dict) -> str:
    """One case as a Markdown table (also what run.py prints as it goes)."""
    lines = [f"\n### {result['case']}: {result['title']}\n",
             "| " + " | ".join(HEADER) + " |",
             "|" + "|".join("---" if i == 0 or i == len(HEADER) - 1 else "--:"
                            for i in range(len(HEADER))) + "|"]
    for name in PEER_ORDER:
        if name in result["rows"]:
            lines.append("| " + " | ".join(_row_cells(name, result["rows"][name])) + " |")
    return "\n".join(lines)


def _srcgrad(document, workload):
    for result in document["results"]:
        if result["workload"] == workload:
            yield result["case"], result["rows"].get("srcgrad", {}), result["rows"]


def targets(document) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each of srcgrad's performance targets."""
    out = []

    def verdict(value, limit):
        return "" if value is None else ("met" if value <= limit else "missed")

    for case, row, _ in _srcgrad(document, "W1"):
        value = row.get("median_s")
        out.append((f"{case}: srcgrad <= 2 us per call", seconds(value),
                    verdict(value, 2e-6)))
    for workload, limit in (("W2", 1.15), ("W3", 1.1), ("W4", 1.15), ("W5", 1.2),
                            ("W6", 1.0)):
        for case, row, _ in _srcgrad(document, workload):
            value, low, high = (row.get(f"ratio_hand{end}") for end in ("", "_q1", "_q3"))
            said = verdict(value, limit)
            if said and low is not None and low <= limit < high:
                # the limit lies between the quartiles: another run may well decide otherwise
                said += f" (within this run's noise: quartiles {ratio(low)}-{ratio(high)})"
            out.append((f"{case}: srcgrad <= {limit}x hand", ratio(value), said))
    for workload in ("W3", "W4"):
        for case, row, _ in _srcgrad(document, workload):
            value = row.get("ratio_primal")
            out.append((f"{case}: srcgrad gradient <= 3x primal", ratio(value),
                        verdict(value, 3.0)))
    for result in document["results"]:
        row = result["rows"].get("srcgrad", {})
        for key, what in (("first_call_s", "first call in a fresh process"),
                          ("compile_again_s", "compile alone, compiler already loaded")):
            value = row.get(key)
            if value is not None:
                out.append((f"{result['case']}: srcgrad {what} <= 50 ms", seconds(value),
                            verdict(value, 0.05)))
    twenty = document.get("compile_20_lines")
    if twenty:
        out.append((f"first compile of a {twenty['lines']}-line function "
                    "(benchmarks/twenty_lines.py, best of "
                    f"{twenty['samples']}; median {seconds(twenty['median_s'])}) <= 50 ms",
                    seconds(twenty["min_s"]), verdict(twenty["min_s"], 0.05)))
    for workload in ("W4", "W6"):
        for case, row, _ in _srcgrad(document, workload):
            value = row.get("memory_ratio_hand")
            out.append((f"{case}: srcgrad peak memory <= 1.1x hand", ratio(value),
                        verdict(value, 1.1)))
    return out


def markdown(document) -> str:
    machine = document["machine"]
    summary = (f"Run `{document['command']}` on {document['date']}: {machine['cpu']}, "
               f"{machine['cores']} cores, {machine['threads']} thread(s), Python "
               f"{machine['python']}, NumPy {machine['numpy']}; "
               f"{document['wall_s']} s in all; load average (1, 5, 15 min) "
               f"{document['load_average_before']} before, "
               f"{document['load_average_after']} after; srcgrad at "
               f"{document.get('srcgrad_revision', 'unknown')}.")
    lines = [summary, "", "Peers:", ""]
    for peer in document["peers"]:
        state = peer["version"] if peer["available"] else f"unavailable: {peer['reason']}"
        lines.append(f"- `{peer['name']}` ({state}): {peer['note']}")
    for result in document["results"]:
        lines.append(case_text(result))
    lines += ["", "### srcgrad's targets", "", "| target | measured | verdict |",
              "|---|--:|---|"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in targets(document)]
    return "\n".join(lines) + "\n"


def chart(document, path: str) -> str:
    """A bar chart of time over the hand-written gradient, per case and peer (log scale).
    Returns a note when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no chart: matplotlib is not installed (pip install matplotlib)"
    names = [n for n in PEER_ORDER if n not in ("hand",) and any(
        "ratio_hand" in r["rows"].get(n, {}) for r in document["results"])]
    cases = [r["case"] for r in document["results"]]
    figure, axes = plt.subplots(figsize=(max(8, 1.3 * len(cases)), 5))
    width = 0.8 / max(len(names), 1)
    for index, name in enumerate(names):
        values = [r["rows"].get(name, {}).get("ratio_hand", float("nan"))
                  for r in document["results"]]
        axes.bar([c + (index - (len(names) - 1) / 2) * width for c in range(len(cases))],
                 values, width, label=name)
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_xticks(range(len(cases)), cases, rotation=20, ha="right")
    axes.set_ylabel("median time / hand-written NumPy gradient (log)")
    axes.set_title(f"Gradient time relative to hand-written NumPy "
                   f"({document['machine']['threads']} thread(s))")
    axes.legend(fontsize="small", ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return ""


def write(document, stem: str) -> list[str]:
    """Write <stem>.json, <stem>.md and (with matplotlib) <stem>.png; return the paths."""
    paths = [stem + ".json", stem + ".md"]
    note = chart(document, stem + ".png")
    if note:
        document["chart"] = note
        print(note)
    else:
        paths.append(stem + ".png")
    with open(paths[0], "w") as out:
        json.dump(document, out, indent=1)
        out.write("\n")
    with open(paths[1], "w") as out:
        out.write(markdown(document))
    return paths


def update_readme(path: str, document) -> None:
    """Put the latest table between the README's results markers."""
    if not os.path.exists(path):
        return
    with open(path) as readme:
        text = readme.read()
    pattern = re.compile(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        return
    body = f"{README_BEGIN}\n{markdown(document)}{README_END}"
    with open(path, "w") as readme:
        readme.write(pattern.sub(lambda _: body, text))
