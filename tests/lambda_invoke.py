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
import sys

from lambda_watch import FIXTURES, ROOT, Checks, Watch, parse

SHARED_EVENTS = ROOT.parent / "shared" / "events"
FUNCTION = "fault-injection"
MARGIN_MS = 598_000  # of the emulator's 600_000 ms budget: 2 s left per invocation
EXPECTED = json.loads((ROOT / "tests" / "fault-injection-expected.json").read_text())


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
            code, out, err = watch.invoke(FUNCTION, FIXTURES / fixture)
            got = parse(out) if code == 0 else None
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
                batch = {r.get("dynamodb", {}).get("SequenceNumber") for r in json.loads(path.read_text())["Records"]}
                code, out, err = watch.invoke(FUNCTION, path)
                got = parse(out) if code == 0 else None
                ids = [f.get("itemIdentifier") for f in (got or {}).get("batchItemFailures", [None])]
                check(f"real/{path.name}", got is not None and all(i in batch for i in ids), f"rc={code} {out}{err}")
            for path in sorted((SHARED_EVENTS / "public-bad").glob("*.json")):
                code, out, err = watch.invoke(FUNCTION, path)
                check(f"public-bad/{path.name}", code != 0 and "Error" in err, f"expected an invocation error, got {out}")
        else:
            print(f"skip: {SHARED_EVENTS} not present")
    finally:
        watch.stop()

    return checks.finish()

if __name__ == "__main__":
    sys.exit(main())
