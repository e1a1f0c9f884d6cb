"""What `scripts/doctor` checks in a Lambda function's event source mappings, and its command line.

`findings(mapping, windows)` judges one mapping, as `ListEventSourceMappings` answers it, and
returns every setting that loses, stalls, repeats, skips or drops records, each with its
consequence and its fix. It reads nothing but its arguments, so `tests/doctor.py` also feeds it
states a local Lambda cannot produce. `main` reads the mappings through the Lambda API (region,
endpoint and credentials from the standard AWS environment) and prints the report.

Severities, worst first:
  LOSES    records are, or will be, gone for good                          exit 1
  STALLS   a shard stops behind a failing record, then its records expire  exit 1
  REPEATS  healthy records are processed again and discarded with a bad one  exit 0 (1 with --strict)
  SKIPS    records are never read                                          exit 0 (1 with --strict)
  DROPS    records are filtered out before the function                    exit 0 (1 with --strict)
  NOTE     worth knowing, nothing wrong                                    exit 0
"""

import argparse
import json
import re
import sys

SEVERITIES = ["LOSES", "STALLS", "REPEATS", "SKIPS", "DROPS", "NOTE"]
LOSING = {"LOSES", "STALLS"}
DYNAMODB_STREAM = re.compile(r"^arn:[^:]+:dynamodb:[^:]*:[^:]*:table/[^/]+/stream/.+")
KINESIS_STREAM = re.compile(r"^arn:[^:]+:kinesis:[^:]*:[^:]*:stream/.+")
DYNAMODB_RETENTION_S = 24 * 3600
S3_FIX = ("send discarded batches to an S3 bucket: `aws lambda update-event-source-mapping --uuid {uuid} "
          "--destination-config '{{\"OnFailure\":{{\"Destination\":\"arn:aws:s3:::BUCKET\"}}}}'` "
          "(DestinationConfig.OnFailure.Destination: arn:aws:s3:::BUCKET); Lambda writes the whole "
          "invocation there, records included, and a redrive reads it (`ddbstream::redrive`; `make redrive` "
          "for this repository's functions)")
RETRY_FIX = ("bound them: `aws lambda update-event-source-mapping --uuid {uuid} --maximum-retry-attempts 5 "
             "--maximum-record-age-in-seconds 21600` (MaximumRetryAttempts: 5, MaximumRecordAgeInSeconds: 21600, "
             "below the stream's retention), so a failing batch goes to the on-failure destination within hours")
HAS_NO_WINDOW_ROUTE = "a tumbling-window event from `<stream>`, which has no window route"
HAS_ONLY_WINDOW_ROUTE = "stream `<stream>` has only a window route, and this event is not a tumbling window's"


def source_kind(arn):
    """'dynamodb' or 'kinesis' for a stream source, None for anything else (SQS, Kafka, MQ...)."""
    if DYNAMODB_STREAM.match(arn or ""):
        return "dynamodb"
    if KINESIS_STREAM.match(arn or ""):
        return "kinesis"
    return None


def retention(kind):
    return ("24 hours for a DynamoDB stream" if kind == "dynamodb"
            else "the Kinesis stream's retention period, 24 hours unless raised")


def unbounded(value):
    """MaximumRetryAttempts / MaximumRecordAgeInSeconds: absent means the default, -1, unlimited."""
    return value is None or value == -1


def shown(value):
    return "absent, so -1: unlimited" if value is None else ("-1: unlimited" if value == -1 else str(value))


def stalls_forever(mapping, kind):
    """True when a failing batch is retried until its records leave the stream: retries unlimited
    and record age unlimited (or, on a DynamoDB stream, no shorter than its 24 hours)."""
    age = mapping.get("MaximumRecordAgeInSeconds")
    age_unbounded = unbounded(age) or (kind == "dynamodb" and age >= DYNAMODB_RETENTION_S)
    return unbounded(mapping.get("MaximumRetryAttempts")) and age_unbounded


def finding(mapping, prop, severity, message, fix):
    uuid = mapping.get("UUID")
    return {"uuid": uuid, "source": mapping.get("EventSourceArn"), "property": prop, "severity": severity,
            "message": message, "fix": fix.format(uuid=uuid or "UUID")}


def findings(mapping, windows=None):
    """Every finding for one event source mapping (a dict as ListEventSourceMappings answers it).
    windows: True if the function's router has a window route (ddbstream::window), False if it
    has none, None if unknown (then the mapping's window setting only earns a note)."""
    out = []
    add = lambda *a: out.append(finding(mapping, *a))
    source = mapping.get("EventSourceArn", "")
    kind = source_kind(source)
    if kind is None:
        add("EventSourceArn", "NOTE", f"`{source}` is not a stream source (DynamoDB or Kinesis stream), not checked",
            "nothing, if this function also reads it on purpose")
        return out
    keeps = retention(kind)

    state, reason = mapping.get("State"), mapping.get("StateTransitionReason") or "no reason given"
    if state in ("Disabled", "Disabling", "Deleting"):
        fix = ("re-create the mapping" if state == "Deleting" else
               "enable it: `aws lambda update-event-source-mapping --uuid {uuid} --enabled` (Enabled: true)")
        add("State", "LOSES",
            f"the mapping is {state} ({reason}): it reads nothing, so records expire from the stream "
            f"({keeps}) unread, and with no invocations the iterator-age and error alarms get no data", fix)
    elif state in ("Creating", "Enabling", "Updating"):
        add("State", "NOTE", f"the mapping is {state} ({reason}): it reads nothing until it is Enabled",
            "wait a minute and run the doctor again; if it stays so, see StateTransitionReason")
    elif state != "Enabled":
        add("State", "NOTE", f"the mapping's state is {state!r} ({reason}), not Enabled",
            "see StateTransitionReason")

    result = mapping.get("LastProcessingResult") or ""
    if result.startswith("PROBLEM"):
        add("LastProcessingResult", "LOSES",
            f"Lambda reports \"{result}\": the last batch was not processed; it is retried, and once "
            "the retries or the record age run out it is discarded",
            "find the cause (the function's errors and timeouts in its logs, or its role's access to "
            "the stream), fix it, then redrive what was discarded (`ddbstream::redrive`)")

    if "ReportBatchItemFailures" not in (mapping.get("FunctionResponseTypes") or []):
        add("FunctionResponseTypes", "LOSES",
            "ReportBatchItemFailures is not set: Lambda ignores the batchItemFailures the framework "
            "returns, so a batch with failed records counts as a success, and the failed records are "
            "acknowledged and lost",
            "`aws lambda update-event-source-mapping --uuid {uuid} --function-response-types "
            "ReportBatchItemFailures` (FunctionResponseTypes: [ReportBatchItemFailures])")

    destination = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    service = destination.split(":")[2] if destination and destination.count(":") >= 2 else None
    if not destination:
        add("DestinationConfig.OnFailure", "LOSES",
            "no on-failure destination: a batch discarded after its retries or record age leaves no "
            "trace; its records are lost", S3_FIX)
    elif service in ("sqs", "sns"):
        what = "an SQS queue" if service == "sqs" else "an SNS topic"
        add("DestinationConfig.OnFailure", "LOSES",
            f"the on-failure destination is {what} (`{destination}`): Lambda sends it only metadata (the "
            f"shard and sequence range), not the records, which must be re-read from the stream before "
            f"they expire ({keeps}); after that they are lost", S3_FIX)
    elif service != "s3":
        add("DestinationConfig.OnFailure", "NOTE",
            f"the on-failure destination `{destination}` is neither S3, SQS nor SNS: the doctor does not "
            "know what it keeps", S3_FIX)

    if stalls_forever(mapping, kind):
        age = mapping.get("MaximumRecordAgeInSeconds")
        age_text = shown(age) + ("" if unbounded(age) else ", no shorter than the stream keeps records")
        add("MaximumRetryAttempts, MaximumRecordAgeInSeconds", "STALLS",
            f"retries unlimited (MaximumRetryAttempts {shown(mapping.get('MaximumRetryAttempts'))}) and "
            f"record age unlimited (MaximumRecordAgeInSeconds {age_text}): a batch that keeps failing "
            f"blocks its shard, nothing behind it is processed for the stream's whole retention ({keeps}), "
            "then its records expire unseen and nothing reaches the on-failure destination", RETRY_FIX)

    if mapping.get("BisectBatchOnFunctionError") is not True:
        add("BisectBatchOnFunctionError", "REPEATS",
            "bisection is off: when a whole invocation fails (timeout, crash, out of memory) Lambda "
            "retries the whole batch, so its healthy records are processed again each time, and when "
            "the retries run out they are discarded with the failing record",
            "`aws lambda update-event-source-mapping --uuid {uuid} --bisect-batch-on-function-error` "
            "(BisectBatchOnFunctionError: true): Lambda halves a failing batch until the failing record is alone")

    tumbling = mapping.get("TumblingWindowInSeconds") or 0
    if windows is not None and bool(tumbling) != windows:
        if stalls_forever(mapping, kind):
            severity, then = "STALLS", (f"its shards stall until the records expire ({keeps}), and then "
                                        "they are lost")
        else:
            severity, then = "LOSES", ("every batch is retried, then discarded to the on-failure destination "
                                       "(if any): the function processes nothing, and a redrive through the "
                                       "same router fails the same way")
        if windows:
            add("TumblingWindowInSeconds", severity,
                f"the router has a window route (--windows yes) but the mapping has no tumbling window: "
                f"every invocation fails (\"{HAS_ONLY_WINDOW_ROUTE}\"), so {then}",
                "`aws lambda update-event-source-mapping --uuid {uuid} --tumbling-window-in-seconds 300` "
                "(TumblingWindowInSeconds: 1 to 900), or register a plain route for this stream")
        else:
            add("TumblingWindowInSeconds", severity,
                f"the mapping has a {tumbling} s tumbling window but the router has no window route "
                f"(--windows no): every invocation fails (\"{HAS_NO_WINDOW_ROUTE}...\"), so {then}",
                "remove the window: `aws lambda update-event-source-mapping --uuid {uuid} "
                "--tumbling-window-in-seconds 0` (no TumblingWindowInSeconds), or register a route built "
                "with ddbstream::window")
    elif windows is None and tumbling:
        add("TumblingWindowInSeconds", "NOTE",
            f"the mapping delivers {tumbling} s tumbling windows: the router must have a window route "
            f"(ddbstream::window) for this stream, or every invocation fails (\"{HAS_NO_WINDOW_ROUTE}...\")",
            "run the doctor with --windows yes|no to have this checked")
    elif windows is None:
        add("TumblingWindowInSeconds", "NOTE",
            "the mapping delivers plain events (no tumbling window): the router must not have only a "
            f"window route for this stream, or every invocation fails (\"{HAS_ONLY_WINDOW_ROUTE}\")",
            "run the doctor with --windows yes|no to have this checked")

    position = mapping.get("StartingPosition")
    recreate = ("the starting position cannot be changed: delete the mapping and create it again with "
                "`--starting-position TRIM_HORIZON` (StartingPosition: TRIM_HORIZON); it then reads the "
                "stream's whole retention again, which idempotent handlers absorb")
    if position == "LATEST":
        add("StartingPosition", "SKIPS",
            "LATEST: records written before the mapping started reading (and, if it is ever deleted and "
            "created again, while it was gone) are never read; a warning, since some mappings mean it",
            recreate)
    elif position == "AT_TIMESTAMP":
        add("StartingPosition", "NOTE",
            f"AT_TIMESTAMP ({mapping.get('StartingPositionTimestamp')}): records written before it were never read",
            recreate)

    filters = [f.get("Pattern", "") for f in (mapping.get("FilterCriteria") or {}).get("Filters") or []]
    if filters:
        add("FilterCriteria", "DROPS",
            "records matching none of these patterns are dropped before the function sees them, never "
            "retried, never sent to the on-failure destination: " + "; ".join(filters),
            "nothing if the filter is meant; otherwise remove it: `aws lambda update-event-source-mapping "
            "--uuid {uuid} --filter-criteria '{{}}'` (no FilterCriteria)")
    elif mapping.get("KMSKeyArn") and "FilterCriteria" not in mapping:
        add("FilterCriteria", "NOTE",
            "the mapping's filter criteria are encrypted with its KMSKeyArn and could not be read: a "
            "filter may drop records", "read them with `aws lambda get-event-source-mapping --uuid {uuid}` "
            "and kms:Decrypt on the key")
    return out


def exit_status(found, strict=False):
    """1 when a finding loses records (or, with strict, for any finding but a note); else 0."""
    if any(f["severity"] in LOSING for f in found):
        return 1
    if strict and any(f["severity"] != "NOTE" for f in found):
        return 1
    return 0


NO_MAPPING = "no event source mapping: the function reads no stream"


def report(function, mappings, found, strict):
    """The human-readable report: one block per mapping, then a summary line."""
    lines = [f"doctor: {function}"]
    for mapping in mappings:
        state = mapping.get("State", "?")
        reason = mapping.get("StateTransitionReason")
        result = mapping.get("LastProcessingResult")
        lines += ["", f"mapping {mapping.get('UUID')}", f"  source  {mapping.get('EventSourceArn')}",
                  f"  state   {state}" + (f" ({reason})" if reason else "")
                  + (f"; last result: {result}" if result else "")]
        mine = sorted((f for f in found if f["uuid"] == mapping.get("UUID")),
                      key=lambda f: SEVERITIES.index(f["severity"]))
        for f in mine:
            lines.append(f"  {f['severity']:<7}  {f['property']}: {f['message']}. Fix: {f['fix']}")
        if not mine:
            lines.append("  no findings")
    for f in (f for f in found if f["uuid"] is None):
        lines += ["", f"{f['severity']:<7}  {f['property']}: {f['message']}. Fix: {f['fix']}"]
    counts = ", ".join(f"{sum(f['severity'] == s for f in found)} {s}" for s in SEVERITIES
                       if any(f["severity"] == s for f in found)) or "no findings"
    code = exit_status(found, strict)
    verdict = ("records can be lost" if any(f["severity"] in LOSING for f in found)
               else "nothing loses records" + (", but --strict fails on the warnings" if code else ""))
    lines += ["", f"doctor: {function}: {len(mappings)} mapping(s), {counts}: {verdict} (exit {code})"]
    return "\n".join(lines)


def function_refs(given, config):
    """The references to list mappings by: as given, then (for an unqualified function) its name
    and ARN too, since a mapping answers only to the reference it was created with on some
    implementations (moto)."""
    refs = [given]
    if ":" not in given.split("function:", 1)[-1]:
        refs += [config.get("FunctionName"), config.get("FunctionArn")]
    return [r for i, r in enumerate(refs) if r and r not in refs[:i]]


def read_mappings(client, given, config):
    seen = {}
    for ref in function_refs(given, config):
        for page in client.get_paginator("list_event_source_mappings").paginate(FunctionName=ref):
            for mapping in page.get("EventSourceMappings", []):
                seen.setdefault(mapping["UUID"], mapping)
    mappings = list(seen.values())
    for i, mapping in enumerate(mappings):
        # Encrypted filter criteria are absent from the list's answer; the mapping's own has them.
        if mapping.get("KMSKeyArn") and "FilterCriteria" not in mapping:
            try:
                mappings[i] = {**mapping, **client.get_event_source_mapping(UUID=mapping["UUID"])}
            except Exception:
                pass
    return mappings


def main(argv):
    parser = argparse.ArgumentParser(
        prog="doctor", description="Names every setting of a Lambda function's event source mappings "
        "that loses, stalls, repeats, skips or drops stream records, with its fix.")
    parser.add_argument("function", metavar="FUNCTION", help="the function's name or ARN")
    parser.add_argument("--windows", choices=["yes", "no"],
                        help="whether the function's router has a window route (ddbstream::window)")
    parser.add_argument("--strict", action="store_true", help="exit 1 for any finding but a note")
    parser.add_argument("--json", action="store_true", help="print the findings as a JSON list")
    args = parser.parse_args(argv)
    windows = None if args.windows is None else args.windows == "yes"

    import boto3
    import botocore.exceptions

    def fail(why):
        print(f"doctor: cannot read the event source mappings of `{args.function}`: {why}", file=sys.stderr)
        return 2

    try:
        client = boto3.client("lambda")
        config = client.get_function_configuration(FunctionName=args.function)
        mappings = read_mappings(client, args.function, config)
    except botocore.exceptions.ClientError as e:
        error = e.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException":
            return fail(f"function not found ({error.get('Message')})")
        return fail(f"{error.get('Code')}: {error.get('Message')}")
    except botocore.exceptions.NoCredentialsError:
        return fail("no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    except botocore.exceptions.NoRegionError:
        return fail("no region (set AWS_REGION)")
    except botocore.exceptions.BotoCoreError as e:
        return fail(str(e))

    found = [f for mapping in mappings for f in findings(mapping, windows)]
    if not mappings:
        found = [{"uuid": None, "source": None, "property": "EventSourceMapping", "severity": "LOSES",
                  "message": NO_MAPPING,
                  "fix": "create one: `aws lambda create-event-source-mapping --function-name FUNCTION "
                         "--event-source-arn STREAM_ARN --starting-position TRIM_HORIZON ...`"}]
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        print(report(config.get("FunctionArn", args.function), mappings, found, args.strict))
    return exit_status(found, args.strict)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
