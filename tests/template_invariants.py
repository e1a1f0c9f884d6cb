#!/usr/bin/env python3
"""Invariants of template.yaml that cfn-lint cannot know, parsed with cfn-lint's own loader.

- Every stream consumer: TRIM_HORIZON, explicit BatchSize and MaximumBatchingWindowInSeconds,
  ReportBatchItemFailures, bisect, bounded retries and record age, an SQS dead-letter queue.
- Every deployable binary of handlers/ (the fault-injection test tool excepted) has exactly one
  function, and every function's binary exists.
- No wildcard actions; no "*" resource except for dynamodb:ListStreams, which requires it.
- Every table a function writes is in its policy and its environment, and every table in its
  environment that is not a stream it reads is one it writes.
- The deadline margin is set and leaves the function most of its timeout.
- Every DynamoDB stream has at most two readers (mappings deployed whatever the parameters);
  a Kinesis source is a table's Kinesis streaming destination.
"""

import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

from lambda_watch import Checks

ROOT = pathlib.Path(__file__).resolve().parent.parent
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def ref(value):
    """The resource a Ref or GetAtt points at, or None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def as_list(value):
    return value if isinstance(value, list) else [value]


def binaries():
    manifest = (ROOT / "handlers" / "Cargo.toml").read_text()
    return set(re.findall(r'\[\[bin\]\]\s*name\s*=\s*"([^"]+)"', manifest))


def main():
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    resources = template["Resources"]
    checks = Checks("template")
    of_type = lambda kind: {name: r for name, r in resources.items() if r["Type"] == kind}
    functions = of_type("AWS::Serverless::Function")
    mappings = of_type("AWS::Lambda::EventSourceMapping")
    queues = of_type("AWS::SQS::Queue")
    tables = of_type("AWS::DynamoDB::Table")

    checks.check("there are stream consumers", len(mappings) >= 4, list(mappings))
    for name, mapping in mappings.items():
        p = mapping["Properties"]
        checks.check(f"{name}: TRIM_HORIZON", p.get("StartingPosition") == "TRIM_HORIZON", p.get("StartingPosition"))
        checks.check(f"{name}: explicit batching", isinstance(p.get("BatchSize"), int) and "MaximumBatchingWindowInSeconds" in p, p)
        checks.check(f"{name}: ReportBatchItemFailures", p.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], p)
        checks.check(f"{name}: bisect", p.get("BisectBatchOnFunctionError") is True, p)
        retries, age = p.get("MaximumRetryAttempts"), p.get("MaximumRecordAgeInSeconds")
        checks.check(f"{name}: bounded retries", isinstance(retries, int) and 0 <= retries <= 10, retries)
        checks.check(f"{name}: bounded record age", isinstance(age, int) and 60 <= age <= 604800, age)
        dlq = ref(p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
        checks.check(f"{name}: an SQS dead-letter queue", dlq in queues, dlq)
        source = ref(p.get("EventSourceArn"))
        kinesis_destinations = {ref(t["Properties"].get("KinesisStreamSpecification", {}).get("StreamArn")) for t in tables.values()}
        reads_stream = source in tables and "StreamSpecification" in tables[source]["Properties"]
        reads_kinesis = resources.get(source, {}).get("Type") == "AWS::Kinesis::Stream" and source in kinesis_destinations
        checks.check(f"{name}: reads a table's stream or its Kinesis destination", reads_stream or reads_kinesis, source)
        checks.check(f"{name}: feeds a function", ref(p.get("FunctionName")) in functions, p.get("FunctionName"))

    readers = {}
    for name, mapping in mappings.items():
        if "Condition" not in mapping:
            readers.setdefault(ref(mapping["Properties"]["EventSourceArn"]), []).append(name)
    for source, names in readers.items():
        if source in tables:
            checks.check(f"{source} stream: at most two readers", len(names) <= 2, names)

    by_binary = {}
    for name, function in functions.items():
        binary = function.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        by_binary.setdefault(binary, []).append(name)
        checks.check(f"{name}: binary {binary} exists", binary in binaries(), binary)
    for binary in sorted(binaries() - {"fault-injection"}):
        checks.check(f"binary {binary}: exactly one function", len(by_binary.get(binary, [])) == 1, by_binary.get(binary))

    for name, function in functions.items():
        p = function["Properties"]
        role = ref(p.get("Role"))
        statements = resources.get(role, {}).get("Properties", {}).get("Policies", [{}])[0].get("PolicyDocument", {}).get("Statement", [])
        checks.check(f"{name}: has its own role", role in resources and statements, role)
        writes = {}
        for statement in statements:
            actions = as_list(statement["Action"])
            targets = as_list(statement["Resource"])
            checks.check(f"{name}/{statement.get('Sid')}: no wildcard action", not any("*" in a for a in actions), actions)
            if "*" in targets:
                checks.check(f"{name}/{statement.get('Sid')}: '*' only for ListStreams", actions == ["dynamodb:ListStreams"], actions)
            for action in actions:
                if action in WRITE_ACTIONS:
                    for target in targets:
                        writes.setdefault(ref(target), set()).add(action)
        streams = {ref(m["Properties"]["EventSourceArn"]) for m in mappings.values() if ref(m["Properties"]["FunctionName"]) == name}
        env = p.get("Environment", {}).get("Variables", {})
        env_tables = {ref(v) for k, v in env.items() if k.endswith("_TABLE")}
        checks.check(f"{name}: every table it writes is in its environment", set(writes) <= env_tables, (set(writes), env_tables))
        checks.check(f"{name}: every table in its environment is read or written", env_tables <= set(writes) | streams,
                     (env_tables, set(writes), streams))
        checks.check(f"{name}: tables it writes are tables", all(t in tables for t in writes), writes)
        margin, timeout = env.get("DDBSTREAM_DEADLINE_MARGIN_MS"), p.get("Timeout")
        ok = isinstance(timeout, int) and margin is not None and 0 < int(margin) <= timeout * 1000 // 4
        checks.check(f"{name}: deadline margin ({margin} ms) fits the timeout ({timeout} s)", ok, (margin, timeout))
        log_group = resources.get(f"{name.removesuffix('Function')}LogGroup", {})
        checks.check(f"{name}: log retention", "RetentionInDays" in log_group.get("Properties", {}), log_group)
        checks.check(f"{name}: arm64, provided.al2023, bootstrap",
                     (p.get("Architectures"), p.get("Runtime"), p.get("Handler")) == (["arm64"], "provided.al2023", "bootstrap"), p)

    for name, table in tables.items():
        p = table["Properties"]
        checks.check(f"{name}: on demand, PITR, encrypted",
                     p.get("BillingMode") == "PAY_PER_REQUEST"
                     and p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True
                     and p.get("SSESpecification", {}).get("SSEEnabled") is True, p)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
