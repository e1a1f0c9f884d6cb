#!/usr/bin/env python3
"""`fault-injection` served through a Lambda Runtime API stand-in, as Lambda Managed
Instances serve it: with AWS_LAMBDA_MAX_CONCURRENCY=4, four slow events are all taken before
the first is answered (they run at once), and events of every source at once each get their
own right answer, their own deadline included; without the variable, the next event is taken only after the previous answer."""

import json
import os
import subprocess
import sys

from lambda_watch import FIXTURES, ROOT, Checks
from runtime_api import RuntimeApi

EXPECTED = json.loads((ROOT / "tests" / "fault-injection-expected.json").read_text())
BINARY = ROOT / "target" / "debug" / "fault-injection"


def serve(concurrency, fixtures, deadline_ms):
    api = RuntimeApi(deadline_ms=deadline_ms)
    env = dict(os.environ, **api.environment(concurrency), DDBSTREAM_DEADLINE_MARGIN_MS="1000", RUST_LOG="warn")
    ids = [api.submit((FIXTURES / name).read_bytes()) for name in fixtures]
    log = open(ROOT / "target" / f"runtime-api-{concurrency or 'unset'}.log", "w")
    process = subprocess.Popen([str(BINARY)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        answers = api.wait(ids)
    finally:
        process.kill()
        process.wait()
        api.stop()
    return ids, answers, api


def main():
    checks = Checks("lambda-concurrency")
    build = subprocess.run(["cargo", "build", "--locked", "-p", "handlers", "--bin", "fault-injection"], cwd=ROOT)
    if build.returncode != 0:
        return 1

    # Four slow events at once (each runs 2 s, to its margin): all four are taken before the
    # first is answered only if they run at once.
    slow = ["fault-sleep.json"] * 4
    ids, answers, api = serve(4, slow, deadline_ms=3_000)
    for request_id in ids:
        kind, body = answers[request_id]
        checks.check("concurrent: fault-sleep.json answered at its own margin",
                     kind == "response" and body == EXPECTED["responses"]["fault-sleep.json"], f"{kind} {json.dumps(body)}")
    first_answer = min(api.answered.values())
    taken_before = sum(1 for at in api.handed_out.values() if at < first_answer)
    checks.check("concurrent: four events taken before the first answer", taken_before == 4, f"{taken_before} taken")

    # Different sources at once, each answered right.
    fixtures = ["fault-sleep.json", "orders-insert.json", "window-event.json", "kinesis-fail-second.json"]
    ids, answers, api = serve(4, fixtures, deadline_ms=3_000)
    for request_id, name in zip(ids, fixtures):
        kind, body = answers[request_id]
        checks.check(f"concurrent: {name}", kind == "response" and body == EXPECTED["responses"][name],
                     f"{kind} {json.dumps(body)}")

    ids, answers, api = serve(None, ["orders-insert.json", "orders-modify.json"], deadline_ms=30_000)
    checks.check("sequential: both answered", all(kind == "response" for kind, _ in answers.values()), answers)
    second_taken = api.handed_out[ids[1]]
    checks.check("sequential: the next event is taken after the previous answer",
                 second_taken >= api.answered[ids[0]], (second_taken, api.answered[ids[0]]))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
