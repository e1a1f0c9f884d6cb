#!/usr/bin/env python3
"""Crash experiment on the stream runner, against moto over HTTP: thousands of writes to a
streamed table; the runner (`handlers/examples/crash_runner.rs`, a separate process) is
killed with SIGKILL at random points and restarted, then run until caught up. Every change
handled is a line `<pk> <sequence number>` in a file. Asserted:

- no change is lost: every record of the stream was handled at least once;
- per key, the first handling of each change follows stream order;
- duplicates stay within the bound: at most `checkpoint_every` (100) records per kill.

Run by `make crash` (part of `make test`), which builds the runner first.
"""

import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import time

import boto3

from lambda_watch import ROOT, Checks

RUNNER = ROOT / "target" / "debug" / "examples" / "crash_runner"
WRITES, KEYS, KILLS, CHECKPOINT_EVERY = 2000, 50, 6, 100


def main():
    checks = Checks("runner-crash")
    rng = random.Random(int(os.environ.get("CRASH_SEED", "7")))
    work = pathlib.Path(tempfile.mkdtemp(prefix="ddbstream-crash-"))
    out = work / "handled.txt"
    table = f"CrashOrders{os.getpid()}"
    env = dict(os.environ, TABLE=table, CHECKPOINT_TABLE=f"CrashCheckpoints{os.getpid()}", OUT=str(out),
               RUST_LOG="warn")
    dynamodb = boto3.client("dynamodb", region_name=os.environ.get("AWS_REGION", "us-east-1"))
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    for n in range(WRITES):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"k{n % KEYS}"}, "v": {"N": str(n)}})

    kills = 0
    for _ in range(KILLS):
        runner = subprocess.Popen([str(RUNNER)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.0))
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
            kills += 1
        runner.wait()
    final = subprocess.run([str(RUNNER)], env=dict(env, UNTIL_CAUGHT_UP="1"), capture_output=True, text=True,
                           timeout=600)
    checks.check("the last runner catches up and exits 0", final.returncode == 0, final.stderr[-2000:])

    # The stream's own order of records, per key.
    streams = boto3.client("dynamodbstreams", region_name=os.environ.get("AWS_REGION", "us-east-1"))
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    stream_order = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            stream_order += [(r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["SequenceNumber"]) for r in page["Records"]]
            iterator = page.get("NextShardIterator") if page["Records"] else None

    handled = [tuple(line.split()) for line in out.read_text().splitlines()] if out.exists() else []
    seqs = {seq for _, seq in handled}
    lost = [seq for _, seq in stream_order if seq not in seqs]
    checks.check(f"no change lost ({len(stream_order)} in the stream)", len(stream_order) == WRITES and not lost,
                 f"{len(lost)} lost, {len(stream_order)} in the stream")
    first_seen = {}
    for index, (_, seq) in enumerate(handled):
        first_seen.setdefault(seq, index)
    by_key = {}
    for key, seq in stream_order:
        by_key.setdefault(key, []).append(first_seen.get(seq, -1))
    out_of_order = [key for key, firsts in by_key.items() if firsts != sorted(firsts)]
    checks.check("per key, first handling in stream order", not out_of_order, out_of_order[:5])
    duplicates = len(handled) - len(seqs)
    bound = kills * CHECKPOINT_EVERY
    checks.check(f"duplicates within the bound ({duplicates} after {kills} kills, bound {bound})",
                 duplicates <= bound and kills > 0, f"{duplicates} > {bound}")
    print(f"runner-crash figures: {WRITES} writes, {kills} kills, {len(handled)} handled, {duplicates} duplicates")
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
