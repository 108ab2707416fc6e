#!/usr/bin/env python3
"""A scripted stand-in for the Anthropic Messages API, so that the real Claude Code can run a turn
without a model: it is not a model and it never contacts one. Stdlib only; 127.0.0.1 only.

Usage: fakemodel.py PORT [LOG]     (point Claude Code at it with ANTHROPIC_BASE_URL=http://127.0.0.1:PORT)

What it answers, by the latest user text of a `POST /v1/messages`:
  contains SLOW  -> a streamed text reply of one word a second for ~300 s: a long, busy turn that
                    a kill or restart interrupts (the stream just ends when the client goes away)
  contains RUNCMD -> a call of Claude's Bash tool, `echo hi > fake_out.txt` (a permission prompt
                    under --permission-mode manual); once the tool's result comes back, "done"
  anything else  -> "ok" at once (Claude's side requests: titles, summaries, warm-ups)
`POST /v1/messages/count_tokens` answers 10 tokens; any GET answers `{}`. With LOG, every request
is appended to it as one JSON line (path, mode), which shows whether Claude reached it at all.
"""
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[2] if len(sys.argv) > 2 else None


def log(obj):
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps(obj) + "\n")


def texts(o):
    """Every string inside a JSON value, in order."""
    if isinstance(o, str):
        return [o]
    if isinstance(o, list):
        return [t for x in o for t in texts(x)]
    if isinstance(o, dict):
        return [t for v in o.values() for t in texts(v)]
    return []


def last_user_text(body):
    for m in reversed(body.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            # Tool results are user messages too; only a message with text is the person's.
            t = " ".join(texts(m.get("content", "")))
            if t.strip():
                return t
    return ""


def has_tool_result(body):
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list) and any(
            isinstance(c, dict) and c.get("type") == "tool_result" for c in content
        ):
            return True
    return False


def mode_of(body):
    if has_tool_result(body):
        return "done"
    text = last_user_text(body)
    if "RUNCMD" in text:
        return "tool"
    return "slow" if "SLOW" in text else "ok"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, obj, code=200):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def sse(self, event, data):
        self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def do_GET(self):
        log({"t": time.time(), "method": "GET", "path": self.path})
        self.send_json({})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        path = self.path.split("?")[0]
        mode = mode_of(body)
        log({"t": time.time(), "path": path, "mode": mode, "stream": bool(body.get("stream"))})
        try:
            if path.endswith("/count_tokens"):
                self.send_json({"input_tokens": 10})
            elif path.endswith("/messages"):
                self.messages(body, mode)
            else:
                self.send_json({"type": "error", "error": {"type": "not_found_error",
                                                           "message": "unknown path " + path}}, 404)
        except (BrokenPipeError, ConnectionResetError):
            log({"t": time.time(), "path": path, "client_closed": True})

    def messages(self, body, mode):
        mid = "msg_" + uuid.uuid4().hex[:20]
        model = body.get("model", "claude-fake")
        usage = {"input_tokens": 10, "output_tokens": 1}
        if not body.get("stream"):
            return self.send_json({"id": mid, "type": "message", "role": "assistant", "model": model,
                                   "content": [{"type": "text", "text": "done" if mode == "done" else "ok"}],
                                   "stop_reason": "end_turn", "stop_sequence": None, "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.sse("message_start", {"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}})
        if mode == "tool":
            return self.tool_call()
        self.sse("content_block_start", {"type": "content_block_start", "index": 0,
                                         "content_block": {"type": "text", "text": ""}})
        chunks = (f"tick {i} " for i in range(300)) if mode == "slow" else iter([mode])
        for chunk in chunks:
            self.sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "text_delta", "text": chunk}})
            if mode == "slow":
                time.sleep(1)
        self.sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        self.sse("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                   "usage": {"output_tokens": 5}})
        self.sse("message_stop", {"type": "message_stop"})

    def tool_call(self):
        """The rest of a streamed reply that calls Bash (after message_start)."""
        args = {"command": "echo hi > fake_out.txt", "description": "Write a file"}
        self.sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": "Bash", "input": {}}})
        self.sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
            "type": "input_json_delta", "partial_json": json.dumps(args)}})
        self.sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        self.sse("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                   "usage": {"output_tokens": 5}})
        self.sse("message_stop", {"type": "message_stop"})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("fakemodel listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()
