#!/usr/bin/env python3
"""`scripts/doctor`, run as a user would, against moto's Lambda API over HTTP.

For each setting that loses, stalls, repeats, skips or drops records, a function gets one
event source mapping carrying exactly that setting (the others good): the doctor must report
that finding, with its severity and a fix naming the property, and nothing else but notes;
exit 1 when records are lost, 0 for the warnings, 1 for them under --strict. Also: a mapping
with every good setting has no finding; a disabled mapping loses; a window mismatch either way
under --windows; a non-stream source is not checked; a function named by its ARN; the human
report; a function with no mapping (exit 1); an unknown function, no credentials and usage
errors (exit 2). States moto cannot produce (LastProcessingResult PROBLEM, transitional
states) go through the pure rules, `findings()` of scripts/doctor_rules.py.

Run from the repository root: `scripts/with-moto .venv/bin/python tests/doctor.py`. Nothing is
written to the streams (moto would invoke the functions through docker).
"""

import concurrent.futures
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import boto3

from lambda_watch import ROOT, Checks

sys.path.insert(0, str(ROOT / "scripts"))
import doctor_rules as rules  # noqa: E402

DOCTOR = ROOT / "scripts" / "doctor"
REMOVE = object()


def doctor(*args, env=None):
    """(exit code, stdout, stderr) of scripts/doctor, run from a directory outside the repository."""
    run = subprocess.run([str(DOCTOR), *args], capture_output=True, text=True, timeout=120,
                         cwd=tempfile.gettempdir(), env=env)
    return run.returncode, run.stdout, run.stderr


def parsed(out):
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return None


def serious(found):
    """The (property, severity) pairs of the findings that are not notes."""
    return sorted((f["property"], f["severity"]) for f in found if f["severity"] != "NOTE")


def zipped_bootstrap():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    return buffer.getvalue()


class World:
    """The resources in moto: a role, a streamed table, a Kinesis stream, a bucket, a queue, a topic."""

    def __init__(self):
        suffix = str(os.getpid())
        self.suffix = suffix
        iam, ddb, kinesis = boto3.client("iam"), boto3.client("dynamodb"), boto3.client("kinesis")
        s3, sqs, sns = boto3.client("s3"), boto3.client("sqs"), boto3.client("sns")
        self.lam = boto3.client("lambda")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                         "Action": "sts:AssumeRole"}]}
        self.role = iam.create_role(RoleName=f"doctor-{suffix}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        table = ddb.create_table(
            TableName=f"DoctorOrders{suffix}", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        self.ddb_stream = table["TableDescription"]["LatestStreamArn"]
        kinesis.create_stream(StreamName=f"doctor-changes-{suffix}", ShardCount=1)
        self.kinesis_stream = kinesis.describe_stream_summary(
            StreamName=f"doctor-changes-{suffix}")["StreamDescriptionSummary"]["StreamARN"]
        s3.create_bucket(Bucket=f"doctor-failed-{suffix}")
        self.bucket = f"arn:aws:s3:::doctor-failed-{suffix}"
        queue = sqs.create_queue(QueueName=f"doctor-failed-{suffix}")["QueueUrl"]
        self.queue = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        source_queue = sqs.create_queue(QueueName=f"doctor-source-{suffix}")["QueueUrl"]
        self.source_queue = sqs.get_queue_attributes(QueueUrl=source_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.topic = sns.create_topic(Name=f"doctor-failed-{suffix}")["TopicArn"]
        self.code = zipped_bootstrap()

    def good(self, source=None):
        return {"EventSourceArn": source or self.ddb_stream, "StartingPosition": "TRIM_HORIZON", "BatchSize": 100,
                "FunctionResponseTypes": ["ReportBatchItemFailures"], "BisectBatchOnFunctionError": True,
                "MaximumRetryAttempts": 5, "MaximumRecordAgeInSeconds": 21600,
                "DestinationConfig": {"OnFailure": {"Destination": self.bucket}}}

    def function(self, case):
        name = f"doctor-{case}-{self.suffix}"
        return self.lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=self.role,
                                        Handler="bootstrap", Code={"ZipFile": self.code})

    def mapping(self, function_ref, settings):
        spec = {k: v for k, v in settings.items() if v is not REMOVE}
        return self.lam.create_event_source_mapping(FunctionName=function_ref, **spec)["UUID"]


def moto_cases(world):
    """(case, settings changed from the good ones, doctor arguments, expected (property, severity)
    findings that are not notes, substring of the fix, exit status, exit status under --strict)."""
    sqs_dest = {"OnFailure": {"Destination": world.queue}}
    sns_dest = {"OnFailure": {"Destination": world.topic}}
    pattern = json.dumps({"eventName": ["INSERT"]})
    window = ["--windows", "no"]
    return [
        ("good", {}, window, [], None, 0, 0),
        ("good-kinesis", {"EventSourceArn": world.kinesis_stream}, window, [], None, 0, 0),
        ("no-report", {"FunctionResponseTypes": REMOVE}, window, [("FunctionResponseTypes", "LOSES")],
         "--function-response-types ReportBatchItemFailures", 1, 1),
        ("no-destination", {"DestinationConfig": REMOVE}, window, [("DestinationConfig.OnFailure", "LOSES")],
         "arn:aws:s3:::", 1, 1),
        ("sqs-destination", {"DestinationConfig": sqs_dest}, window, [("DestinationConfig.OnFailure", "LOSES")],
         "arn:aws:s3:::", 1, 1),
        ("sns-destination", {"DestinationConfig": sns_dest}, window, [("DestinationConfig.OnFailure", "LOSES")],
         "arn:aws:s3:::", 1, 1),
        ("unbounded", {"MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1}, window,
         [("MaximumRetryAttempts, MaximumRecordAgeInSeconds", "STALLS")], "--maximum-retry-attempts", 1, 1),
        ("unbounded-default", {"MaximumRetryAttempts": REMOVE, "MaximumRecordAgeInSeconds": REMOVE}, window,
         [("MaximumRetryAttempts, MaximumRecordAgeInSeconds", "STALLS")], "--maximum-record-age-in-seconds", 1, 1),
        ("retries-only-unbounded", {"MaximumRetryAttempts": -1}, window, [], None, 0, 0),
        ("age-only-unbounded", {"MaximumRecordAgeInSeconds": -1}, window, [], None, 0, 0),
        ("no-bisect", {"BisectBatchOnFunctionError": False}, window, [("BisectBatchOnFunctionError", "REPEATS")],
         "--bisect-batch-on-function-error", 0, 1),
        ("bisect-default", {"BisectBatchOnFunctionError": REMOVE}, window, [("BisectBatchOnFunctionError", "REPEATS")],
         "--bisect-batch-on-function-error", 0, 1),
        ("latest", {"StartingPosition": "LATEST"}, window, [("StartingPosition", "SKIPS")],
         "--starting-position TRIM_HORIZON", 0, 1),
        ("filtered", {"FilterCriteria": {"Filters": [{"Pattern": pattern}]}}, window, [("FilterCriteria", "DROPS")],
         "--filter-criteria", 0, 1),
        ("disabled", {"Enabled": False}, window, [("State", "LOSES")], "--enabled", 1, 1),
        ("window-unrouted", {"TumblingWindowInSeconds": 60}, ["--windows", "no"], [("TumblingWindowInSeconds", "LOSES")],
         "--tumbling-window-in-seconds 0", 1, 1),
        ("window-routed", {"TumblingWindowInSeconds": 60}, ["--windows", "yes"], [], None, 0, 0),
        ("plain-window-routed", {}, ["--windows", "yes"], [("TumblingWindowInSeconds", "LOSES")],
         "--tumbling-window-in-seconds 300", 1, 1),
    ]


def main():
    if "AWS_ENDPOINT_URL" not in os.environ:
        print("doctor: run through scripts/with-moto (it creates Lambda functions wherever boto3 points)")
        return 2
    checks = Checks("doctor")
    world = World()
    cases = moto_cases(world)
    uuids, runs = {}, {}
    for case, changes, *_ in cases:
        world.function(case)
        uuids[case] = world.mapping(f"doctor-{case}-{world.suffix}", {**world.good(), **changes})

    # Functions for the other checks.
    name = lambda case: f"doctor-{case}-{world.suffix}"
    arn = world.function("by-arn")["FunctionArn"]
    arn_good = world.mapping(arn, world.good())                                  # created with the ARN
    arn_bad = world.mapping(name("by-arn"), {**world.good(), "StartingPosition": "LATEST"})  # with the name
    world.function("queue-source")
    queue_uuid = world.mapping(name("queue-source"), {"EventSourceArn": world.source_queue, "BatchSize": 10})
    world.function("window-unknown")
    window_unknown = world.mapping(name("window-unknown"), {**world.good(), "TumblingWindowInSeconds": 60})
    world.function("no-mapping")

    jobs = {}
    for case, _, args, *_ in cases:
        jobs[(case, False)] = [name(case), "--json", *args]
        jobs[(case, True)] = [name(case), "--json", "--strict", *args]
    jobs["by-name"] = [name("by-arn"), "--json"]     # no --windows: each mapping read earns a note
    jobs["by-arn"] = [arn, "--json"]
    jobs["good-unknown-windows"] = [name("good"), "--json"]
    jobs["window-unknown"] = [name("window-unknown"), "--json", "--strict"]
    jobs["queue-source"] = [name("queue-source"), "--json", "--strict"]
    jobs["human"] = [name("no-report"), "--windows", "no"]
    jobs["human-good"] = [name("good"), "--windows", "no", "--strict"]
    jobs["no-mapping"] = [name("no-mapping"), "--json"]
    jobs["no-mapping-human"] = [name("no-mapping")]
    jobs["unknown"] = [name("absent"), "--json"]
    jobs["bad-windows"] = [name("good"), "--windows", "maybe"]
    jobs["no-args"] = []
    envs = {"no-credentials": {k: v for k, v in os.environ.items()
                               if not k.startswith("AWS_") or k in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")}}
    envs["no-credentials"].update(AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_CONFIG_FILE="/dev/null",
                                  AWS_EC2_METADATA_DISABLED="true")
    jobs["no-credentials"] = [name("good")]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = {key: pool.submit(doctor, *args, env=envs.get(key)) for key, args in jobs.items()}
        runs = {key: future.result() for key, future in futures.items()}

    for case, changes, args, expected, fix, code, strict_code in cases:
        label = f"{case} ({' '.join(args)})"
        status, out, err = runs[(case, False)]
        found = parsed(out)
        if not isinstance(found, list):
            checks.check(f"{label}: JSON findings", False, (status, out, err))
            continue
        checks.check(f"{label}: findings {expected or 'none but notes'}", serious(found) == sorted(expected), found)
        checks.check(f"{label}: exit {code}", status == code, (status, err))
        checks.check(f"{label}: exit {strict_code} under --strict", runs[(case, True)][0] == strict_code, runs[(case, True)])
        checks.check(f"{label}: every finding names its mapping, a consequence and a fix",
                     all(f["uuid"] == uuids[case] and f["source"] == (changes.get("EventSourceArn") or world.ddb_stream)
                         and len(f["message"]) > 40 and len(f["fix"]) > 10 for f in found), found)
        checks.check(f"{label}: no notes (--windows given)", not any(f["severity"] == "NOTE" for f in found), found)
        if fix:
            bad = [f for f in found if f["severity"] != "NOTE"]
            checks.check(f"{label}: the fix names `{fix}`", all(fix in f["fix"] for f in bad), bad)
        if case == "filtered":
            checks.check("filtered: the pattern is quoted", any('{"eventName": ["INSERT"]}' in f["message"] for f in found), found)
        if case in ("sqs-destination", "sns-destination"):
            checks.check(f"{case}: says the destination holds only metadata",
                         all("only metadata" in f["message"] for f in found), found)
        if case == "disabled":
            checks.check("disabled: the reason moto gives is quoted", all("User initiated" in f["message"] for f in found), found)

    status, out, err = runs["good-unknown-windows"]
    found = parsed(out) or []
    checks.check("good, no --windows: one note, that the router must not have only a window route",
                 status == 0 and [(f["property"], f["severity"]) for f in found] == [("TumblingWindowInSeconds", "NOTE")]
                 and "only a window route" in found[0]["message"], (status, out, err))
    status, out, err = runs["window-unknown"]
    found = parsed(out) or []
    checks.check("tumbling window, no --windows: one note, that the router must have a window route; exit 0 even --strict",
                 status == 0 and [(f["property"], f["severity"], f["uuid"]) for f in found]
                 == [("TumblingWindowInSeconds", "NOTE", window_unknown)] and "must have a window route" in found[0]["message"],
                 (status, out, err))
    status, out, err = runs["queue-source"]
    found = parsed(out) or []
    checks.check("an SQS source: noted as not a stream source, nothing else; exit 0 even --strict",
                 status == 0 and [(f["property"], f["severity"], f["uuid"]) for f in found] == [("EventSourceArn", "NOTE", queue_uuid)]
                 and "not a stream source" in found[0]["message"], (status, out, err))

    for key in ("by-name", "by-arn"):
        status, out, err = runs[key]
        found = parsed(out) or []
        checks.check(f"function named {key[3:]}: both mappings read (one created with its name, one with its ARN), "
                     "the LATEST one's finding on its own mapping",
                     status == 0 and sorted((f["property"], f["severity"], f["uuid"]) for f in found)
                     == sorted([("StartingPosition", "SKIPS", arn_bad), ("TumblingWindowInSeconds", "NOTE", arn_bad),
                                ("TumblingWindowInSeconds", "NOTE", arn_good)]), (status, out, err))

    status, out, err = runs["human"]
    lines = out.splitlines()
    checks.check("human report: the mapping's UUID, source and state",
                 f"mapping {uuids['no-report']}" in lines and f"  source  {world.ddb_stream}" in lines
                 and any(l.startswith("  state   Enabled") for l in lines), out)
    checks.check("human report: `LOSES  FunctionResponseTypes: <what happens>. Fix: <how>`",
                 any(l.startswith("  LOSES    FunctionResponseTypes: ") and ". Fix: " in l
                     and "--function-response-types ReportBatchItemFailures" in l for l in lines), out)
    checks.check("human report: a closing summary line, exit 1",
                 status == 1 and lines[-1].startswith("doctor: ") and "1 LOSES" in lines[-1]
                 and "records can be lost" in lines[-1] and lines[-1].endswith("(exit 1)"), (status, out, err))
    status, out, err = runs["human-good"]
    checks.check("human report, good mapping: no findings, exit 0 under --strict",
                 status == 0 and "  no findings" in out.splitlines() and out.splitlines()[-1].endswith("nothing loses records (exit 0)"),
                 (status, out, err))

    status, out, err = runs["no-mapping"]
    found = parsed(out) or []
    checks.check("no mapping: exit 1, one finding saying the function reads no stream",
                 status == 1 and [(f["property"], f["severity"]) for f in found] == [("EventSourceMapping", "LOSES")]
                 and found[0]["message"] == "no event source mapping: the function reads no stream", (status, out, err))
    status, out, err = runs["no-mapping-human"]
    checks.check("no mapping, human report: says so, exit 1",
                 status == 1 and "no event source mapping: the function reads no stream" in out, (status, out, err))
    status, out, err = runs["unknown"]
    checks.check("unknown function: exit 2, one line naming it, nothing on stdout",
                 status == 2 and out == "" and len(err.strip().splitlines()) == 1 and name("absent") in err
                 and "not found" in err, (status, out, err))
    status, out, err = runs["no-credentials"]
    checks.check("no credentials: exit 2, one line naming the function and the cause",
                 status == 2 and len(err.strip().splitlines()) == 1 and name("good") in err and "credentials" in err,
                 (status, out, err))
    for key in ("bad-windows", "no-args"):
        status, out, err = runs[key]
        checks.check(f"usage error ({key}): exit 2 with the usage", status == 2 and "usage: doctor" in err, (status, out, err))

    pure(checks)
    return checks.finish()


def pure(checks):
    """The rules on mappings moto cannot produce."""
    ddb = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2024-01-01T00:00:00.000"
    kinesis = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders-changes"
    good = {"UUID": "u-1", "EventSourceArn": ddb, "State": "Enabled", "StateTransitionReason": "User action",
            "StartingPosition": "TRIM_HORIZON", "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 5, "MaximumRecordAgeInSeconds": 21600,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::failed"}}, "LastProcessingResult": "OK"}

    def judged(name, changes, expected, windows=False, text=None):
        found = rules.findings({**good, **changes}, windows)
        got = sorted((f["property"], f["severity"]) for f in found)
        ok = got == sorted(expected) and all(text in f["message"] for f in found if text)
        checks.check(f"rules: {name}", ok, found)
        return found

    judged("a good mapping has no finding", {}, [])
    for problem in ("PROBLEM: Function call failed", "PROBLEM: Lambda is unable to access the stream"):
        judged(f"LastProcessingResult {problem!r} loses, quoted", {"LastProcessingResult": problem},
               [("LastProcessingResult", "LOSES")], text=f'"{problem}"')
    for fine in ("OK", "No records processed"):
        judged(f"LastProcessingResult {fine!r} is fine", {"LastProcessingResult": fine}, [])
    for state in ("Creating", "Enabling", "Updating"):
        judged(f"state {state} is a note with its reason", {"State": state, "StateTransitionReason": "User action"},
               [("State", "NOTE")], text=f"{state} (User action)")
    for state in ("Disabled", "Disabling", "Deleting"):
        judged(f"state {state} loses, with its reason",
               {"State": state, "StateTransitionReason": "Lambda could not access the stream"},
               [("State", "LOSES")], text="Lambda could not access the stream")
    judged("a DynamoDB stream's record age of 24 h or more, with unlimited retries, stalls",
           {"MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": 86400},
           [("MaximumRetryAttempts, MaximumRecordAgeInSeconds", "STALLS")], text="24 hours")
    judged("the legacy 604800 s record age on a DynamoDB stream, with unlimited retries, stalls",
           {"MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": 604800},
           [("MaximumRetryAttempts, MaximumRecordAgeInSeconds", "STALLS")])
    judged("a record age under 24 h bounds a DynamoDB stream's retries",
           {"MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": 86399}, [])
    judged("a Kinesis stream's 604800 s record age bounds its retries",
           {"EventSourceArn": kinesis, "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": 604800}, [])
    judged("a Kinesis stream with unlimited retries and age stalls",
           {"EventSourceArn": kinesis, "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1},
           [("MaximumRetryAttempts, MaximumRecordAgeInSeconds", "STALLS")], text="Kinesis")
    judged("a window mismatch with unlimited retries and age stalls",
           {"TumblingWindowInSeconds": 60, "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1},
           [("MaximumRetryAttempts, MaximumRecordAgeInSeconds", "STALLS"), ("TumblingWindowInSeconds", "STALLS")])
    judged("a window mismatch names the framework's error", {"TumblingWindowInSeconds": 60},
           [("TumblingWindowInSeconds", "LOSES")], text="which has no window route")
    judged("a window route, no window: names the framework's error", {}, [("TumblingWindowInSeconds", "LOSES")],
           windows=True, text="has only a window route, and this event is not a tumbling window's")
    judged("TumblingWindowInSeconds 0 is no window (--windows no)", {"TumblingWindowInSeconds": 0}, [])
    judged("TumblingWindowInSeconds 0 is no window (--windows yes)", {"TumblingWindowInSeconds": 0},
           [("TumblingWindowInSeconds", "LOSES")], windows=True)
    judged("a Lambda function as on-failure destination is a note",
           {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:eu-west-1:123456789012:function:f"}}},
           [("DestinationConfig.OnFailure", "NOTE")])
    judged("an empty OnFailure loses", {"DestinationConfig": {"OnFailure": {}}}, [("DestinationConfig.OnFailure", "LOSES")])
    judged("an SQS destination on a Kinesis stream loses after the Kinesis retention",
           {"EventSourceArn": kinesis, "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:eu-west-1:123456789012:q"}}},
           [("DestinationConfig.OnFailure", "LOSES")], text="Kinesis stream's retention")
    judged("AT_TIMESTAMP is a note", {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": "2024-01-01"},
           [("StartingPosition", "NOTE")], text="2024-01-01")
    judged("an empty filter list drops nothing", {"FilterCriteria": {"Filters": []}}, [])
    judged("encrypted, unread filter criteria are a note", {"KMSKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/k"},
           [("FilterCriteria", "NOTE")])
    judged("an SQS source with every bad setting is only noted, not checked",
           {"EventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:q", "FunctionResponseTypes": [], "State": "Disabled",
            "DestinationConfig": {}, "BisectBatchOnFunctionError": False, "StartingPosition": None},
           [("EventSourceArn", "NOTE")], windows=True)
    every = rules.findings({"UUID": "u-2", "EventSourceArn": kinesis, "State": "Disabled", "StartingPosition": "LATEST",
                            "FilterCriteria": {"Filters": [{"Pattern": "{}"}]}, "TumblingWindowInSeconds": 30}, False)
    checks.check("rules: every bad setting at once, each reported once",
                 sorted((f["property"], f["severity"]) for f in every) == sorted([
                     ("State", "LOSES"), ("FunctionResponseTypes", "LOSES"), ("DestinationConfig.OnFailure", "LOSES"),
                     ("MaximumRetryAttempts, MaximumRecordAgeInSeconds", "STALLS"), ("BisectBatchOnFunctionError", "REPEATS"),
                     ("TumblingWindowInSeconds", "STALLS"), ("StartingPosition", "SKIPS"), ("FilterCriteria", "DROPS")]), every)
    checks.check("rules: each fix names the mapping's UUID where it gives a command",
                 all("--uuid u-2" in f["fix"] for f in every if "update-event-source-mapping" in f["fix"])
                 and sum("--uuid u-2" in f["fix"] for f in every) >= 5, every)

    def status(severities, strict):
        return rules.exit_status([{"severity": s} for s in severities], strict)
    expected = [([], False, 0), (["NOTE"], True, 0), (["REPEATS"], False, 0), (["REPEATS"], True, 1),
                (["SKIPS", "DROPS", "NOTE"], False, 0), (["DROPS"], True, 1), (["STALLS"], False, 1),
                (["NOTE", "LOSES"], False, 1)]
    checks.check("rules: exit status by severity and --strict",
                 all(status(s, strict) == code for s, strict, code in expected),
                 [(s, strict, code, status(s, strict)) for s, strict, code in expected])


if __name__ == "__main__":
    sys.exit(main())
