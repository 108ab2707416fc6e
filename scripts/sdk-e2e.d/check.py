#!/usr/bin/env python3
"""Checks what a running observatory counted against what the SDK senders say they sent.

Standard library only. Subcommands (all take --app http://HOST:PORT --state DIR):

  baseline          snapshot GET /api/stats before any sender runs
  sender MANIFEST   after one sender: the change in /api/stats since the previous snapshot must be
                    exactly that sender's records, all under its protocol and the generic agent,
                    none rejected, refused or unattributed; then snapshot again
  failed MESSAGE    a sender that failed: record one failed check and snapshot again
  final             per (signal, protocol) row of /api/stats, `received` equals the sum of what the
                    senders of that protocol sent, nothing rejected; and /api/sessions?agent=generic
                    shows each sender's conversation with the expected counts and tokens. Prints every result
                    and `N passed, M failed`; exits 1 if any check failed

Each check prints `ok` or `FAIL` with what was expected and what was seen. Counters are polled
for up to --wait seconds (the server may commit after it answers) before a check is failed.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SIGNALS = ("traces", "logs", "metrics")
PROTOCOLS = ("grpc", "http_protobuf", "http_json")
FIELDS = ("received", "accepted", "rejected", "unattributed", "ignored", "duplicates", "refused_requests")


def get(app, path):
    url = app.rstrip("/") + path
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise SystemExit(f"check.py: GET {url}: HTTP {e.code}: {e.read()[:500]!r}")
    except (urllib.error.URLError, OSError) as e:
        raise SystemExit(f"check.py: GET {url}: {e}")


def stats_rows(app):
    """{(signal, protocol, agent): {field: n}} from /api/stats."""
    rows = {}
    for r in get(app, "/api/stats")["records"]:
        key = (r["signal"], r["protocol"], r["agent"])
        acc = rows.setdefault(key, dict.fromkeys(FIELDS, 0))
        for f in FIELDS:
            acc[f] += int(r.get(f, 0))
    return rows


def total(rows, signal=None, protocol=None, agent=None, field="received"):
    return sum(
        c[field]
        for (s, p, a), c in rows.items()
        if (signal is None or s == signal) and (protocol is None or p == protocol) and (agent is None or a == agent)
    )


def delta(now, before):
    out = {}
    for key in set(now) | set(before):
        n, b = now.get(key, {}), before.get(key, {})
        out[key] = {f: n.get(f, 0) - b.get(f, 0) for f in FIELDS}
    return out


class Checks:
    """Collects (description, expected, seen) triples; an attempt passes when every one matches."""

    def __init__(self):
        self.items = []

    def eq(self, what, expected, seen):
        self.items.append((what, expected, seen))

    def failed(self):
        return [i for i in self.items if i[1] != i[2]]


def poll(build, wait):
    """Runs `build()` (returning Checks) until all pass or `wait` seconds pass; returns the last."""
    deadline = time.monotonic() + wait
    while True:
        checks = build()
        if not checks.failed() or time.monotonic() >= deadline:
            return checks
        time.sleep(0.1)


def record(state, checks):
    with open(os.path.join(state, "results.jsonl"), "a") as f:
        for what, expected, seen in checks.items:
            ok = expected == seen
            line = f"ok   {what}: {seen}" if ok else f"FAIL {what}: expected {expected}, got {seen}"
            print(line)
            f.write(json.dumps({"ok": ok, "line": line}) + "\n")


def save_snapshot(state, rows):
    with open(os.path.join(state, "stats.json"), "w") as f:
        json.dump([[list(k), v] for k, v in rows.items()], f)


def load_snapshot(state):
    with open(os.path.join(state, "stats.json")) as f:
        return {tuple(k): v for k, v in json.load(f)}


def cmd_baseline(a):
    os.makedirs(a.state, exist_ok=True)
    for name in ("results.jsonl", "manifests.json"):
        path = os.path.join(a.state, name)
        if os.path.exists(path):
            os.remove(path)
    save_snapshot(a.state, stats_rows(a.app))


def cmd_sender(a):
    with open(a.manifest) as f:
        m = json.load(f)
    before = load_snapshot(a.state)
    name, proto = m["sender"], m["protocol"]

    def build():
        d = delta(stats_rows(a.app), before)
        c = Checks()
        for s in SIGNALS:
            sent = m["sent"][s]
            tag = f"[{name}] stats {s}/{proto}"
            c.eq(f"{tag} received (sent {sent})", sent, total(d, s, proto))
            c.eq(f"{tag} received by the generic adapter", sent, total(d, s, proto, "generic"))
            c.eq(f"{tag} accepted", sent, total(d, s, proto, field="accepted"))
            c.eq(f"{tag} rejected", 0, total(d, s, proto, field="rejected"))
            c.eq(f"{tag} refused_requests", 0, total(d, s, proto, field="refused_requests"))
            c.eq(f"{tag} unattributed (every record has a conversation id)", 0,
                 total(d, s, proto, field="unattributed"))
        others = {f"{s}/{p}": total(d, s, p) for s in SIGNALS for p in PROTOCOLS if p != proto}
        c.eq(f"[{name}] stats: nothing counted under other protocols", {},
             {k: v for k, v in others.items() if v})
        return c

    checks = poll(build, a.wait)
    record(a.state, checks)
    save_snapshot(a.state, stats_rows(a.app))
    path = os.path.join(a.state, "manifests.json")
    manifests = json.load(open(path)) if os.path.exists(path) else []
    manifests.append(m)
    with open(path, "w") as f:
        json.dump(manifests, f)


def cmd_failed(a):
    """A sender that could not send: one failed check, and a new snapshot so the next sender's
    change in counters is its own."""
    line = f"FAIL {a.message}"
    print(line)
    with open(os.path.join(a.state, "results.jsonl"), "a") as f:
        f.write(json.dumps({"ok": False, "line": line}) + "\n")
    save_snapshot(a.state, stats_rows(a.app))


def find_session(sessions, conv):
    for s in sessions:
        if s.get("native_id") == conv or s.get("id") == conv:
            return s
    return None


def cmd_final(a):
    with open(os.path.join(a.state, "manifests.json")) as f:
        manifests = json.load(f)

    def build_stats():
        rows = stats_rows(a.app)
        c = Checks()
        for s in SIGNALS:
            for p in PROTOCOLS:
                senders = [m for m in manifests if m["protocol"] == p]
                sent = sum(m["sent"][s] for m in senders)
                who = " + ".join(f"{m['sender']} {m['sent'][s]}" for m in senders) or "no sender"
                c.eq(f"[total] stats {s}/{p} received ({who})", sent, total(rows, s, p))
                c.eq(f"[total] stats {s}/{p} rejected", 0, total(rows, s, p, field="rejected"))
        return c

    def build_sessions():
        page = get(a.app, "/api/sessions?" + urllib.parse.urlencode({"agent": "generic", "limit": 500}))
        sessions = page.get("sessions", [])
        c = Checks()
        for m in manifests:
            conv, name = m["conversation_id"], m["sender"]
            s = find_session(sessions, conv)
            c.eq(f"[{name}] /api/sessions?agent=generic has conversation {conv!r}", True, s is not None)
            if s is None:
                continue
            c.eq(f"[{name}] session {conv} agent", "generic", s.get("agent"))
            counts = s.get("counts") or {}
            for k, v in m["session"].items():
                c.eq(f"[{name}] session {conv} counts.{k}", v, counts.get(k))
            # Token usage comes from the chat spans (the generic adapter ignores the token-usage
            # metric, which repeats them); no cache attributes are sent, so input is all uncached.
            tokens = s.get("tokens") or {}
            for k, v in m["tokens"].items():
                c.eq(f"[{name}] session {conv} tokens.{k}", v, tokens.get(k))
        return c

    stats_checks = poll(build_stats, a.wait)
    record(a.state, stats_checks)
    session_checks = poll(build_sessions, a.wait)
    record(a.state, session_checks)
    with open(os.path.join(a.state, "results.jsonl")) as f:
        results = [json.loads(line) for line in f]
    failed = [r for r in results if not r["ok"]]
    passed = len(results) - len(failed)
    if failed:
        print(f"\n{len(failed)} check(s) FAILED:")
        for r in failed:
            print(f"  {r['line']}")
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--app", required=True, help="the app (read API) base URL, http://HOST:PORT")
    ap.add_argument("--state", required=True, help="directory for snapshots and results between calls")
    ap.add_argument("--wait", type=float, default=10.0, help="seconds to poll before failing a check")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("baseline")
    sp = sub.add_parser("sender")
    sp.add_argument("manifest")
    sp = sub.add_parser("failed")
    sp.add_argument("message")
    sub.add_parser("final")
    a = ap.parse_args()
    if a.cmd == "baseline":
        return cmd_baseline(a)
    if a.cmd == "sender":
        return cmd_sender(a)
    if a.cmd == "failed":
        return cmd_failed(a)
    return cmd_final(a)


if __name__ == "__main__":
    sys.exit(main() or 0)
