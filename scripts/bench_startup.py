#!/usr/bin/env python3
"""Start-up time and size of a handler binary.

Start-up is what a cold start adds on top of Lambda's own work: from exec until the
binary's first request to the Runtime API (`GET /2018-06-01/runtime/invocation/next`),
which it makes once its init (settings, SDK config, router) is done. A local socket plays
the Runtime API; each run starts a fresh process. Prints the figures and writes
target/bench-figures/startup.json.

Usage: scripts/bench_startup.py target/release/orders-projector [runs]
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_start(binary: Path) -> float:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(10)
        port = server.getsockname()[1]
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": "orders-projector",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "startup",
            "AWS_SECRET_ACCESS_KEY": "startup",
            "ORDERS_TABLE": "Orders",
            "CUSTOMER_TOTALS_TABLE": "CustomerTotals",
            "OUTBOX_TABLE": "Outbox",
        }
        started = time.perf_counter()
        process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            connection, _ = server.accept()
            with connection:
                connection.settimeout(10)
                request = b""
                while b"\r\n" not in request:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                elapsed = time.perf_counter() - started
            if not request.startswith(b"GET /2018-06-01/runtime/invocation/next"):
                raise SystemExit(f"unexpected first request: {request[:80]!r}")
            return elapsed
        except socket.timeout:
            process.kill()
            _, err = process.communicate()
            raise SystemExit(f"{binary} never asked for an invocation: {err.decode(errors='replace')[-2000:]}")
        finally:
            process.kill()
            process.wait()


def main() -> None:
    binary = Path(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    one_start(binary)  # warm the page cache
    times = sorted(one_start(binary) * 1000 for _ in range(runs))
    size = binary.stat().st_size
    figures = {
        "binary": binary.name,
        "runs": runs,
        "startup_ms_median": statistics.median(times),
        "startup_ms_min": times[0],
        "startup_ms_p90": times[int(runs * 0.9) - 1],
        "size_bytes": size,
    }
    print(
        f"{binary.name}: start-up to first Runtime API request, {runs} runs: median {figures['startup_ms_median']:.2f} ms, "
        f"min {times[0]:.2f} ms, p90 {figures['startup_ms_p90']:.2f} ms; stripped size {size / 1e6:.2f} MB"
    )
    out = ROOT / "target" / "bench-figures"
    out.mkdir(parents=True, exist_ok=True)
    (out / "startup.json").write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
