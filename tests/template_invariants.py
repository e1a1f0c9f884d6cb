#!/usr/bin/env python3
"""Invariants of a SAM template that cfn-lint cannot know, parsed with cfn-lint's own loader:
this repository's template.yaml, or the one given (`template_invariants.py PATH`: a crate made
by `make new` holds its own, checked by `make starter`).

- Every stream consumer: TRIM_HORIZON, explicit BatchSize and MaximumBatchingWindowInSeconds,
  ReportBatchItemFailures, bisect, bounded retries and record age, its own event counts
  (MetricsConfig EventCount), and an on-failure destination that keeps the records (an S3
  bucket, retained, encrypted, private, with a lifecycle rule, that notifies the alarm topic
  of each object, whose objects only named readers of this account may read), with the
  role's grants for it, pinned to the account (aws:ResourceAccount).
- Every consumer's function has its alarms (iterator age, errors, throttles, destination
  delivery failures) notifying the alarm topic; the iterator-age threshold is below the
  mapping's maximum record age. Every mapping has a stall alarm: its source written while
  the mapping polls nothing.
- The alarm topic has a subscriber whatever the parameters: AlarmEmail is required.
- Every deployable binary (of handlers/, or of the crate beside the template; the
  fault-injection test tool excepted) has exactly one function, and every function's binary
  exists.
- No wildcard actions; no "*" resource except for dynamodb:ListStreams and the X-Ray writes,
  which require it.
- Every table a function writes is in its policy and its environment, and every table in its
  environment that is not a stream it reads is one it writes.
- The deadline margin is set and leaves the function most of its timeout.
- Every DynamoDB stream has at most two readers under every combination of the parameters
  that decide conditions; a Kinesis source is a table's Kinesis streaming destination.
- Tables deployed whatever the parameters have deletion protection and are retained; log
  groups and Kinesis streams are retained.
"""

import itertools

import pathlib
import re
import sys

from cfnlint.decode import cfn_yaml

from lambda_watch import Checks

ROOT = pathlib.Path(__file__).resolve().parent.parent
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
STAR_ACTIONS = [["dynamodb:ListStreams"], ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]]
ALARMS = {"IteratorAge", "Errors", "Throttles", "DestinationDeliveryFailures"}


def holds(condition, conditions, params):
    """Evaluates a template condition (Equals, Not, And, Or, Condition, Ref) for these parameters."""
    def value(v):
        if isinstance(v, dict) and "Ref" in v:
            return params[v["Ref"]]
        return v
    def ev(c):
        if isinstance(c, dict):
            (op, args), = c.items()
            if op == "Fn::Equals":
                return value(args[0]) == value(args[1])
            if op == "Fn::Not":
                return not ev(args[0])
            if op == "Fn::And":
                return all(ev(a) for a in args)
            if op == "Fn::Or":
                return any(ev(a) for a in args)
            if op == "Condition":
                return ev(conditions[args])
        raise ValueError(f"unknown condition {c}")
    return ev(conditions[condition])


def ref(value):
    """The resource a Ref or GetAtt points at (for a table's name taken from its stream's
    ARN, `!Select [1, !Split ["/", !Ref Stream]]`, the stream), or None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
        if "Fn::Select" in value:
            index, of = value["Fn::Select"]
            if index == 1 and isinstance(of, dict) and "Fn::Split" in of and of["Fn::Split"][0] == "/":
                return ref(of["Fn::Split"][1])
    return None


def as_list(value):
    return value if isinstance(value, list) else [value]


def binaries(template_path):
    """The binaries beside the template: handlers/'s in this repository, else the crate's own."""
    here = template_path.parent
    manifest_path = here / "handlers" / "Cargo.toml"
    if not manifest_path.is_file():
        manifest_path = here / "Cargo.toml"
    manifest = manifest_path.read_text()
    named = set(re.findall(r'\[\[bin\]\]\s*name\s*=\s*"([^"]+)"', manifest))
    if named:
        return named
    package = re.search(r'\[package\][^\[]*?\bname\s*=\s*"([^"]+)"', manifest, re.S)
    return {package.group(1)} if package else set()


def branches(value):
    """The values a property can take: both branches of an Fn::If (AWS::NoValue left out)."""
    if isinstance(value, dict) and "Fn::If" in value:
        return [v for branch in value["Fn::If"][1:] for v in branches(branch)]
    if isinstance(value, dict) and value.get("Ref") == "AWS::NoValue":
        return []
    return [value]


def policy_statements(resources, role):
    statements = resources.get(role, {}).get("Properties", {}).get("Policies", [{}])[0].get("PolicyDocument", {}).get("Statement", [])
    return [s for statement in statements for s in branches(statement)]


def metrics_of(alarm):
    """(namespace, metric name, {dimension: resource}) of every metric an alarm reads."""
    p = alarm["Properties"]
    found = []
    if "MetricName" in p:
        found.append((p.get("Namespace"), p["MetricName"], {d["Name"]: ref(d.get("Value")) for d in p.get("Dimensions", [])}))
    for m in p.get("Metrics", []):
        metric = m.get("MetricStat", {}).get("Metric")
        if metric:
            found.append((metric.get("Namespace"), metric.get("MetricName"),
                          {d["Name"]: ref(d.get("Value")) for d in metric.get("Dimensions", [])}))
    return found


def main():
    template_path = pathlib.Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "template.yaml"
    template = cfn_yaml.load(str(template_path))
    resources = template["Resources"]
    checks = Checks("template")
    of_type = lambda kind: {name: r for name, r in resources.items() if r["Type"] == kind}
    functions = of_type("AWS::Serverless::Function")
    mappings = of_type("AWS::Lambda::EventSourceMapping")
    buckets = of_type("AWS::S3::Bucket")
    topics = of_type("AWS::SNS::Topic")
    alarms = of_type("AWS::CloudWatch::Alarm")
    conditions = template.get("Conditions", {})
    parameters = template.get("Parameters", {})
    tables = of_type("AWS::DynamoDB::Table")

    checks.check("there are stream consumers", len(mappings) >= 1, list(mappings))
    for name, mapping in mappings.items():
        p = mapping["Properties"]
        checks.check(f"{name}: TRIM_HORIZON", p.get("StartingPosition") == "TRIM_HORIZON", p.get("StartingPosition"))
        checks.check(f"{name}: explicit batching", isinstance(p.get("BatchSize"), int) and "MaximumBatchingWindowInSeconds" in p, p)
        checks.check(f"{name}: ReportBatchItemFailures", p.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], p)
        checks.check(f"{name}: bisect", p.get("BisectBatchOnFunctionError") is True, p)
        retries, age = p.get("MaximumRetryAttempts"), p.get("MaximumRecordAgeInSeconds")
        checks.check(f"{name}: bounded retries", isinstance(retries, int) and 0 <= retries <= 10, retries)
        checks.check(f"{name}: bounded record age", isinstance(age, int) and 60 <= age <= 604800, age)
        destination = ref(p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
        bucket = buckets.get(destination, {})
        bp = bucket.get("Properties", {})
        checks.check(f"{name}: failures kept in an S3 bucket (the whole invocation)", destination in buckets, destination)
        checks.check(f"{name}: the failure bucket is retained, encrypted, private, expiring",
                     bucket.get("DeletionPolicy") == "Retain" and "BucketEncryption" in bp
                     and all(bp.get("PublicAccessBlockConfiguration", {}).get(k) is True for k in
                             ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"])
                     and any(r.get("ExpirationInDays") for r in bp.get("LifecycleConfiguration", {}).get("Rules", [])), bp)
        notified = [ref(t.get("Topic")) for t in bp.get("NotificationConfiguration", {}).get("TopicConfigurations", [])
                    if t.get("Event", "").startswith("s3:ObjectCreated")]
        checks.check(f"{name}: what reaches the failure bucket notifies a topic", any(t in topics for t in notified), notified)
        source = ref(p.get("EventSourceArn"))
        kinesis_destinations = {ref(t["Properties"].get("KinesisStreamSpecification", {}).get("StreamArn")) for t in tables.values()}
        reads_stream = source in tables and "StreamSpecification" in tables[source]["Properties"]
        reads_kinesis = resources.get(source, {}).get("Type") == "AWS::Kinesis::Stream" and source in kinesis_destinations
        pattern = parameters.get(source, {}).get("AllowedPattern", "")
        reads_given_stream = ":dynamodb:" in pattern and "/stream/" in pattern
        checks.check(f"{name}: reads a table's stream or its Kinesis destination", reads_stream or reads_kinesis or reads_given_stream,
                     source)
        checks.check(f"{name}: publishes its own event counts (MetricsConfig EventCount)",
                     "EventCount" in ((p.get("MetricsConfig") or {}).get("Metrics") or []), p.get("MetricsConfig"))
        policy = next((b["Properties"]["PolicyDocument"] for b in resources.values()
                       if b["Type"] == "AWS::S3::BucketPolicy" and ref(b["Properties"].get("Bucket")) == destination), {})
        denied_reads = [s for s in policy.get("Statement", []) if s.get("Effect") == "Deny"
                        and "s3:GetObject" in as_list(s.get("Action"))]
        conditions_of_denials = [next(iter(s.get("Condition", {}).get(op, {})), None) for s in denied_reads
                                 for op in s.get("Condition", {})]
        checks.check(f"{name}: only named readers of this account may read the failure bucket",
                     "aws:PrincipalAccount" in conditions_of_denials and "aws:PrincipalArn" in conditions_of_denials,
                     denied_reads)
        checks.check(f"{name}: feeds a function", ref(p.get("FunctionName")) in functions, p.get("FunctionName"))

    # Every combination of the parameters that have allowed values (the others only name things).
    choices = {k: v.get("AllowedValues", [v.get("Default", "")]) for k, v in parameters.items()}
    if "AlarmEmail" in choices:
        choices["AlarmEmail"] = ["ops@example.com"]
    for combination in itertools.product(*choices.values()):
        params = dict(zip(choices, combination))
        readers = {}
        for name, mapping in mappings.items():
            if "Condition" not in mapping or holds(mapping["Condition"], conditions, params):
                readers.setdefault(ref(mapping["Properties"]["EventSourceArn"]), []).append(name)
        shown = ",".join(f"{k}={v}" for k, v in params.items() if k != "Prefix")
        for source, names in readers.items():
            if source in tables:
                checks.check(f"{source} stream: at most two readers ({shown})", len(names) <= 2, names)

    for name, mapping in mappings.items():
        function = ref(mapping["Properties"]["FunctionName"])
        age = mapping["Properties"].get("MaximumRecordAgeInSeconds")
        mine = [a["Properties"] for a in alarms.values()
                if any(dims.get("FunctionName") == function for _, _, dims in metrics_of(a))]
        metrics = {a.get("MetricName") for a in mine}
        source = ref(mapping["Properties"]["EventSourceArn"])
        # What the source's writes are counted by: its table (named, or taken from a given
        # stream ARN), or its Kinesis stream.
        written = {("AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", source),
                   ("AWS/Kinesis", "IncomingRecords", "StreamName", source)}
        stalls = [a for a in alarms.values()
                  if any((ns, metric) == ("AWS/Lambda", "PolledEventCount") and dims.get("EventSourceMappingUUID") == name
                         for ns, metric, dims in metrics_of(a))
                  and any((ns, metric, dim, res) in written for ns, metric, dims in metrics_of(a) for dim, res in dims.items())
                  and a.get("Condition") == mapping.get("Condition")]
        checks.check(f"{name}: a stall alarm (its source written, nothing polled) notifies a topic",
                     len(stalls) == 1 and any(ref(t) in topics for t in stalls[0]["Properties"].get("AlarmActions", [])),
                     [a["Properties"].get("AlarmDescription") for a in stalls])
        checks.check(f"{function}: alarms on {sorted(ALARMS)}", ALARMS <= metrics, sorted(metrics))
        checks.check(f"{function}: every alarm notifies a topic",
                     mine and all(any(ref(t) in topics for t in a.get("AlarmActions", [])) for a in mine), mine)
        ages = [a.get("Threshold") for a in mine if a.get("MetricName") == "IteratorAge"]
        checks.check(f"{function}: iterator-age alarm ({ages} ms) well before records are discarded ({age} s)",
                     bool(ages) and all(t <= age * 1000 / 2 for t in ages), (ages, age))
        role = ref(functions.get(function, {}).get("Properties", {}).get("Role"))
        statements = policy_statements(resources, role)
        destination = ref(mapping["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
        grants = {(a, str(r)) for st in statements for a in as_list(st["Action"]) for r in as_list(st["Resource"])}
        checks.check(f"{function}: may list and write its failure bucket",
                     any(a == "s3:ListBucket" and destination in r for a, r in grants)
                     and any(a == "s3:PutObject" and destination in r for a, r in grants), sorted(grants))
        unpinned = [st.get("Sid") for st in statements if any(destination in str(r) for r in as_list(st["Resource"]))
                    and st.get("Condition", {}).get("StringEquals", {}).get("aws:ResourceAccount") != {"Ref": "AWS::AccountId"}]
        checks.check(f"{function}: its failure-bucket grants are pinned to the account (aws:ResourceAccount)", not unpinned, unpinned)

    built = binaries(template_path)
    by_binary = {}
    for name, function in functions.items():
        binary = function.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        by_binary.setdefault(binary, []).append(name)
        checks.check(f"{name}: binary {binary} exists", binary in built, binary)
    for binary in sorted(built - {"fault-injection"}):
        checks.check(f"binary {binary}: exactly one function", len(by_binary.get(binary, [])) == 1, by_binary.get(binary))

    for name, function in functions.items():
        p = function["Properties"]
        role = ref(p.get("Role"))
        statements = policy_statements(resources, role)
        checks.check(f"{name}: has its own role", role in resources and statements, role)
        writes = {}
        for statement in statements:
            actions = as_list(statement["Action"])
            targets = as_list(statement["Resource"])
            checks.check(f"{name}/{statement.get('Sid')}: no wildcard action", not any("*" in a for a in actions), actions)
            if "*" in targets:
                checks.check(f"{name}/{statement.get('Sid')}: '*' only for ListStreams and X-Ray", actions in STAR_ACTIONS, actions)
            for action in actions:
                if action in WRITE_ACTIONS:
                    for target in targets:
                        writes.setdefault(ref(target), set()).add(action)
        streams = {ref(m["Properties"]["EventSourceArn"]) for m in mappings.values() if ref(m["Properties"]["FunctionName"]) == name}
        env = p.get("Environment", {}).get("Variables", {})
        env_tables = {ref(b) for k, v in env.items() if k.endswith("_TABLE") for b in branches(v)}
        checks.check(f"{name}: every table it writes is in its environment", set(writes) <= env_tables, (set(writes), env_tables))
        checks.check(f"{name}: every table in its environment is read or written", env_tables <= set(writes) | streams,
                     (env_tables, set(writes), streams))
        checks.check(f"{name}: tables it writes are this stack's tables, or existing ones given as parameters",
                     all(t in tables or t in parameters for t in writes), writes)
        margin, timeout = env.get("DDBSTREAM_DEADLINE_MARGIN_MS"), p.get("Timeout")
        ok = isinstance(timeout, int) and margin is not None and 0 < int(margin) <= timeout * 1000 // 4
        checks.check(f"{name}: deadline margin ({margin} ms) fits the timeout ({timeout} s)", ok, (margin, timeout))
        log_name = "/aws/lambda/" + str(p.get("FunctionName", {}).get("Fn::Sub"))
        log_groups = [g for g in of_type("AWS::Logs::LogGroup").values()
                      if g["Properties"].get("LogGroupName", {}).get("Fn::Sub") == log_name]
        checks.check(f"{name}: its log group ({log_name}), with retention",
                     len(log_groups) == 1 and "RetentionInDays" in log_groups[0]["Properties"], log_groups)
        checks.check(f"{name}: arm64, provided.al2023, bootstrap",
                     (p.get("Architectures"), p.get("Runtime"), p.get("Handler")) == (["arm64"], "provided.al2023", "bootstrap"), p)

    for name, table in tables.items():
        p = table["Properties"]
        checks.check(f"{name}: on demand, PITR, encrypted",
                     p.get("BillingMode") == "PAY_PER_REQUEST"
                     and p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True
                     and p.get("SSESpecification", {}).get("SSEEnabled") is True, p)
        if "Condition" not in table:
            checks.check(f"{name}: deletion protection, retained",
                         p.get("DeletionProtectionEnabled") is True and table.get("DeletionPolicy") == "Retain", table)
    for name, group in of_type("AWS::Logs::LogGroup").items():
        checks.check(f"{name}: retained on stack deletion", group.get("DeletionPolicy") == "Retain", group)
    for name, stream in of_type("AWS::Kinesis::Stream").items():
        checks.check(f"{name}: retained on deletion and replacement",
                     stream.get("DeletionPolicy") == "Retain" and stream.get("UpdateReplacePolicy") == "Retain", stream)
    email = parameters.get("AlarmEmail", {})
    checks.check("AlarmEmail is required (no default) and checked as an address",
                 "Default" not in email and "@" in email.get("AllowedPattern", ""), email)
    for name, topic in topics.items():
        subscribers = [s for s in of_type("AWS::SNS::Subscription").values()
                       if ref(s["Properties"].get("TopicArn")) == name and "Condition" not in s
                       and ref(s["Properties"].get("Endpoint")) == "AlarmEmail"]
        checks.check(f"{name}: AlarmEmail subscribes to it whatever the parameters", bool(subscribers), subscribers)
    for name, topic in topics.items():
        checks.check(f"{name}: encrypted with a key alarms can use", ref(topic["Properties"].get("KmsMasterKeyId")) in resources, topic)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
