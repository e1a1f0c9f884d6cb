#!/usr/bin/env python3
"""Black-box check of the failure semantics through the real Lambda runtime interface.

With --show (make demo) it prints every answer.

Starts `cargo lambda watch` on a free 127.0.0.1 port, invokes the `fault-injection`
function with `cargo lambda invoke --data-file` for each fixture, compares each response
with the exact expected JSON (or the expected invocation error), and stops what it
started. With ../shared/events present, also checks every public real event gets a valid
response and every public malformed one a clear invocation error.

Deadline budget: the emulator gives each invocation ten minutes; the margin is set so that
two seconds remain, which `fault-sleep.json`'s three-second record overruns.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_EVENTS = ROOT.parent / "shared" / "events"
FUNCTION = "fault-injection"
MARGIN_MS = 598_000  # of the emulator's 600_000 ms budget: 2 s left per invocation


EXPECTED = json.loads((ROOT / "tests" / "fault-injection-expected.json").read_text())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def invoke(port, data_file):
    cmd = ["cargo", "lambda", "invoke", FUNCTION, "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
           "--data-file", str(data_file), "--output-format", "json"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return run.returncode, run.stdout, run.stderr


def parse_ok(stdout):
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        return None


def main():
    show = "--show" in sys.argv[1:]
    port = free_port()
    log_path = ROOT / "target" / "lambda-watch.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")
    watch = subprocess.Popen(
        ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
         "--env-var", f"DDBSTREAM_DEADLINE_MARGIN_MS={MARGIN_MS}"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    passed, failed = 0, 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name}: {detail}")

    try:
        probe = FIXTURES / "orders-insert.json"
        deadline = time.monotonic() + 600
        while True:  # the first invoke waits for the build
            code, out, err = invoke(port, probe)
            if code == 0:
                break
            if time.monotonic() > deadline or watch.poll() is not None:
                print(f"cargo lambda watch did not come up; see {log_path}\n{err}")
                return 1
            time.sleep(2)

        for fixture, expected in EXPECTED["responses"].items():
            code, out, err = invoke(port, FIXTURES / fixture)
            got = parse_ok(out) if code == 0 else None
            if show:
                print(f"\n# {EXPECTED['why'][fixture]}\n$ cargo lambda invoke {FUNCTION} --data-file tests/fixtures/{fixture}\n{json.dumps(got)}")
            check(fixture, got == expected, f"expected {json.dumps(expected)}, got rc={code} {out}{err}")
        for fixture, error_type in EXPECTED["errors"].items():
            code, out, err = invoke(port, FIXTURES / fixture)
            if show:
                print(f"\n# {EXPECTED['why'][fixture]}\n$ cargo lambda invoke {FUNCTION} --data-file tests/fixtures/{fixture}\n{err.strip()}")
            check(fixture, code != 0 and error_type in err, f"expected invocation error {error_type}, got rc={code} {out}{err}")

        log.flush()
        restarts = log_path.read_text().count("command exited")
        check("a handler's panic does not end the process", restarts == 0, f"{restarts} restarts in {log_path}")

        if SHARED_EVENTS.is_dir():
            for path in sorted((SHARED_EVENTS / "real").glob("*.json")):
                batch = {r.get("dynamodb", {}).get("SequenceNumber") for r in json.loads(path.read_text())["Records"]}
                code, out, err = invoke(port, path)
                got = parse_ok(out) if code == 0 else None
                ids = [f.get("itemIdentifier") for f in (got or {}).get("batchItemFailures", [None])]
                check(f"real/{path.name}", got is not None and all(i in batch for i in ids), f"rc={code} {out}{err}")
            for path in sorted((SHARED_EVENTS / "public-bad").glob("*.json")):
                code, out, err = invoke(port, path)
                check(f"public-bad/{path.name}", code != 0 and "Error" in err, f"expected an invocation error, got {out}")
        else:
            print(f"skip: {SHARED_EVENTS} not present")
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        try:
            watch.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(watch.pid, signal.SIGKILL)
        log.close()

    print(f"lambda-invoke: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
