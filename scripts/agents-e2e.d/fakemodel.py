#!/usr/bin/env python3
"""A scripted stand-in for four model APIs, so that the real agent CLIs can run turns without a
model: it is not a model and it never contacts one. Stdlib only; 127.0.0.1 only. It grew out of
scripts/control-e2e.d/fakemodel.py (Anthropic only) and speaks, streaming or not:

  Anthropic Messages     POST /v1/messages, /v1/messages/count_tokens   (Claude Code, Copilot CLI, OpenCode)
  OpenAI Responses       POST /v1/responses                             (Codex)
  OpenAI Chat Completions POST /v1/chat/completions                     (Pi)
  Gemini                 POST /v1beta/models/<m>:streamGenerateContent / :generateContent / :countTokens

Usage: fakemodel.py PORT LOG

The script is picked by a marker `E2E[<script>]` in the newest user text that carries one; the
step is the number of tool results after that text. Scripts:
  plain        -> a text answer
  tool         -> step 0: one call of the agent's shell tool running `echo hi`; then a text answer
  slowtool     -> step 0: the shell tool sleeping 30 s in python3 (to be interrupted; Claude Code
                  refuses a bare `sleep 30`); then a text answer
  asktool      -> step 0: the shell tool writing a file, `echo hi > fake_out.txt` (a permission
                  dialog in an interactive Claude Code); then a text answer
  err<C>x<N>   -> the first N requests of this prompt answer HTTP C (an API error), then a text answer
  err<C>       -> every request of this prompt answers HTTP C (the agent gives up)
A request without a marker or offering no tools (titles, summaries, classifiers, warm-ups) gets a short text answer
(for Gemini's JSON-mode side requests, a JSON object that satisfies its router and next-speaker
checks).

Every reply carries known usage: a scripted reply 1000 uncached input, 200 cache-read and 40
output tokens (Anthropic: also 100 cache-write); a side reply 10 input and 2 output. Every request
is appended to LOG as one JSON line: {"t", "api", "path", "model", "script", "step", "side",
"status", "usage": {"input", "output", "cache_read", "cache_write"} (uncached input, the
observatory's convention), "tool": name or null, "stream", "n_tools", "last_user" and
"instructions" (their first/last 80 characters: what the request was for), "client_closed"}.
"""
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[2] if len(sys.argv) > 2 else None
MARKER = re.compile(r"E2E\[([a-z0-9]+)\]")
SHELL_TOOLS = ["Bash", "bash", "exec_command", "shell", "run_shell_command", "powershell"]
COMMANDS = {"tool": "echo hi", "asktool": "echo hi > fake_out.txt", "slowtool": "python3 -c \"import time; time.sleep(30)\""}
MAIN_USAGE = {"input": 1000, "output": 40, "cache_read": 200, "cache_write": 0}
SIDE_USAGE = {"input": 10, "output": 2, "cache_read": 0, "cache_write": 0}
ERRORS_SERVED = {}  # marker text -> errors answered so far
LOCK = threading.Lock()


def log(obj):
    if LOG:
        with LOCK, open(LOG, "a") as f:
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


# --- each API's conversation as a list of ("user", text) / ("tool_result", "") entries ---

def conv_anthropic(body):
    out = []
    for m in body.get("messages") or []:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if isinstance(content, list):
            for c in content:
                if isinstance(c, dict) and c.get("type") == "tool_result":
                    out.append(("tool_result", ""))
                elif m.get("role") == "user":
                    out.append(("user", " ".join(texts(c))))
        elif m.get("role") == "user":
            out.append(("user", " ".join(texts(content))))
    return out


def conv_responses(body):
    items = body.get("input")
    if isinstance(items, str):
        return [("user", items)]
    out = []
    for it in items or []:
        if not isinstance(it, dict):
            continue
        if it.get("type") in ("function_call_output", "custom_tool_call_output"):
            out.append(("tool_result", ""))
        elif it.get("role") == "user":
            out.append(("user", " ".join(texts(it.get("content")))))
    return out


def conv_chat(body):
    out = []
    for m in body.get("messages") or []:
        if not isinstance(m, dict):
            continue
        if m.get("role") == "tool":
            out.append(("tool_result", ""))
        elif m.get("role") == "user":
            out.append(("user", " ".join(texts(m.get("content")))))
    return out


def conv_gemini(body):
    out = []
    for c in body.get("contents") or []:
        if not isinstance(c, dict):
            continue
        for p in c.get("parts") or []:
            if isinstance(p, dict) and "functionResponse" in p:
                out.append(("tool_result", ""))
            elif c.get("role") == "user" and isinstance(p, dict) and "text" in p:
                out.append(("user", p["text"]))
    return out


def script_of(conv):
    """(marker text, script, step) of a conversation; (None, None, 0) for a side request."""
    for i in range(len(conv) - 1, -1, -1):
        kind, text = conv[i]
        found = MARKER.findall(text) if kind == "user" else []
        if found:
            step = sum(1 for k, _ in conv[i + 1:] if k == "tool_result")
            return text, found[-1], step
    return None, None, 0


def decide(conv, offers_tools):
    """What to answer: {"kind": "text"|"tool"|"error", ...} plus the log fields. A request that
    offers no tools is a side request (a title, a classifier) even when it quotes the prompt."""
    text, script, step = script_of(conv)
    if script is None or not offers_tools:
        return {"kind": "text", "text": "ok", "side": True, "script": None, "step": 0}
    d = {"side": False, "script": script, "step": step}
    m = re.fullmatch(r"err(\d{3})(?:x(\d+))?", script)
    if m and step == 0:
        code, times = int(m.group(1)), m.group(2)
        with LOCK:
            served = ERRORS_SERVED.get(text, 0)
            if times is None or served < int(times):
                ERRORS_SERVED[text] = served + 1
                return dict(d, kind="error", status=code)
    if script in COMMANDS and step == 0:
        return dict(d, kind="tool", command=COMMANDS[script])
    return dict(d, kind="text", text="done: the scripted answer")


def shell_tool(names):
    """The agent's shell tool among the tool names the request offers."""
    for n in SHELL_TOOLS:
        if n in names:
            return n
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, obj, code=200, headers=()):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b)

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, data, event=None):
        head = f"event: {event}\n" if event else ""
        self.wfile.write(f"{head}data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def do_GET(self):
        log({"t": time.time(), "method": "GET", "path": self.path})
        path = self.path.split("?")[0]
        if path.endswith("/models"):
            return self.send_json({"object": "list", "data": [], "models": []})
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
        rec = {"t": time.time(), "path": path}
        try:
            if path.endswith("/count_tokens") or path.endswith(":countTokens"):
                log(dict(rec, api="count_tokens", status=200))
                return self.send_json({"input_tokens": 10, "totalTokens": 10})
            if path.endswith("/messages"):
                return self.anthropic(body, rec)
            if path.endswith("/responses"):
                return self.openai_responses(body, rec)
            if path.endswith("/chat/completions"):
                return self.chat(body, rec)
            if ":generateContent" in path or ":streamGenerateContent" in path:
                return self.gemini(body, rec, path)
            log(dict(rec, api="unknown", status=404))
            self.send_json({"error": {"message": "unknown path " + path}}, 404)
        except (BrokenPipeError, ConnectionResetError):
            log(dict(rec, client_closed=True))

    def answer(self, api, body, rec, conv, tool_names, model):
        """Decide, log, and send an error when that is the answer; else return the decision."""
        d = decide(conv, bool([n for n in tool_names if n]))
        usage = None if d["kind"] == "error" else (SIDE_USAGE if d["side"] else MAIN_USAGE)
        if api == "anthropic" and usage is MAIN_USAGE:
            usage = dict(MAIN_USAGE, cache_write=100)
        tool = shell_tool(tool_names) if d["kind"] == "tool" else None
        if d["kind"] == "tool" and tool is None:
            d = dict(d, kind="text", text="no shell tool was offered")
        users = [t for k, t in conv if k == "user"]
        rec.update(api=api, model=model, script=d["script"], step=d["step"], side=d["side"],
                   status=d.get("status", 200), usage=usage, tool=tool,
                   stream=bool(body.get("stream")) or "stream" in rec["path"].lower(),
                   n_tools=len(tool_names), last_user=(users[-1] if users else "")[-80:],
                   instructions=str(body.get("instructions") or body.get("system") or "")[:80])
        log(rec)
        if d["kind"] == "error":
            self.send_error_reply(api, d["status"])
            return None
        d["usage"], d["tool"] = usage, tool
        return d

    def send_error_reply(self, api, code):
        msg = {529: "Overloaded", 500: "Internal server error", 503: "Service unavailable",
               429: "Rate limited"}.get(code, "error")
        if api == "anthropic":
            kind = {529: "overloaded_error", 429: "rate_limit_error"}.get(code, "api_error")
            return self.send_json({"type": "error", "error": {"type": kind, "message": msg}}, code)
        if api == "gemini":
            return self.send_json({"error": {"code": code, "message": msg, "status": "UNAVAILABLE"}}, code)
        self.send_json({"error": {"message": msg, "type": "server_error", "code": str(code)}}, code)

    # --- Anthropic Messages ---
    def anthropic(self, body, rec):
        model = body.get("model", "claude-fake")
        names = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        d = self.answer("anthropic", body, rec, conv_anthropic(body), names, model)
        if d is None:
            return
        u = d["usage"]
        usage = {"input_tokens": u["input"], "output_tokens": u["output"],
                 "cache_read_input_tokens": u["cache_read"], "cache_creation_input_tokens": u["cache_write"]}
        mid = "msg_" + uuid.uuid4().hex[:20]
        if d["kind"] == "tool":
            block = {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": d["tool"],
                     "input": {"command": d["command"], "description": "Run a command"}}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": d["text"]}
            stop = "end_turn"
        if not body.get("stream"):
            return self.send_json({"id": mid, "type": "message", "role": "assistant", "model": model,
                                   "content": [block], "stop_reason": stop, "stop_sequence": None,
                                   "usage": usage})
        self.start_sse()
        self.sse({"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": dict(usage, output_tokens=1)}},
            "message_start")
        if block["type"] == "tool_use":
            self.sse({"type": "content_block_start", "index": 0,
                      "content_block": dict(block, input={})}, "content_block_start")
            self.sse({"type": "content_block_delta", "index": 0, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}},
                "content_block_delta")
        else:
            self.sse({"type": "content_block_start", "index": 0,
                      "content_block": {"type": "text", "text": ""}}, "content_block_start")
            self.sse({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "text_delta", "text": block["text"]}}, "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self.sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                  "usage": {"output_tokens": u["output"]}}, "message_delta")
        self.sse({"type": "message_stop"}, "message_stop")

    # --- OpenAI Responses ---
    def openai_responses(self, body, rec):
        model = body.get("model", "gpt-fake")
        names = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        d = self.answer("responses", body, rec, conv_responses(body), names, model)
        if d is None:
            return
        u = d["usage"]
        usage = {"input_tokens": u["input"] + u["cache_read"],
                 "input_tokens_details": {"cached_tokens": u["cache_read"]},
                 "output_tokens": u["output"], "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": u["input"] + u["cache_read"] + u["output"]}
        rid = "resp_" + uuid.uuid4().hex[:20]
        if d["kind"] == "tool":
            arg = "cmd" if d["tool"] == "exec_command" else "command"
            item = {"id": "fc_" + uuid.uuid4().hex[:20], "type": "function_call", "status": "completed",
                    "call_id": "call_" + uuid.uuid4().hex[:20], "name": d["tool"],
                    "arguments": json.dumps({arg: d["command"]})}
        else:
            item = {"id": "msg_" + uuid.uuid4().hex[:20], "type": "message", "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": d["text"], "annotations": []}]}
        resp = {"id": rid, "object": "response", "created_at": int(time.time()), "model": model,
                "status": "completed", "output": [item], "usage": usage}
        if not body.get("stream"):
            return self.send_json(resp)
        self.start_sse()
        self.sse({"type": "response.created", "response": dict(resp, status="in_progress", output=[],
                                                               usage=None)}, "response.created")
        self.sse({"type": "response.output_item.added", "output_index": 0,
                  "item": dict(item, status="in_progress")}, "response.output_item.added")
        if item["type"] == "message":
            self.sse({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                      "content_index": 0, "delta": d["text"]}, "response.output_text.delta")
        self.sse({"type": "response.output_item.done", "output_index": 0, "item": item},
                 "response.output_item.done")
        self.sse({"type": "response.completed", "response": resp}, "response.completed")

    # --- OpenAI Chat Completions ---
    def chat(self, body, rec):
        model = body.get("model", "gpt-fake")
        names = [(t.get("function") or {}).get("name") for t in body.get("tools") or []
                 if isinstance(t, dict)]
        d = self.answer("chat", body, rec, conv_chat(body), names, model)
        if d is None:
            return
        u = d["usage"]
        usage = {"prompt_tokens": u["input"] + u["cache_read"], "completion_tokens": u["output"],
                 "total_tokens": u["input"] + u["cache_read"] + u["output"],
                 "prompt_tokens_details": {"cached_tokens": u["cache_read"]}}
        cid = "chatcmpl-" + uuid.uuid4().hex[:20]
        if d["kind"] == "tool":
            call = {"id": "call_" + uuid.uuid4().hex[:20], "type": "function",
                    "function": {"name": d["tool"], "arguments": json.dumps({"command": d["command"]})}}
            msg, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        else:
            msg, finish = {"role": "assistant", "content": d["text"]}, "stop"
        base = {"id": cid, "created": int(time.time()), "model": model}
        if not body.get("stream"):
            return self.send_json(dict(base, object="chat.completion", usage=usage, choices=[
                {"index": 0, "message": msg, "finish_reason": finish}]))
        self.start_sse()
        chunk = dict(base, object="chat.completion.chunk")
        if d["kind"] == "tool":
            delta = {"role": "assistant", "tool_calls": [dict(call, index=0)]}
        else:
            delta = {"role": "assistant", "content": d["text"]}
        self.sse(dict(chunk, choices=[{"index": 0, "delta": delta, "finish_reason": None}]))
        self.sse(dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": finish}]))
        self.sse(dict(chunk, choices=[], usage=usage))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    # --- Gemini ---
    def gemini(self, body, rec, path):
        model = path.rsplit("/", 1)[-1].split(":")[0]
        names = [f.get("name") for t in body.get("tools") or [] if isinstance(t, dict)
                 for f in t.get("functionDeclarations") or [] if isinstance(f, dict)]
        d = self.answer("gemini", body, rec, conv_gemini(body), names, model)
        if d is None:
            return
        u = d["usage"]
        usage = {"promptTokenCount": u["input"] + u["cache_read"], "candidatesTokenCount": u["output"],
                 "cachedContentTokenCount": u["cache_read"],
                 "totalTokenCount": u["input"] + u["cache_read"] + u["output"]}
        gen = body.get("generationConfig") or {}
        if d["kind"] == "tool":
            parts = [{"functionCall": {"name": d["tool"], "args": {"command": d["command"],
                                                                   "description": "Run a command"}},
                      "thoughtSignature": "ZmFrZQ=="}]
        elif d["side"] and (gen.get("responseMimeType") == "application/json" or
                            gen.get("responseJsonSchema") or gen.get("responseSchema")):
            parts = [{"text": json.dumps({"complexity_reasoning": "fake", "complexity_score": 1,
                                          "reasoning": "fake", "next_speaker": "user"})}]
        else:
            parts = [{"text": d["text"]}]
        resp = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                                "index": 0}],
                "usageMetadata": usage, "modelVersion": model}
        if ":streamGenerateContent" not in path:
            return self.send_json(resp)
        self.start_sse()
        self.sse(resp)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("fakemodel listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()
