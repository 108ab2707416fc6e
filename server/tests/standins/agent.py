#!/usr/bin/env python3
"""Stand-in agent for the control tests (tests/control.rs).

Registers itself through the real `observatory hook claude_code` (a Claude Code SessionStart
naming its session id and working directory, so the hook, walking up from its parent, finds this
process), starts a child process (`sleep`), and records each SIGINT and SIGTERM it receives as a
line of its log. It exits on SIGTERM (status 143) unless --stubborn, which ignores it: only SIGKILL
ends it then. On SIGTERM it first reports SessionEnd through the hook, as Claude Code does. On
SIGINT it goes on. When its stdin is a terminal it puts it in raw mode, as the agents' TUIs do,
logs each byte it reads as `key <hex>` (Esc: `key 1b`), and says goodbye on it before it exits.

usage: agent.py OBSERVATORY ENDPOINT SESSION_ID LOG [--stubborn] [--source startup|resume]
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tty

observatory, endpoint, session_id, log_path = sys.argv[1:5]
stubborn = "--stubborn" in sys.argv
source = sys.argv[sys.argv.index("--source") + 1] if "--source" in sys.argv else "startup"
log = open(log_path, "a", buffering=1)


def on_signal(sig, _frame):
    log.write(signal.Signals(sig).name + "\n")
    if sig == signal.SIGTERM and not stubborn:
        # As Claude Code does: its SessionEnd hook runs before it exits.
        hook({"session_id": session_id, "hook_event_name": "SessionEnd", "reason": "other"})
        if terminal:
            print("bye from the agent", flush=True)
        sys.exit(143)


def hook(payload):
    payload.setdefault("cwd", os.getcwd())
    subprocess.run(
        [observatory, "hook", "claude_code", "--endpoint", endpoint],
        input=json.dumps(payload).encode(),
        check=True,
    )


def read_keys():
    while True:
        data = os.read(0, 64)
        if not data:
            return
        for b in data:
            log.write("key %02x\n" % b)


terminal = os.isatty(0)
if terminal:
    tty.setraw(0)
    threading.Thread(target=read_keys, daemon=True).start()
signal.signal(signal.SIGINT, on_signal)
signal.signal(signal.SIGTERM, on_signal)
child = subprocess.Popen(["sleep", "120"])
log.write("child %d\n" % child.pid)
hook({
    "session_id": session_id,
    "hook_event_name": "SessionStart",
    "source": source,
    "transcript_path": "/tmp/none.jsonl",
})
log.write("registered %d\n" % os.getpid())
print("registered", flush=True)
deadline = time.time() + 120
while time.time() < deadline:
    time.sleep(0.05)
