"""A stand-in for the Lambda Runtime API on a free 127.0.0.1 port: hands out queued events
to `GET /2018-06-01/runtime/invocation/next` (long-polling while the queue is empty, as
Lambda does), takes answers at `/response` and `/error`, and notes when each event was
handed out and answered. Each request is served on a thread of its own, so a runtime may
poll with several connections at once (Lambda Managed Instances)."""

import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime/invocation/"


class RuntimeApi:
    def __init__(self, deadline_ms=30_000):
        self.deadline_ms = deadline_ms
        self.events = queue.Queue()
        self.answers = {}
        self.handed_out = {}
        self.answered = {}
        self.lock = threading.Lock()
        self.done = threading.Condition(self.lock)
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != PREFIX + "next":
                    return self.reply(404, b"{}")
                request_id, body = api.events.get()
                with api.lock:
                    api.handed_out[request_id] = time.monotonic()
                deadline = int(time.time() * 1000) + api.deadline_ms
                self.reply(200, body, {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:123456789012:function:local",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                })

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = self.path[len(PREFIX):].split("/") if self.path.startswith(PREFIX) else []
                if len(parts) == 2 and parts[1] in ("response", "error"):
                    with api.done:
                        api.answers[parts[0]] = (parts[1], body)
                        api.answered[parts[0]] = time.monotonic()
                        api.done.notify_all()
                    return self.reply(202, b"{}")
                self.reply(404, b"{}")

            def reply(self, status, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a runtime killed while it long-polls drops its connection

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def environment(self, concurrency=None):
        """What a runtime process needs in its environment to poll this API."""
        env = {
            "AWS_LAMBDA_RUNTIME_API": self.address,
            "AWS_LAMBDA_FUNCTION_NAME": "local",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/local",
            "AWS_REGION": "eu-west-1",
        }
        if concurrency is not None:
            env["AWS_LAMBDA_MAX_CONCURRENCY"] = str(concurrency)
        return env

    def submit(self, payload):
        """Queues one event (bytes); returns its request id."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, payload))
        return request_id

    def wait(self, request_ids, timeout=120):
        """Waits for the answers to these requests: {id: (kind, parsed body)}."""
        end = time.monotonic() + timeout
        with self.done:
            while not all(r in self.answers for r in request_ids):
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len([r for r in request_ids if r not in self.answers])} events not answered")
                self.done.wait(left)
            return {r: (self.answers[r][0], json.loads(self.answers[r][1] or b"null")) for r in request_ids}

    def stop(self):
        self.server.shutdown()
