#!/usr/bin/env python3
"""The template invariants have teeth: each mutation below weakens one safety property of
template.yaml (or of the starter's template, rendered as `make new` renders it), and
`tests/template_invariants.py` must then fail, naming that property. The unmutated templates
must pass (so a failure is the mutation's doing).
"""

import pathlib
import shutil
import subprocess
import sys
import tempfile

from lambda_watch import Checks

ROOT = pathlib.Path(__file__).resolve().parent.parent
INVARIANTS = ROOT / "tests" / "template_invariants.py"

# (what is weakened, the text replaced, its replacement, the words the failing check names)
PROJECT = [
    ("the Kinesis stream is not retained on replacement",
     "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n      Name: !Sub \"${Prefix}-orders-changes\"",
     "    Properties:\n      Name: !Sub \"${Prefix}-orders-changes\"", "OrdersChangesStream: retained"),
    ("audit-archive's Customers mapping has no stall alarm of its own",
     "                  Value: !Ref AuditArchiveCustomersSource", "                  Value: !Ref AuditArchiveOrdersSource",
     "AuditArchiveCustomersSource: a stall alarm"),
    ("the alarm e-mail is subscribed only with the fault-injection function",
     "  AlarmEmailSubscription:\n    Type: AWS::SNS::Subscription\n",
     "  AlarmEmailSubscription:\n    Type: AWS::SNS::Subscription\n    Condition: WithFaultInjection\n",
     "AlarmEmail subscribes"),
    ("AlarmEmail may be left empty",
     "    ConstraintDescription: an e-mail address; the alarms notify it",
     "    Default: \"\"\n    ConstraintDescription: an e-mail address; the alarms notify it", "AlarmEmail is required"),
    ("the failure bucket may be read by any principal of the account",
     "              ArnNotLike:\n                aws:PrincipalArn: !Ref FailedRecordsReaders",
     "              ArnNotLike:\n                aws:SourceArn: !Ref FailedRecordsReaders", "only named readers"),
    ("orders-projector's failure-bucket write is not pinned to the account",
     "                Resource: !Sub \"${FailedRecordsBucket.Arn}/*\"\n                Condition:\n                  StringEquals:\n"
     "                    aws:ResourceAccount: !Ref AWS::AccountId\n",
     "                Resource: !Sub \"${FailedRecordsBucket.Arn}/*\"\n", "pinned to the account"),
    ("a mapping publishes no event counts (its stall alarm would see nothing polled)",
     "      MetricsConfig:\n        Metrics: [EventCount]\n", "", "MetricsConfig EventCount"),
]
STARTER = [
    ("no ReportBatchItemFailures", "      FunctionResponseTypes: [ReportBatchItemFailures]\n", "", "ReportBatchItemFailures"),
    ("unbounded retries", "      MaximumRetryAttempts: 5\n", "      MaximumRetryAttempts: -1\n", "bounded retries"),
    ("no bisect", "      BisectBatchOnFunctionError: true\n", "", "bisect"),
    ("LATEST", "      StartingPosition: TRIM_HORIZON\n", "      StartingPosition: LATEST\n", "TRIM_HORIZON"),
    ("no failure bucket", "      DestinationConfig:\n        OnFailure:\n          Destination: !GetAtt FailedRecordsBucket.Arn\n", "",
     "failures kept in an S3 bucket"),
    ("no stall alarm", "                - Name: EventSourceMappingUUID\n", "                - Name: FunctionName\n", "a stall alarm"),
    ("the claims table written without being named to the function",
     "          CLAIMS_TABLE: !If [WithClaims, !Ref ClaimsTable, !Ref AWS::NoValue]\n", "",
     "every table it writes is in its environment"),
]


def run(template):
    result = subprocess.run([sys.executable, str(INVARIANTS), str(template)], capture_output=True, text=True)
    return result.returncode, [line for line in result.stdout.splitlines() if line.startswith("FAIL")]


def suite(checks, label, folder, template_text, mutations):
    template = folder / "template.yaml"
    template.write_text(template_text)
    rc, failed = run(template)
    checks.check(f"{label}: passes unmutated", rc == 0 and not failed, failed)
    for what, old, new, named in mutations:
        count = template_text.count(old)
        template.write_text(template_text.replace(old, new))
        rc, failed = run(template)
        checks.check(f"{label}: fails when {what}", count >= 1 and rc != 0 and any(named in line for line in failed),
                     (count, failed))
    template.write_text(template_text)


def main():
    checks = Checks("template invariants, mutated")
    work = pathlib.Path(tempfile.mkdtemp(prefix="ddbstream-invariants-"))
    try:
        project = work / "project"
        project.mkdir()
        shutil.copytree(ROOT / "handlers", project / "handlers", ignore=shutil.ignore_patterns("target"))
        suite(checks, "template.yaml", project, (ROOT / "template.yaml").read_text(), PROJECT)

        starter = work / "starter"
        starter.mkdir()
        render = lambda text: text.replace("{{name}}", "my-function").replace("{{crate_name}}", "my_function")
        (starter / "Cargo.toml").write_text(render((ROOT / "starter" / "Cargo.toml").read_text()))
        suite(checks, "starter/template.yaml", starter, render((ROOT / "starter" / "template.yaml").read_text()), STARTER)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
