#!/usr/bin/env python3
"""Exactly once at shard speed (`make bench-exactly-once`, under scripts/with-moto).

For each delay (0, 5, 10 ms) the latency proxy (scripts/latency_proxy.py) runs on
127.0.0.1 in two modes: answering itself (round trips alone bound the figures; ROUNDS
interleaved rounds, medians reported) and in front of moto (AWS_ENDPOINT_URL, one round of
CHECK_CHANGES changes: every run's totals must be exact and a redelivery must change
nothing). Prints a Markdown table per delay and mode; exits non-zero if a check failed.
MODES=alone or MODES=moto runs one mode only.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "examples", "exactly_once_bench")
DELAYS = [int(d) for d in os.environ.get("DELAYS", "0,5,10").split(",")]


def proxy(delay_ms, upstream):
    port_file = tempfile.mktemp(prefix="latency-proxy-")
    command = [sys.executable, os.path.join(ROOT, "scripts", "latency_proxy.py"), "--delay-ms", str(delay_ms),
               "--port-file", port_file]
    if upstream:
        command += ["--upstream", upstream]
    process = subprocess.Popen(command)
    for _ in range(200):
        if os.path.exists(port_file):
            with open(port_file) as f:
                port = f.read().strip()
            os.unlink(port_file)
            return process, f"http://127.0.0.1:{port}"
        time.sleep(0.05)
    process.kill()
    raise SystemExit("the latency proxy did not start")


def run(delay_ms, upstream, rounds, changes, check):
    process, endpoint = proxy(delay_ms, upstream)
    try:
        env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, ROUNDS=str(rounds), CHANGES=str(changes),
                   CHECK="1" if check else "0")
        out = subprocess.run([BINARY], env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    finally:
        process.terminate()
        process.wait()
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def table(lines, title, check):
    print(f"\n#### {title}\n")
    workloads = list(dict.fromkeys(line["workload"] for line in lines))
    contenders = list(dict.fromkeys(line["contender"] for line in lines))
    header = "| contender | " + " | ".join(f"{w}: changes/s, req/change, WCU/change" for w in workloads) + " |"
    print(header)
    print("|---|" + "---|" * len(workloads))
    failed = []
    for contender in contenders:
        cells = []
        for workload in workloads:
            runs = [l for l in lines if l["contender"] == contender and l["workload"] == workload]
            rate = statistics.median(l["changes_per_s"] for l in runs)
            requests = statistics.median(l["requests_per_change"] for l in runs)
            units = statistics.median(l["write_units_per_change"] for l in runs)
            cell = f"{rate:,.0f} · {requests:.3f} · {units:.3f}"
            if check:
                verdicts = [l["check"] for l in runs]
                ok = all(v and v["exact"] and v["redelivery_unchanged"] for v in verdicts)
                cell += " · exact" if ok else " · **WRONG** " + json.dumps(verdicts)
                if not ok:
                    failed.append((contender, workload))
            cells.append(cell)
        print(f"| {contender} | " + " | ".join(cells) + " |")
    return failed


def main():
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "-p", "handlers", "--example",
                    "exactly_once_bench"], cwd=ROOT, check=True)
    moto = os.environ.get("AWS_ENDPOINT_URL")
    rounds = int(os.environ.get("ROUNDS", "3"))
    changes = int(os.environ.get("CHANGES", "1000"))
    check_changes = int(os.environ.get("CHECK_CHANGES", "150"))
    failed = []
    modes = os.environ.get("MODES", "alone,moto").split(",")
    for delay in DELAYS:
        if "alone" in modes:
            lines = run(delay, None, rounds, changes, False)
            table(lines, f"{delay} ms per request, the proxy answering itself: {changes} changes, median of {rounds}",
                  False)
        if moto and "moto" in modes:
            lines = run(delay, moto, 1, check_changes, True)
            failed += table(lines, f"{delay} ms per request in front of moto: {check_changes} changes, checked", True)
    if failed:
        raise SystemExit(f"checks failed: {failed}")


if __name__ == "__main__":
    main()
