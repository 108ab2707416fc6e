#!/usr/bin/env python3
"""Forwarding end to end: an observatory with [forward] pointing at an OTLP/HTTP receiver built on
the Python `opentelemetry-proto` package (venv 1) that is down while the records arrive and comes
up later. It must then receive every record, once, in order, and the observatory's own session
events as log records with their documented attributes.

Usage: forward.py --bin PATH/TO/observatory --work DIR
Prints `ok`/`FAIL` per check and `N passed, M failed`; exits 1 on any failure.
"""

import argparse
import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest, ExportLogsServiceResponse)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

RECORDS = 30
results = []


def check(ok, what, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} forward: {what}{'' if ok else ' — ' + detail}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def attr(record, key):
    for kv in record.attributes:
        if kv.key == key:
            return kv.value.string_value or kv.value.int_value
    return None


class Receiver(BaseHTTPRequestHandler):
    got = []  # (scope name, record) in arrival order
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        req = ExportLogsServiceRequest.FromString(body)
        with Receiver.lock:
            for rl in req.resource_logs:
                for sl in rl.scope_logs:
                    Receiver.got.extend((sl.scope.name, r) for r in sl.log_records)
        out = ExportLogsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def post(url, body, ctype):
    req = urllib.request.Request(url, data=body, headers={"content-type": ctype})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    upstream, http, app = free_port(), free_port(), free_port()
    os.makedirs(args.work, exist_ok=True)
    config = os.path.join(args.work, "forward.toml")
    with open(config, "w") as f:
        f.write(f'[forward]\nendpoint = "http://127.0.0.1:{upstream}"\nsession_events = true\n')
    log = open(os.path.join(args.work, "forward-server.log"), "w")
    server = subprocess.Popen([args.bin, "--config", config, "--data-dir", os.path.join(args.work, "data"),
                               "--grpc-addr", "127.0.0.1:0", "--http-addr", f"127.0.0.1:{http}",
                               "--app-addr", f"127.0.0.1:{app}"], stderr=log, stdout=log)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{app}/api/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        # The upstream is down: numbered records, then a hook that makes a session.
        for i in range(RECORDS):
            rec = LogRecord(time_unix_nano=time.time_ns(), body=AnyValue(string_value=f"record {i}"),
                            attributes=[KeyValue(key="e2e.seq", value=AnyValue(int_value=i))])
            req = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[rec])])])
            post(f"http://127.0.0.1:{http}/v1/logs", req.SerializeToString(), "application/x-protobuf")
        hook = {"session_id": "f0e1d2c3-0000-4000-8000-00000000f0f0", "cwd": "/tmp/fwd",
                "hook_event_name": "SessionStart", "source": "startup"}
        post(f"http://127.0.0.1:{http}/v1/hooks/claude_code", json.dumps(hook).encode(), "application/json")
        time.sleep(1.5)
        stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{app}/api/stats", timeout=10))
        queued = stats["forward"]["queued"]["items"]
        check(queued >= RECORDS, f"while the upstream is down, {queued} requests wait in the queue",
              json.dumps(stats["forward"]))

        receiver = ThreadingHTTPServer(("127.0.0.1", upstream), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        deadline = time.time() + 60
        while time.time() < deadline:
            with Receiver.lock:
                seqs = [attr(r, "e2e.seq") for s, r in Receiver.got if s != "observatory.sessions"]
                sessions = [r for s, r in Receiver.got if s == "observatory.sessions"]
            if len(seqs) >= RECORDS and sessions:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # anything extra (a second copy) would arrive now
        with Receiver.lock:
            seqs = [attr(r, "e2e.seq") for s, r in Receiver.got if s != "observatory.sessions"]
            sessions = [r for s, r in Receiver.got if s == "observatory.sessions"]
        check(seqs == list(range(RECORDS)), f"the upstream got the {RECORDS} records once, in order", str(seqs))
        ids = {attr(r, "observatory.session.id") for r in sessions}
        kinds = {attr(r, "observatory.event.kind") for r in sessions}
        check("claude_code:f0e1d2c3-0000-4000-8000-00000000f0f0" in ids and "session_started" in kinds,
              "the session events came as log records with observatory.* attributes", f"{ids} {kinds}")
        receiver.shutdown()
    finally:
        server.terminate()
        server.wait(timeout=10)
    failed = results.count(False)
    print(f"forward: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
