#!/usr/bin/env python3
"""`make invoke`: the deployable functions through the real Lambda runtime interface.

Run under scripts/with-moto (a local DynamoDB on 127.0.0.1, reached through the standard
AWS_ENDPOINT_URL). Creates the target tables, starts `cargo lambda watch` with the table
names the template would set, invokes each function with its canned stream through
`cargo lambda invoke --data-file`, shows the responses and the resulting tables, checks
them (including a redelivery), and stops what it started.
"""

import json
import os
import subprocess
import sys

import boto3

from lambda_watch import FIXTURES, ROOT, Checks, Watch

SUFFIX = f"invoke-{os.getpid()}"
TABLES = {
    "CUSTOMER_TOTALS_TABLE": (f"CustomerTotals-{SUFFIX}", ["pk", "sk"]),
    "OUTBOX_TABLE": (f"Outbox-{SUFFIX}", ["pk", "sk"]),
    "CUSTOMERS_BY_EMAIL_TABLE": (f"CustomersByEmail-{SUFFIX}", ["email"]),
    "AUDIT_TABLE": (f"Audit-{SUFFIX}", ["pk", "sk"]),
}
ORDERS = FIXTURES / "handlers" / "orders-stream.json"
CUSTOMERS = FIXTURES / "handlers" / "customers-stream.json"
INVOCATIONS = [
    ("orders-projector", ORDERS),
    ("customers-replicator", CUSTOMERS),
    ("audit-archive", ORDERS),
    ("audit-archive", CUSTOMERS),
    ("orders-projector", ORDERS),  # redelivery: nothing may change
]


def plain(value):
    """A DynamoDB attribute as plain JSON, for display."""
    (kind, inner), = value.items()
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "L":
        return [plain(v) for v in inner]
    return inner


def scan(client, table):
    items = client.scan(TableName=table)["Items"]
    return sorted(({k: plain(v) for k, v in item.items()} for item in items), key=lambda i: json.dumps(i, sort_keys=True))


def main():
    if "AWS_ENDPOINT_URL" not in os.environ:
        print("invoke: run through scripts/with-moto (make invoke does)")
        return 2
    client = boto3.client("dynamodb")
    for name, keys in TABLES.values():
        client.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ["HASH", "RANGE"])])
    env = {key: name for key, (name, _) in TABLES.items()}
    env.update({"ORDERS_TABLE": "Orders", "CUSTOMERS_TABLE": "Customers"})
    for key in ["AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]:
        env[key] = os.environ.get(key, "")
    checks = Checks("invoke")
    watch = Watch(env, log_name="invoke-watch.log")
    try:
        for function, data in INVOCATIONS:
            print(f"\n$ cargo lambda invoke {function} --data-file {data.relative_to(FIXTURES.parent.parent)}")
            try:
                response = watch.wait_ready(function, data)
            except RuntimeError as err:
                checks.check(f"{function} answers", False, str(err))
                continue
            print(json.dumps(response))
            checks.check(f"{function} processed every record of {data.name}", response == {"batchItemFailures": []}, json.dumps(response))

        totals = scan(client, TABLES["CUSTOMER_TOTALS_TABLE"][0])
        outbox = scan(client, TABLES["OUTBOX_TABLE"][0])
        by_email = scan(client, TABLES["CUSTOMERS_BY_EMAIL_TABLE"][0])
        audit = scan(client, TABLES["AUDIT_TABLE"][0])
        for title, items in [("CustomerTotals", totals), ("Outbox", outbox), ("CustomersByEmail", by_email), ("Audit", audit)]:
            print(f"\n{title} ({len(items)} items)")
            for item in items:
                shown = {k: v for k, v in item.items() if k not in ("old", "new", "keys")}
                print("  " + json.dumps(shown, sort_keys=True))

        summary = {i["customer_id"]: (i["total_amount"], i["order_count"]) for i in totals if i["sk"] == "TOTALS"}
        checks.check("totals: c1 has one order of 10000, c2 none (after redelivery)", summary == {"c1": ("10000", "1"), "c2": ("0", "0")}, summary)
        checks.check("one shipping notification, even after redelivery", [i["order_id"] for i in outbox] == ["o1"], outbox)
        live = [i["email"] for i in by_email if not i["deleted"]]
        checks.check("view by email: one live customer at the new address", live == ["ada@analytical.example"], by_email)
        ttl = [i["pk"] for i in audit if i["expired_by_ttl"]]
        checks.check("audit: 13 changes, the TTL expiry marked", len(audit) == 13 and ttl == ["Orders#order_id=o3"], (len(audit), ttl))
        checks.check("no function restarted", watch.restarts() == 0, watch.log_path)
        bare = {k: v for k, v in os.environ.items() if not k.endswith("_TABLE")}
        start = subprocess.run([str(ROOT / "target" / "debug" / "orders-projector")], env=bare, capture_output=True, text=True, timeout=60)
        checks.check("a missing setting stops the function at start-up, naming it",
                     start.returncode != 0 and "environment variable ORDERS_TABLE is not set" in start.stderr, start.stderr)
    finally:
        watch.stop()
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
