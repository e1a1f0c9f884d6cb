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

`fault-block.json`'s record holds its thread for three seconds: the answer still comes by
the margin, and the next invocation waits for the held thread before starting anything. Last,
the same record holds its thread for seven seconds: the next invocation cannot start anything
by its own margin, says so, and the process exits after answering, as Lambda's timeout would
end the sandbox (`cargo lambda watch` then stops the function, so this check goes last).
"""

import json
import sys
import tempfile
import time
from pathlib import Path

from lambda_watch import FIXTURES, ROOT, Checks, Watch, parse

SHARED_EVENTS = ROOT.parent / "shared" / "events"
FUNCTION = "fault-injection"
MARGIN_MS = 598_000  # of the emulator's 600_000 ms budget: 2 s left per invocation
EXPECTED = json.loads((ROOT / "tests" / "fault-injection-expected.json").read_text())
BLOCKING = "fault-block.json"


def main():
    show = "--show" in sys.argv[1:]
    watch = Watch({"DDBSTREAM_DEADLINE_MARGIN_MS": MARGIN_MS})
    checks = Checks("lambda-invoke")
    check = checks.check

    try:
        try:
            watch.wait_ready(FUNCTION, FIXTURES / "orders-insert.json")
        except RuntimeError as err:
            print(err)
            return 1

        for fixture, expected in EXPECTED["responses"].items():
            started = time.monotonic()
            code, out, err = watch.invoke(FUNCTION, FIXTURES / fixture)
            took = time.monotonic() - started
            got = parse(out) if code == 0 else None
            if fixture == BLOCKING:
                check("a held thread does not hold the answer", took < 3.0, f"answered after {took:.2f} s (the thread is held 3 s)")
            if show:
                print(f"\n# {EXPECTED['why'][fixture]}\n$ cargo lambda invoke {FUNCTION} --data-file tests/fixtures/{fixture}\n{json.dumps(got)}")
            check(fixture, got == expected, f"expected {json.dumps(expected)}, got rc={code} {out}{err}")
        for fixture, error_type in EXPECTED["errors"].items():
            code, out, err = watch.invoke(FUNCTION, FIXTURES / fixture)
            if show:
                print(f"\n# {EXPECTED['why'][fixture]}\n$ cargo lambda invoke {FUNCTION} --data-file tests/fixtures/{fixture}\n{err.strip()}")
            check(fixture, code != 0 and error_type in err, f"expected invocation error {error_type}, got rc={code} {out}{err}")

        restarts = watch.restarts()
        check("a handler's panic does not end the process", restarts == 0, f"{restarts} restarts in {watch.log_path}")

        if SHARED_EVENTS.is_dir():
            for path in sorted((SHARED_EVENTS / "real").glob("*.json")):
                event = json.loads(path.read_text())
                batch = {r.get("dynamodb", {}).get("SequenceNumber") for r in event["Records"]}
                code, out, err = watch.invoke(FUNCTION, path)
                got = parse(out) if code == 0 else None
                if "window" in event:
                    # A tumbling-window event: the window fallback counts the records.
                    expected = (event.get("state") or {}).get("records", 0) + len(event["Records"])
                    check(f"real/{path.name} (state)", (got or {}).get("state") == {"records": expected}, f"rc={code} {out}{err}")
                ids = [f.get("itemIdentifier") for f in (got or {}).get("batchItemFailures", [None])]
                check(f"real/{path.name}", got is not None and all(i in batch for i in ids), f"rc={code} {out}{err}")
            for path in sorted((SHARED_EVENTS / "public-bad").glob("*.json")):
                code, out, err = watch.invoke(FUNCTION, path)
                check(f"public-bad/{path.name}", code != 0 and "Error" in err, f"expected an invocation error, got {out}")
        else:
            print(f"skip: {SHARED_EVENTS} not present")

        # Last: work that outlasts a whole later invocation ends the process.
        long_block = json.loads((FIXTURES / BLOCKING).read_text())
        for record in long_block["Records"]:
            if "block_ms" in record["dynamodb"].get("NewImage", {}):
                record["dynamodb"]["NewImage"]["block_ms"] = {"N": "7000"}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as payload:
            json.dump(long_block, payload)
        code, out, err = watch.invoke(FUNCTION, Path(payload.name))
        check("a thread held 7 s: answered by the margin", code == 0 and parse(out) == EXPECTED["responses"][BLOCKING], f"rc={code} {out}{err}")
        insert = json.loads((FIXTURES / "orders-insert.json").read_text())
        first = min((r["dynamodb"]["SequenceNumber"] for r in insert["Records"]), key=lambda s: (len(s), s))
        code, out, err = watch.invoke(FUNCTION, FIXTURES / "orders-insert.json")
        check("the next invocation starts nothing while the thread is held", code == 0 and parse(out) == {"batchItemFailures": [{"itemIdentifier": first}]}, f"rc={code} {out}{err}")
        time.sleep(1)
        log = watch.log_path.read_text()
        check("then the process exits, as Lambda's timeout would end the sandbox", "outlasted a whole invocation: exiting" in log, f"see {watch.log_path}")
    finally:
        watch.stop()

    return checks.finish()

if __name__ == "__main__":
    sys.exit(main())
