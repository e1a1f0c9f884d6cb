"""Starting `cargo lambda watch` on a free 127.0.0.1 port, invoking functions through it
with `cargo lambda invoke --data-file`, and stopping it: shared by the runtime checks."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Watch:
    """`cargo lambda watch` serving every binary of the workspace, with extra environment."""

    def __init__(self, env=None, log_name="lambda-watch.log", cwd=ROOT, process_env=None):
        self.port = free_port()
        self.log_path = ROOT / "target" / log_name
        self.log_path.parent.mkdir(exist_ok=True)
        args = ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(self.port)]
        for key, value in (env or {}).items():
            args += ["--env-var", f"{key}={value}"]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(args, cwd=cwd, env=process_env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def invoke(self, function, data_file):
        """Returns (exit code, stdout, stderr) of one `cargo lambda invoke`."""
        cmd = ["cargo", "lambda", "invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port", str(self.port),
               "--data-file", str(data_file), "--output-format", "json"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        return run.returncode, run.stdout, run.stderr

    def wait_ready(self, function, data_file, limit=900):
        """Invokes until the function answers: the first invoke waits for its build."""
        deadline = time.monotonic() + limit
        while True:
            code, out, err = self.invoke(function, data_file)
            if code == 0:
                return json.loads(out)
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"cargo lambda watch did not serve {function}; see {self.log_path}\n{err}")
            time.sleep(2)

    def restarts(self):
        self.log.flush()
        return self.log_path.read_text().count("command exited")

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def parse(stdout):
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        return None


class Checks:
    """Counts checks and prints the closing 'N passed, N failed' line."""

    def __init__(self, label):
        self.label, self.passed, self.failed = label, 0, 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")

    def finish(self):
        print(f"{self.label}: {self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1
