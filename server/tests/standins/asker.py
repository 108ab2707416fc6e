#!/usr/bin/env python3
"""Stand-in agent asking for permission (tests/answers.rs): runs the real `observatory hook`
as its hook with one payload on stdin — so the hook, walking up, finds this process as its
agent — and prints `hook <pid>` once the hook runs. When the hook exits, writes what it printed,
its exit code and how long it took to OUT (JSON, atomically), then stays alive until killed.
Its standard input is a terminal (a pty), as an attended agent's is.

usage: asker.py OBSERVATORY ENDPOINT AGENT PAYLOAD OUT [HOOK ARGS...]
"""
import json
import os
import subprocess
import sys
import time

observatory, endpoint, agent, payload, out = sys.argv[1:6]
# An agent someone attends to reads a terminal: its standard input is a pty of its own here
# (Copilot CLI asks nobody when its prompt comes on a pipe).
# With ASKER_PIPED=1 it runs as a headless agent does, its stdin a pipe.
if os.environ.get("ASKER_PIPED") != "1":
    _terminal, _ours = os.openpty()
    os.dup2(_ours, 0)
started = time.time()
hook = subprocess.Popen(
    [observatory, "hook", agent, "--endpoint", endpoint] + sys.argv[6:],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
)
print("hook %d" % hook.pid, flush=True)
stdout, _ = hook.communicate(payload.encode())
with open(out + ".tmp", "w") as f:
    json.dump({"stdout": stdout.decode(), "code": hook.returncode, "ms": (time.time() - started) * 1000}, f)
os.rename(out + ".tmp", out)
time.sleep(120)
