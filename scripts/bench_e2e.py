#!/usr/bin/env python3
"""End to end through the Lambda Runtime API: each contender (`framework/examples/e2e.rs`,
release build) runs as a Lambda function in a warm process of its own, polling a Runtime
API stand-in (`tests/runtime_api.py`); the same 5,000-record, 6.0 MB NEW_AND_OLD_IMAGES
batch is handed to each in turn, interleaved, ROUNDS rounds after WARMUP. A time is from
the moment the stand-in hands the event out to the moment the answer arrives: the transfer
of the 6 MB both ways on the loopback, the runtime crate and the function, but not the
stand-in's own queueing. Peak memory is each process's VmHWM (resident high-water mark).

Prints the figures as a Markdown table and writes them to target/bench-e2e.json."""

import json
import os
import pathlib
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from runtime_api import RuntimeApi  # noqa: E402

BINARY = ROOT / "target" / "release" / "examples" / "e2e"
ROUNDS = int(os.environ.get("E2E_ROUNDS", "7"))
WARMUP = 2
RECORDS = 5_000
CONTENDERS = [
    ("framework", "framework", "stream"),
    ("baseline", "baseline", "stream"),
    ("floor", "floor", "stream"),
    ("framework, through Kinesis", "framework", "kinesis"),
    ("floor, through Kinesis", "floor", "kinesis"),
]


class Contender:
    def __init__(self, label, mode, payload, binary=BINARY):
        self.label, self.payload = label, payload
        self.api = RuntimeApi(deadline_ms=900_000)
        env = dict(os.environ, **self.api.environment(), RUST_LOG="error", AWS_LAMBDA_LOG_LEVEL="ERROR")
        self.process = subprocess.Popen([str(binary), mode], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.times = []

    def invoke(self):
        request_id = self.api.submit(self.payload)
        kind, body = self.api.wait([request_id], timeout=120)[request_id]
        if kind != "response" or body.get("batchItemFailures") != []:
            raise RuntimeError(f"{self.label}: unexpected answer {kind} {str(body)[:200]}")
        return self.api.answered[request_id] - self.api.handed_out[request_id]

    def peak_kib(self):
        status = pathlib.Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(l for l in status.splitlines() if l.startswith("VmHWM:"))
        return int(line.split()[1])

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.api.stop()


def main():
    payloads = {}
    for kind in ("stream", "kinesis"):
        payloads[kind] = subprocess.run([str(BINARY), "payload", str(RECORDS), kind], check=True,
                                        capture_output=True).stdout
    contenders = [Contender(label, mode, payloads[kind]) for label, mode, kind in CONTENDERS]
    # E2E_COMPARE=<label>=<binary>: another build of the example, as a framework contender
    # beside the others (how a change is measured against what it replaces).
    if os.environ.get("E2E_COMPARE"):
        label, binary = os.environ["E2E_COMPARE"].split("=", 1)
        contenders.append(Contender(label, "framework", payloads["stream"], binary))
    try:
        for _ in range(WARMUP):
            for c in contenders:
                c.invoke()
        for _ in range(ROUNDS):
            for c in contenders:
                c.times.append(c.invoke())
        results = {c.label: {"median_ms": statistics.median(c.times) * 1000,
                             "times_ms": [t * 1000 for t in c.times],
                             "peak_kib": c.peak_kib(), "payload_bytes": len(c.payload)} for c in contenders}
    finally:
        for c in contenders:
            c.stop()
    framework, baseline, floor = (results[k]["median_ms"] for k in ("framework", "baseline", "floor"))
    summary = {
        "framework_over_baseline": framework / baseline,
        "framework_over_floor": framework / floor,
        "kinesis_over_stream": results["framework, through Kinesis"]["median_ms"] / framework,
    }
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target" / "bench-e2e.json").write_text(json.dumps({"results": results, "summary": summary}, indent=2))
    mb = len(payloads["stream"]) / 1e6
    print(f"End to end, {RECORDS:,} records ({mb:.2f} MB stream event, "
          f"{len(payloads['kinesis']) / 1e6:.2f} MB through Kinesis), median of {ROUNDS} interleaved rounds:\n")
    print("| contender | median | peak resident memory |")
    print("| --- | ---: | ---: |")
    for label, r in results.items():
        print(f"| {label} | {r['median_ms']:.2f} ms | {r['peak_kib'] / 1024:.1f} MiB |")
    print(f"\nframework / baseline: {summary['framework_over_baseline']:.2f}x (target at most 0.40x); "
          f"framework / floor: {summary['framework_over_floor']:.2f}x (target at most 2.5x); "
          f"through Kinesis / stream event: {summary['kinesis_over_stream']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
