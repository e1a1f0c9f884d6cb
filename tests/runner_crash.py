#!/usr/bin/env python3
"""Crash experiment on the stream runner, against moto over HTTP: thousands of writes to a
streamed table; the runner (`handlers/examples/crash_runner.rs`, a separate process) is
killed with SIGKILL at random points and restarted, then run until caught up. Every change
handled is a line `<pk> <sequence number>` in a file. Asserted:

- no change is lost: every record of the stream was handled at least once;
- per key, the first handling of each change follows stream order;
- duplicates stay within the bound: at most `checkpoint_every` (100) records per kill.

Each restart runs under the name the killed runner had, so it takes its lease back at
once. Then the same with two runners: an owner and a standby (leases of 2 s) on a second
table; the owner is killed with SIGKILL, and the standby must take over within the lease
(plus one look), handle nothing before the kill, and lose nothing; a third runner that is
not a standby must exit non-zero saying it has nothing to own; the standby stops on
SIGTERM with exit code 0.

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
               RUST_LOG="warn", OWNER="crash-runner")
    dynamodb = boto3.client("dynamodb", region_name=os.environ.get("AWS_REGION", "us-east-1"))
    streamed_table(dynamodb, table, WRITES)

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

    handled, duplicates = check_handled(checks, dynamodb, table, out, WRITES)
    bound = kills * CHECKPOINT_EVERY
    checks.check(f"duplicates within the bound ({duplicates} after {kills} kills, bound {bound})",
                 duplicates <= bound and kills > 0, f"{duplicates} > {bound}")
    print(f"runner-crash figures: {WRITES} writes, {kills} kills, {len(handled)} handled, {duplicates} duplicates")
    standby_takeover(checks, dynamodb, env, work)
    return checks.finish()


def streamed_table(dynamodb, table, writes):
    """A table with a NEW_IMAGE stream, and `writes` puts over KEYS keys."""
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    for n in range(writes):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"k{n % KEYS}"}, "v": {"N": str(n)}})


def stream_order(dynamodb, table):
    """The stream's records as (pk, sequence number), in stream order."""
    streams = boto3.client("dynamodbstreams", region_name=os.environ.get("AWS_REGION", "us-east-1"))
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    order = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            order += [(r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["SequenceNumber"]) for r in page["Records"]]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return order


def read_handled(out):
    """The handled lines as (pk, sequence number, owner)."""
    return [tuple(line.split()) for line in out.read_text().splitlines()] if out.exists() else []


def check_handled(checks, dynamodb, table, out, writes):
    """No change lost and per-key first handling in stream order; returns (handled, duplicates)."""
    order = stream_order(dynamodb, table)
    handled = read_handled(out)
    seqs = {line[1] for line in handled}
    lost = [seq for _, seq in order if seq not in seqs]
    checks.check(f"{table}: no change lost ({len(order)} in the stream)", len(order) == writes and not lost,
                 f"{len(lost)} lost, {len(order)} in the stream")
    first_seen = {}
    for index, line in enumerate(handled):
        first_seen.setdefault(line[1], index)
    by_key = {}
    for key, seq in order:
        by_key.setdefault(key, []).append(first_seen.get(seq, -1))
    out_of_order = [key for key, firsts in by_key.items() if firsts != sorted(firsts)]
    checks.check(f"{table}: per key, first handling in stream order", not out_of_order, out_of_order[:5])
    return handled, len(handled) - len(seqs)


def standby_takeover(checks, dynamodb, env, work):
    """An owner and a standby on one stream; the owner is killed; the standby takes over."""
    writes, lease_s = 1000, 2.0
    table = f"CrashTakeover{os.getpid()}"
    out = work / "takeover.txt"
    streamed_table(dynamodb, table, writes)
    env = dict(env, TABLE=table, OUT=str(out), LEASE_MS=str(int(lease_s * 1000)))
    start = lambda owner, **more: subprocess.Popen(  # noqa: E731
        [str(RUNNER)], env=dict(env, OWNER=owner, **more), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    owner = start("owner")
    time.sleep(0.5)
    standby = start("standby", STANDBY="1")
    time.sleep(1.0)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    killed = time.monotonic()
    before_kill = [line for line in read_handled(out) if line[2] == "standby"]
    checks.check("the standby handled nothing while the owner lived", not before_kill, before_kill[:3])
    # Wait for the standby's first line, then for everything.
    took = None
    while time.monotonic() - killed < 60:
        lines = read_handled(out)
        if took is None and any(line[2] == "standby" for line in lines):
            took = time.monotonic() - killed
        if len({line[1] for line in lines}) >= writes:
            break
        time.sleep(0.05)
    checks.check(f"the standby took over within the lease and a look ({took} s, lease {lease_s} s)",
                 took is not None and took <= lease_s * 4 / 3 + 1.0, took)
    third = subprocess.run([str(RUNNER)], env=dict(env, OWNER="third"), capture_output=True, text=True, timeout=60)
    checks.check("a runner with nothing to own exits non-zero and says so",
                 third.returncode != 0 and "nothing to own" in third.stderr, (third.returncode, third.stderr[-500:]))
    standby.send_signal(signal.SIGTERM)
    try:
        _, err = standby.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        standby.kill()
        _, err = standby.communicate()
    checks.check("the standby stops on SIGTERM with exit code 0", standby.returncode == 0, err[-1000:])
    handled, duplicates = check_handled(checks, dynamodb, table, out, writes)
    checks.check(f"takeover duplicates within one batch ({duplicates})", duplicates <= CHECKPOINT_EVERY, duplicates)
    print(f"runner-takeover figures: {writes} writes, taken over after {took:.2f} s, {len(handled)} handled, "
          f"{duplicates} duplicates")


if __name__ == "__main__":
    sys.exit(main())
