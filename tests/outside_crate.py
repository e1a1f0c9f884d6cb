#!/usr/bin/env python3
"""The README's "Your own function, locally", done as a new user would, from a crate outside
this repository: `tests/outside-crate/` is copied to a temporary directory and pointed at
this checkout's `framework/`; its test writes a fixture with the kit; `scripts/with-moto`
serves a local DynamoDB from that directory, `scripts/create-table` makes the tables
(and `create-queue` / `create-bucket` a queue, a FIFO queue and a bucket, checked),
`cargo lambda watch` runs the function with its settings, and `cargo lambda invoke
--data-file` delivers the fixture twice (the second time a redelivery). The counts in
`PostStats` must be those of one delivery. Everything started is stopped.

The crate builds into this repository's `target/` with its `Cargo.lock`, so it reuses the
workspace's compiled dependencies.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile

import boto3

from lambda_watch import ROOT, Checks, Watch, parse


def main():
    checks = Checks("outside-crate")
    work = pathlib.Path(tempfile.mkdtemp(prefix="ddbstream-outside-"))
    crate = work / "likes"
    shutil.copytree(ROOT / "tests" / "outside-crate", crate)
    manifest = crate / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace("DDBSTREAM_FRAMEWORK", str(ROOT / "framework")))
    shutil.copy(ROOT / "Cargo.lock", crate / "Cargo.lock")
    (crate / "fixtures").mkdir()
    build_env = dict(os.environ, CARGO_TARGET_DIR=str(ROOT / "target"))
    fixture = crate / "fixtures" / "likes.json"

    moto = watch = None
    try:
        test = subprocess.run(["cargo", "test", "--quiet"], cwd=crate, env=build_env, capture_output=True, text=True)
        checks.check("the crate's test writes its fixture with the kit", test.returncode == 0 and fixture.is_file(),
                     test.stdout[-2000:] + test.stderr[-2000:])

        moto = subprocess.Popen([str(ROOT / "scripts" / "with-moto")], cwd=work, stdout=subprocess.PIPE, text=True,
                                start_new_session=True)
        exports = {}
        for line in moto.stdout:
            if line.startswith("export "):
                exports = dict(pair.split("=", 1) for pair in line.split()[1:])
                break
        checks.check("with-moto serves from another directory", "AWS_ENDPOINT_URL" in exports, exports)
        env = dict(os.environ, **exports)
        for table in (["Likes", "pk", "sk", "KEYS_ONLY"], ["PostStats", "pk"], ["Guards", "pk"]):
            made = subprocess.run([str(ROOT / "scripts" / "create-table"), *table], cwd=work, env=env,
                                  capture_output=True, text=True)
            checks.check(f"create-table {table[0]}", made.returncode == 0, made.stderr)
        made = {name: subprocess.run([str(ROOT / "scripts" / script), name], cwd=work, env=env, capture_output=True,
                                     text=True)
                for script, name in (("create-queue", "Notifications"), ("create-queue", "Shipments.fifo"),
                                     ("create-bucket", "failed-records"))}
        sqs = boto3.client("sqs", endpoint_url=exports["AWS_ENDPOINT_URL"], region_name=exports["AWS_REGION"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        s3 = boto3.client("s3", endpoint_url=exports["AWS_ENDPOINT_URL"], region_name=exports["AWS_REGION"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        queues = set(sqs.list_queues().get("QueueUrls", []))
        printed = {name: run.stdout.strip() for name, run in made.items() if name != "failed-records"}
        fifo = sqs.get_queue_attributes(QueueUrl=printed["Shipments.fifo"], AttributeNames=["FifoQueue"])
        checks.check("create-queue makes each queue and prints its URL (a .fifo name a FIFO queue)",
                     all(run.returncode == 0 for run in made.values()) and set(printed.values()) <= queues
                     and len(queues) == 2 and fifo["Attributes"].get("FifoQueue") == "true",
                     (printed, queues, fifo, [run.stderr for run in made.values()]))
        buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        checks.check("create-bucket makes the bucket", buckets == ["failed-records"], buckets)

        settings = {"LIKES_TABLE": "Likes", "STATS_TABLE": "PostStats", "GUARDS_TABLE": "Guards",
                    **{k: v for k, v in exports.items() if k != "AWS_SESSION_TOKEN"}}
        watch = Watch(settings, log_name="outside-crate-watch.log", cwd=crate, process_env=dict(build_env, **exports))
        first = watch.wait_ready("likes", fixture)
        code, out, err = watch.invoke("likes", fixture)
        checks.check("both deliveries answered in full", first == {"batchItemFailures": []} and parse(out) == first,
                     f"{first} / rc={code} {out}{err}")

        dynamodb = boto3.client("dynamodb", endpoint_url=exports["AWS_ENDPOINT_URL"], region_name=exports["AWS_REGION"],
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        counts = {i["pk"]["S"]: int(i["like_count"]["N"]) for i in dynamodb.scan(TableName="PostStats")["Items"]}
        checks.check("each like counted once", counts == {"post#1": 2, "post#2": 1}, counts)
    except Exception as err:  # a step that could not run is a failed check, and cleanup still happens
        checks.check("the walk-through ran", False, repr(err))
    finally:
        if watch:
            watch.stop()
        if moto:
            os.killpg(moto.pid, signal.SIGTERM)
            moto.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
