#!/usr/bin/env python3
"""Stand-in agent for the control tests (tests/control.rs).

Registers itself through the real `observatory hook claude_code` (a Claude Code SessionStart
naming its session id and working directory, so the hook, walking up from its parent, finds this
process), starts a child process (`sleep`), and records each SIGINT and SIGTERM it receives as a
line of its log. It exits on SIGTERM (status 143) unless --stubborn, which ignores it: only SIGKILL
ends it then. On SIGTERM it first reports SessionEnd through the hook, as Claude Code does. On
SIGINT it goes on.

usage: agent.py OBSERVATORY ENDPOINT SESSION_ID LOG [--stubborn] [--source startup|resume]
"""
import json
import os
import signal
import subprocess
import sys
import time

observatory, endpoint, session_id, log_path = sys.argv[1:5]
stubborn = "--stubborn" in sys.argv
source = sys.argv[sys.argv.index("--source") + 1] if "--source" in sys.argv else "startup"
log = open(log_path, "a", buffering=1)


def on_signal(sig, _frame):
    log.write(signal.Signals(sig).name + "\n")
    if sig == signal.SIGTERM and not stubborn:
        # As Claude Code does: its SessionEnd hook runs before it exits.
        hook({"session_id": session_id, "hook_event_name": "SessionEnd", "reason": "other"})
        sys.exit(143)


def hook(payload):
    payload.setdefault("cwd", os.getcwd())
    subprocess.run(
        [observatory, "hook", "claude_code", "--endpoint", endpoint],
        input=json.dumps(payload).encode(),
        check=True,
    )


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
