#!/usr/bin/env python3
"""The README's "From nothing to an invoked function", done as a new user would:
`scripts/new-function` (what `make new` runs) makes `my-function` from `starter/` in a
temporary directory outside this repository, built against this checkout's `framework/`
(DDBSTREAM_PATH); every placeholder is filled in; a second run refuses to overwrite it; its
own `template.yaml` passes cfn-lint (with the serverless rules) and the invariants the
repository's template is held to (`tests/template_invariants.py`), and the same template
without `ReportBatchItemFailures` does not; the crate's tests pass (`cargo test`); and under
`cargo lambda watch`, `cargo lambda invoke my-function --data-file fixtures/insert.json`
answers `{"batchItemFailures":[]}`. Nothing is deployed. Everything started is stopped.

The crate builds into this repository's `target/` with its `Cargo.lock` (new-function copies
it in), offline, so it reuses what the workspace downloaded and much of what it compiled.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from lambda_watch import ROOT, Checks, Watch

NAME = "my-function"
FILES = ["Cargo.toml", "Cargo.lock", "README.md", "template.yaml", "src/lib.rs", "src/main.rs", "tests/handler.rs",
         "fixtures/insert.json"]
VENV_BIN = ROOT / ".venv" / "bin"


def check_template(template):
    """cfn-lint with the serverless rules, then the repository's invariants: (passed, output)."""
    lint = subprocess.run([str(VENV_BIN / "cfn-lint"), "--non-zero-exit-code", "informational", "--append-rules",
                           "cfn_lint_serverless.rules", "--", str(template)], capture_output=True, text=True)
    invariants = subprocess.run([str(VENV_BIN / "python"), str(ROOT / "tests" / "template_invariants.py"), str(template)],
                                capture_output=True, text=True)
    failed = [line for line in invariants.stdout.splitlines() if not line.startswith("ok")]
    return lint.returncode == 0 and invariants.returncode == 0, lint.stdout + lint.stderr + "\n".join(failed)


def new_function(work):
    env = dict(os.environ, DDBSTREAM_PATH=str(ROOT / "framework"))
    return subprocess.run([str(ROOT / "scripts" / "new-function"), NAME, str(work)], env=env, capture_output=True,
                          text=True)


def main():
    checks = Checks("starter")
    work = pathlib.Path(tempfile.mkdtemp(prefix="ddbstream-starter-"))
    crate = work / NAME
    build_env = dict(os.environ, CARGO_TARGET_DIR=str(ROOT / "target"), CARGO_NET_OFFLINE="true")

    watch = None
    try:
        made = new_function(work)
        missing = [name for name in FILES if not (crate / name).is_file()]
        checks.check("new-function makes the crate", made.returncode == 0 and not missing,
                     f"rc={made.returncode} missing={missing} {made.stdout}{made.stderr}")
        unfilled = [str(path.relative_to(crate)) for path in crate.rglob("*")
                    if path.is_file() and "{{" in path.read_text(errors="replace")]
        checks.check("every placeholder is filled in", not unfilled, unfilled)
        manifest = (crate / "Cargo.toml").read_text()
        checks.check("the crate builds against this checkout",
                     "[patch.crates-io]" in manifest and str(ROOT / "framework") in manifest, manifest)

        passed, output = check_template(crate / "template.yaml")
        checks.check("its template.yaml passes cfn-lint and the repository's template invariants", passed, output)
        mutant = work / "mutant"
        mutant.mkdir()
        shutil.copy(crate / "Cargo.toml", mutant / "Cargo.toml")
        template = (crate / "template.yaml").read_text()
        without = template.replace("      FunctionResponseTypes: [ReportBatchItemFailures]\n", "")
        (mutant / "template.yaml").write_text(without)
        passed, output = check_template(mutant / "template.yaml")
        checks.check("the same template without ReportBatchItemFailures fails the check",
                     without != template and not passed and "ReportBatchItemFailures" in output, output)

        again = new_function(work)
        checks.check("a second run refuses to overwrite it", again.returncode != 0 and "already exists" in again.stderr,
                     f"rc={again.returncode} {again.stderr}")

        test = subprocess.run(["cargo", "test", "--quiet"], cwd=crate, env=build_env, capture_output=True, text=True)
        checks.check("the crate's tests pass", test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:])

        watch = Watch(log_name="starter-watch.log", cwd=crate, process_env=build_env)
        answer = watch.wait_ready(NAME, crate / "fixtures" / "insert.json")
        checks.check("cargo lambda invoke --data-file fixtures/insert.json: every record processed",
                     answer == {"batchItemFailures": []}, answer)
    except Exception as err:  # a step that could not run is a failed check, and cleanup still happens
        checks.check("the walk-through ran", False, repr(err))
    finally:
        if watch:
            watch.stop()
        shutil.rmtree(work, ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
