"""ce.py: a CloudEvents client made of the official Python SDK (`cloudevents` on PyPI) and the
pure-Python `kafka-python` client, for the tests: it checks that what a Pipeline writes is
CloudEvents to an independent implementation, and writes events that a Pipeline must process.

  ce.py read    --bootstrap H:P --topic T        every message now in T, one JSON line each
  ce.py write   --bootstrap H:P --topic T --mode binary|structured --key K --id I --type T --data JSON
  ce.py post    --url U --mode binary|structured --id I --type T --data JSON
  ce.py receive --port-file F --count N          an HTTP server that reads CloudEvents (from_http)

Run with the virtual environment scripts/install makes (its python has both packages).
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

FORMAT = JSONFormat()


def structured(event):
    return json.loads(FORMAT.write(event))


def read(args):
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap, enable_auto_commit=False, client_id="ce-py"
    )
    partitions = [TopicPartition(args.topic, p) for p in sorted(consumer.partitions_for_topic(args.topic) or [])]
    if not partitions:
        sys.exit(f"ce.py: topic {args.topic} has no partitions")
    consumer.assign(partitions)
    ends = consumer.end_offsets(partitions)
    consumer.seek_to_beginning(*partitions)
    left = {tp for tp in partitions if consumer.position(tp) < ends[tp]}
    while left:
        batch = consumer.poll(timeout_ms=60000)
        if not batch:
            sys.exit(f"ce.py: timed out reading {args.topic}")
        for tp, records in batch.items():
            for r in records:
                headers = {k: (v or b"") for k, v in (r.headers or [])}
                message = ce_kafka.KafkaMessage(headers=headers, key=r.key, value=r.value or b"")
                binary = any(k.lower().startswith("ce_") for k in headers)
                line = {
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "key": (r.key or b"").decode("utf-8", "replace"),
                    "mode": "binary" if binary else "structured",
                }
                try:
                    line["event"] = structured(ce_kafka.from_kafka(message, FORMAT))
                except Exception as e:  # the SDK's refusal is the finding
                    line["error"] = f"{type(e).__name__}: {e}"
                print(json.dumps(line), flush=True)
                if r.offset >= ends[tp] - 1:
                    left.discard(tp)
    consumer.close()


def make_event(args):
    attributes = {"type": args.type, "source": args.source, "datacontenttype": "application/json"}
    if args.id:
        attributes["id"] = args.id
    if args.subject:
        attributes["subject"] = args.subject
    return CloudEvent(attributes, json.loads(args.data))


def write(args):
    from kafka import KafkaProducer

    event = make_event(args)
    convert = ce_kafka.to_binary if args.mode == "binary" else ce_kafka.to_structured
    message = convert(event, FORMAT, key_mapper=lambda _e: args.key or None)
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", client_id="ce-py")
    key = message.key.encode() if isinstance(message.key, str) else message.key
    future = producer.send(args.topic, key=key, value=message.value, headers=list(message.headers.items()))
    future.get(timeout=30)
    producer.close()


def post(args):
    event = make_event(args)
    convert = ce_http.to_binary if args.mode == "binary" else ce_http.to_structured
    message = convert(event, FORMAT)
    request = urllib.request.Request(args.url, data=message.body, headers=message.headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    print(json.dumps({"status": status, "body": body.decode("utf-8", "replace")}), flush=True)


def receive(args):
    seen = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = ce_http.from_http(ce_http.HTTPMessage(headers=headers, body=body), FORMAT)
            except Exception as e:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(str(e).encode())
                return
            mode = "binary" if any(k.startswith("ce-") for k in headers) else "structured"
            print(json.dumps({"mode": mode, "event": structured(event)}), flush=True)
            seen.append(event)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.timeout = 1
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    import time

    deadline = time.monotonic() + args.timeout
    while len(seen) < args.count and time.monotonic() < deadline:
        server.handle_request()
    if len(seen) < args.count:
        sys.exit(f"ce.py: received {len(seen)} of {args.count} events before the timeout")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("read")
    r.add_argument("--bootstrap", required=True)
    r.add_argument("--topic", required=True)
    for name in ("write", "post"):
        w = sub.add_parser(name)
        if name == "write":
            w.add_argument("--bootstrap", required=True)
            w.add_argument("--topic", required=True)
            w.add_argument("--key", default="")
        else:
            w.add_argument("--url", required=True)
        w.add_argument("--mode", choices=["binary", "structured"], default="binary")
        w.add_argument("--id", default="")
        w.add_argument("--source", default="/ce-py")
        w.add_argument("--type", required=True)
        w.add_argument("--data", default="{}")
        w.add_argument("--subject", default="")
    rc = sub.add_parser("receive")
    rc.add_argument("--port-file", required=True)
    rc.add_argument("--count", type=int, default=1)
    rc.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    {"read": read, "write": write, "post": post, "receive": receive}[args.command](args)


if __name__ == "__main__":
    main()
