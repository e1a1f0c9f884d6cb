#!/usr/bin/env python3
"""The benchmark report's figures and chart, from the last `make bench` run.

Reads criterion's estimates (target/criterion/), the memory and start-up figures
(target/bench-figures/) and the end-to-end figures (target/bench-e2e.json), prints the
tables that docs/benchmarks.md shows, and draws docs/benchmarks.png. Run by `make bench` after the benchmarks.
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"
FIGURES = ROOT / "target" / "bench-figures"
SIZES = [100, 1_000, 5_000]
CONTENDERS = ["framework", "baseline", "floor"]
CONCURRENCY = ["critical_path", "per_key_100", "per_key_16", "in_order"]


def mean_ms(*parts: str) -> float:
    estimates = CRITERION.joinpath(*parts, "new", "estimates.json")
    if not estimates.exists():
        sys.exit(f"{estimates} is missing: run `make bench` first")
    return json.loads(estimates.read_text())["mean"]["point_estimate"] / 1e6


def main() -> None:
    decode = {c: [mean_ms("decode", c, str(n)) for n in SIZES] for c in CONTENDERS}
    concurrency = {name: mean_ms("per_key_2ms_io_1000_records_100_keys", name) for name in CONCURRENCY}
    memory = json.loads((FIGURES / "memory.json").read_text())
    startup = json.loads((FIGURES / "startup.json").read_text())
    e2e_path = ROOT / "target" / "bench-e2e.json"
    if not e2e_path.exists():
        sys.exit(f"{e2e_path} is missing: run `make bench` first")
    e2e = json.loads(e2e_path.read_text())

    print("| records | framework | baseline | floor | baseline / framework | framework / floor |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for i, n in enumerate(SIZES):
        f, b, fl = (decode[c][i] for c in CONTENDERS)
        print(f"| {n:,} | {f:.2f} ms | {b:.2f} ms | {fl:.2f} ms | {b / f:.2f}x | {f / fl:.2f}x |")
    critical = concurrency["critical_path"]
    print("\n| run | time | against the critical path |\n| --- | ---: | ---: |")
    for name, ms in concurrency.items():
        print(f"| {name} | {ms:.1f} ms | {ms / critical:.2f}x |")
    payload = memory["payload_bytes"]
    print(f"\npeak heap for {memory['records']:,} records, {payload / 1e6:.2f} MB payload:")
    for c in ["framework", "baseline"]:
        peak = memory[f"{c}_peak_bytes"]
        print(f"  {c}: {peak / 1e6:.2f} MB ({peak / payload:.2f}x the payload)")
    summary = e2e["summary"]
    print("\n| contender | median | peak resident memory |\n| --- | ---: | ---: |")
    for label, r in e2e["results"].items():
        print(f"| {label} | {r['median_ms']:.2f} ms | {r['peak_kib'] / 1024:.1f} MiB |")
    print(f"framework / baseline {summary['framework_over_baseline']:.2f}x, framework / floor "
          f"{summary['framework_over_floor']:.2f}x, Kinesis / stream {summary['kinesis_over_stream']:.2f}x")
    print(
        f"\n{startup['binary']}: start-up median {startup['startup_ms_median']:.2f} ms over {startup['runs']} runs, "
        f"stripped size {startup['size_bytes'] / 1e6:.2f} MB"
    )

    colors = {"framework": "#2b6cb0", "baseline": "#c05621", "floor": "#718096"}
    fig, (e2e_axis, left, middle, right) = plt.subplots(1, 4, figsize=(21, 4.8))
    labels = list(e2e["results"])
    values = [e2e["results"][label]["median_ms"] for label in labels]
    palette = [colors.get(label.split(",")[0], "#4299e1") for label in labels]
    bars = e2e_axis.bar(range(len(labels)), values, color=palette)
    e2e_axis.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=8)
    e2e_axis.set_xticks(range(len(labels)), [label.replace(", ", ",\n") for label in labels], fontsize=7)
    baseline_ms, floor_ms = e2e["results"]["baseline"]["median_ms"], e2e["results"]["floor"]["median_ms"]
    e2e_axis.axhline(0.40 * baseline_ms, color="#2f855a", linestyle="--", label="target: 0.40x the baseline")
    e2e_axis.axhline(2.5 * floor_ms, color="#805ad5", linestyle=":", label="target: 2.5x the floor")
    e2e_axis.set_ylabel("ms per invocation (median)")
    e2e_axis.set_title("Through the Runtime API, 5,000 records")
    e2e_axis.legend(fontsize=7)
    width = 0.27
    for k, c in enumerate(CONTENDERS):
        xs = [i + (k - 1) * width for i in range(len(SIZES))]
        bars = left.bar(xs, decode[c], width, label=c, color=colors[c])
        left.bar_label(bars, labels=[f"{v:.1f}" for v in decode[c]], fontsize=7)
    left.set_xticks(range(len(SIZES)), [f"{n:,} records" for n in SIZES])
    left.set_yscale("log")
    left.set_ylabel("ms per batch (log scale)")
    left.set_title("Decode end to end: bytes in, response out")
    left.legend()

    names = ["framework", "baseline"]
    peaks = [memory[f"{c}_peak_bytes"] / payload for c in names]
    bars = middle.bar(names, peaks, color=[colors[c] for c in names])
    middle.bar_label(bars, labels=[f"{p:.2f}x" for p in peaks])
    middle.axhline(3, color="#2f855a", linestyle="--", label="target: 3x the payload")
    middle.set_ylabel("peak heap / payload size")
    middle.set_title(f"Peak memory, {memory['records']:,} records ({payload / 1e6:.1f} MB)")
    middle.legend()

    labels = ["critical path", "per key (100)", "per key (16)", "in order"]
    values = [concurrency[n] for n in CONCURRENCY]
    bars = right.bar(labels, values, color=["#718096", "#2b6cb0", "#4299e1", "#c05621"])
    right.bar_label(bars, labels=[f"{v:.0f}" for v in values], fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("ms per batch (log scale)")
    right.set_title("1,000 records, 100 keys, 2 ms I/O each")

    fig.tight_layout()
    out = ROOT / "docs" / "benchmarks.png"
    fig.savefig(out, dpi=110)
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
