#!/usr/bin/env python3
"""A DynamoDB endpoint on 127.0.0.1 that takes a fixed time per request, for `make bench`.

    latency_proxy.py --delay-ms 10 [--upstream http://127.0.0.1:<moto port>] --port-file <path>

Without --upstream it answers every request itself after the delay, as DynamoDB would
answer a successful one (`{}`; GetItem finds nothing), so that round trips alone bound a
benchmark. With --upstream it waits the delay, then forwards the request to that server
(moto) and relays its answer, so that the tables can be checked after a run.

It counts what it received: requests per operation, and write units as DynamoDB bills them
for items under 1 KB (2 per action of a TransactWriteItems, 1 per PutItem, UpdateItem or
DeleteItem). `GET /_stats` answers the counts as JSON; `POST /_reset` zeroes them.
"""

import argparse
import asyncio
import json
import os
import urllib.parse

STATS = {"requests": {}, "write_units": 0}


def count(target: str, body: bytes) -> None:
    operation = target.rsplit(".", 1)[-1] if target else "?"
    STATS["requests"][operation] = STATS["requests"].get(operation, 0) + 1
    if operation == "TransactWriteItems":
        try:
            STATS["write_units"] += 2 * len(json.loads(body).get("TransactItems", []))
        except ValueError:
            pass
    elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
        STATS["write_units"] += 1


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    return method, path, headers, head, body


def response(status: int, body: bytes, content_type: str = "application/x-amz-json-1.0") -> bytes:
    reason = {200: "OK", 400: "Bad Request"}.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nx-amzn-RequestId: proxy\r\n\r\n"
    )
    return head.encode() + body


class Upstream:
    """A pool of kept-alive connections to the upstream server."""

    def __init__(self, url: str):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.idle = []

    async def forward(self, method, path, headers, body) -> bytes:
        reader, writer = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1"]
        for name, value in headers.items():
            if name not in ("content-length", "transfer-encoding", "connection"):
                lines.append(f"{name}: {value}")
        lines.append(f"content-length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.decode("latin-1").split("\r\n")[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":", 1)[1])
        payload = await reader.readexactly(length)
        self.idle.append((reader, writer))
        return head + payload


async def serve(args):
    delay = args.delay_ms / 1000
    upstream = Upstream(args.upstream) if args.upstream else None

    async def handle(reader, writer):
        try:
            while True:
                try:
                    method, path, headers, _, body = await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if path.startswith("/_stats"):
                    writer.write(response(200, json.dumps(STATS).encode(), "application/json"))
                elif path.startswith("/_reset"):
                    STATS["requests"].clear()
                    STATS["write_units"] = 0
                    writer.write(response(200, b"{}", "application/json"))
                else:
                    count(headers.get("x-amz-target", ""), body)
                    if delay:
                        await asyncio.sleep(delay)
                    if upstream:
                        writer.write(await upstream.forward(method, path, headers, body))
                    else:
                        writer.write(response(200, b"{}"))
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as out:
        out.write(str(port))
    os.replace(tmp, args.port_file)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=10.0)
    parser.add_argument("--upstream")
    parser.add_argument("--port-file", required=True)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
