#!/usr/bin/env python3
"""A DynamoDB endpoint on 127.0.0.1 that takes a fixed time per request, for `make bench`.

    latency_proxy.py --delay-ms 10 [--upstream http://127.0.0.1:<moto port>] --port-file <path>

Without --upstream it answers every request itself after the delay, as DynamoDB would
answer a successful one (`{}`; GetItem finds nothing), so that round trips alone bound a
benchmark. With --upstream it waits the delay, then forwards the request to that server
(moto) and relays its answer, so that the tables can be checked after a run.

Like DynamoDB, it cancels a TransactWriteItems that meets another request in flight on one
of its items (`TransactionCanceledException`, `TransactionConflict` for those actions), and
refuses a single write to an item that a transaction in flight holds
(`TransactionConflictException`): concurrent writers of one hot item pay what they would
pay on AWS. (Items are told apart by table and key; a Put's key is its `pk`.)

It counts what it received: requests per operation, and write units as DynamoDB bills them
for items under 1 KB (2 per action of a TransactWriteItems, 1 per PutItem, UpdateItem or
DeleteItem). `GET /_stats` answers the counts as JSON; `POST /_reset` zeroes them.
"""

import argparse
import asyncio
import json
import os
import urllib.parse

STATS = {"requests": {}, "write_units": 0, "conflicts": 0}
# Items held by requests in flight: item -> (number of holders, whether a transaction holds it).
HELD = {}


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


def items_of(operation: str, body: bytes):
    """The items a write request is on: (table, key) texts, one per action."""
    try:
        request = json.loads(body)
    except ValueError:
        return []
    def item(op):
        key = op.get("Key") or {"pk": op.get("Item", {}).get("pk")}
        return op.get("TableName", "") + "|" + json.dumps(key, sort_keys=True)
    if operation == "TransactWriteItems":
        return [item(next(iter(action.values()))) for action in request.get("TransactItems", [])]
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return [item(request)]
    return []


def conflict_answer(operation: str, items):
    """DynamoDB's answer to a write that meets a transaction in flight, or None."""
    if operation == "TransactWriteItems":
        codes = ["TransactionConflict" if i in HELD else "None" for i in items]
        if "TransactionConflict" not in codes:
            return None
        reasons = [{"Code": c, "Message": "Transaction is ongoing for the item"} if c != "None" else {"Code": "None"}
                   for c in codes]
        body = {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [" +
                           ", ".join(codes) + "]",
                "CancellationReasons": reasons}
    elif any(HELD.get(i, (0, False))[1] for i in items):
        body = {"__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
                "message": "Transaction is ongoing for the item"}
    else:
        return None
    STATS["conflicts"] += 1
    return response(400, json.dumps(body).encode())


def hold(items, transaction: bool):
    for i in items:
        count, by_transaction = HELD.get(i, (0, False))
        HELD[i] = (count + 1, by_transaction or transaction)


def release(items):
    for i in items:
        count, by_transaction = HELD.get(i, (1, False))
        if count <= 1:
            HELD.pop(i, None)
        else:
            HELD[i] = (count - 1, by_transaction)


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
    """The upstream server, one connection per request (moto's server closes them)."""

    def __init__(self, url: str):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port or 80

    async def forward(self, method, path, headers, body) -> bytes:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            lines = [f"{method} {path} HTTP/1.1"]
            for name, value in headers.items():
                if name not in ("content-length", "transfer-encoding", "connection"):
                    lines.append(f"{name}: {value}")
            lines += [f"content-length: {len(body)}", "connection: close"]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
            answer = await reader.read()
        finally:
            writer.close()
        head, _, payload = answer.partition(b"\r\n\r\n")
        # Relay it with a length of its own, whatever framing the upstream used.
        kept = [line for line in head.split(b"\r\n")
                if not line.lower().startswith((b"content-length:", b"connection:", b"transfer-encoding:"))]
        kept.append(b"Content-Length: " + str(len(payload)).encode())
        return b"\r\n".join(kept) + b"\r\n\r\n" + payload


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
                    STATS["conflicts"] = 0
                    writer.write(response(200, b"{}", "application/json"))
                else:
                    target = headers.get("x-amz-target", "")
                    operation = target.rsplit(".", 1)[-1]
                    count(target, body)
                    items = items_of(operation, body)
                    refused = conflict_answer(operation, items)
                    if refused is None:
                        hold(items, operation == "TransactWriteItems")
                    try:
                        if delay:
                            await asyncio.sleep(delay)
                        if refused is not None:
                            writer.write(refused)
                        elif upstream:
                            writer.write(await upstream.forward(method, path, headers, body))
                        else:
                            writer.write(response(200, b"{}"))
                    finally:
                        if refused is None:
                            release(items)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
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
