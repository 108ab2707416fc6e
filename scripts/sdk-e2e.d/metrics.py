#!/usr/bin/env python3
"""Checks the observatory's /metrics with Prometheus' own text parser (prometheus_client).

Run by scripts/sdk-e2e after the senders, with venv 1's Python (prometheus_client is pinned in
requirements-proto.txt): posts one Claude Code hook (so the hook latency histogram has a sample),
then reads /metrics and checks that
  - it parses, with the families and types the README documents;
  - the ingest counters say what /api/stats says, per (signal, protocol, agent, outcome);
  - sessions by agent and state add up to /api/sessions; tokens and model calls by agent and
    model add up to the sessions' totals (a fresh server: counters since start = all);
  - the hook histogram has its sample, with cumulative buckets ending at +Inf = count;
  - no label is a session id, and no series carries one.
Prints `ok`/`FAIL` per check and `N passed, M failed`; exits 1 on any failure.

Usage: metrics.py --app http://HOST:PORT --http http://HOST:PORT
"""

import argparse
import json
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

FAMILIES = {
    "observatory_build_info": "gauge",
    "observatory_sessions": "gauge",
    "observatory_store_size_bytes": "gauge",
    "observatory_store_events": "gauge",
    "observatory_tokens": "counter",
    "observatory_cost_usd": "counter",
    "observatory_api_requests": "counter",
    "observatory_api_errors": "counter",
    "observatory_tool_calls": "counter",
    "observatory_tool_errors": "counter",
    "observatory_ingest_records": "counter",
    "observatory_ingest_refused_requests": "counter",
    "observatory_alert_deliveries": "counter",
    "observatory_hook_request_duration_seconds": "histogram",
}
OUTCOMES = {"received": "received", "accepted": "accepted", "rejected": "rejected",
            "unattributed": "unattributed", "ignored": "ignored", "duplicate": "duplicates"}

results = []


def check(ok, what, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} metrics: {what}{'' if ok else ' — ' + detail}")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode(), r.headers.get("content-type", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--http", required=True)
    args = ap.parse_args()

    hook = json.dumps({"session_id": "5e551on0-0000-4000-8000-00000000feed", "cwd": "/tmp/metrics",
                       "hook_event_name": "SessionStart", "source": "startup"}).encode()
    req = urllib.request.Request(args.http + "/v1/hooks/claude_code", data=hook,
                                 headers={"content-type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    time.sleep(0.2)  # the stats below are read after the hook's commit; give the reader a moment

    text, ctype = get(args.app + "/metrics")
    stats = json.loads(get(args.app + "/api/stats")[0])
    sessions = json.loads(get(args.app + "/api/sessions?limit=500")[0])["sessions"]
    check(ctype.startswith("text/plain; version=0.0.4"), "content type is the text format 0.0.4", ctype)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, kind in FAMILIES.items():
        f = families.get(name)
        check(f is not None and f.type == kind, f"{name} is a {kind}",
              f"got {None if f is None else f.type}")

    def samples(family, suffix=""):
        return [s for s in families[family].samples if s.name == family + suffix] if family in families else []

    ingest = {}
    for s in samples("observatory_ingest_records", "_total"):
        l = s.labels
        ingest[(l["signal"], l["protocol"], l["agent"], l["outcome"])] = s.value
    mismatched = []
    for r in stats["records"]:
        for outcome, field in OUTCOMES.items():
            key = (r["signal"], r["protocol"], r["agent"], outcome)
            if ingest.get(key, 0) != r[field]:
                mismatched.append(f"{key}: /metrics {ingest.get(key)} vs /api/stats {r[field]}")
    check(bool(ingest) and not mismatched, f"ingest records match /api/stats ({len(ingest)} series)",
          "; ".join(mismatched[:5]))

    by_state = {}
    for s in sessions:
        by_state[(s["agent"], s["state"])] = by_state.get((s["agent"], s["state"]), 0) + 1
    got = {(s.labels["agent"], s.labels["state"]): s.value for s in samples("observatory_sessions")}
    check(got == by_state, "sessions by agent and state match /api/sessions", f"{got} vs {by_state}")

    for kind in ("input", "output"):
        want = sum(s["tokens"][kind] for s in sessions)
        have = sum(s.value for s in samples("observatory_tokens", "_total") if s.labels["type"] == kind)
        check(want > 0 and have == want, f"{kind} tokens by agent and model add up to the sessions' ({want})",
              f"/metrics says {have}")
    want = sum(s["counts"]["api_requests"] for s in sessions)
    have = sum(s.value for s in samples("observatory_api_requests", "_total"))
    check(want > 0 and have == want, f"model calls add up to the sessions' ({want})", f"/metrics says {have}")

    name = "observatory_hook_request_duration_seconds"
    buckets = [s for s in samples(name, "_bucket") if s.labels["agent"] == "claude_code"]
    count = [s.value for s in samples(name, "_count") if s.labels["agent"] == "claude_code"]
    values = [b.value for b in buckets]
    check(bool(buckets) and buckets[-1].labels["le"] == "+Inf" and values == sorted(values)
          and count == [values[-1]] and values[-1] >= 1,
          "the hook latency histogram has the hook, buckets cumulative up to +Inf = count",
          f"buckets {values}, count {count}")

    ids = {s["native_id"] for s in sessions} | {s["id"] for s in sessions}
    leaked = [f"{s.name}{s.labels}" for f in families.values() for s in f.samples
              if any(v in ids for v in s.labels.values()) or any("session" in k for k in s.labels)]
    check(not leaked, "no series carries a session id", "; ".join(leaked[:3]))

    failed = results.count(False)
    print(f"metrics: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
