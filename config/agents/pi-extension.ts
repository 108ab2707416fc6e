// Agent Observatory extension for Pi: forwards Pi's session, agent, turn and tool events to
// observatory, which tracks the session and alerts you.
// Written by `observatory setup pi`; `observatory setup pi --undo` removes it.
//
// Fire and forget: a request gets 500 ms, and nothing here ever throws into Pi, whether
// observatory is running or not. Plain JavaScript, so it needs no types from Pi's package.

import { readFileSync } from "node:fs";
import { basename } from "node:path";

const ENDPOINT = "__OBSERVATORY_ENDPOINT__";
const HOOKS_URL = `${ENDPOINT}/v1/hooks/pi`;
const TIMEOUT_MS = 500;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

// This process, so observatory can tell when it dies. The start time (field 22 of
// /proc/self/stat, counted after the command name, which may itself hold spaces or ")")
// guards against the pid being reused later.
function processHeaders() {
  const headers = {
    "Content-Type": "application/json",
    "X-Observatory-Pid": String(process.pid),
  };
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = fields[22 - 3];
    if (/^\d+$/.test(start ?? "")) headers["X-Observatory-Pid-Start"] = start;
  } catch {
    // No /proc (macOS): the pid alone.
  }
  return headers;
}

const HEADERS = processHeaders();

// Pi's session id: asked of the session manager where it says, else the uuid in the session
// file's name (`<timestamp>_<uuid>.jsonl`).
function sessionId(ctx) {
  try {
    const manager = ctx?.sessionManager;
    const id = manager?.getSessionId?.();
    if (typeof id === "string" && id) return id;
    const file = manager?.getSessionFile?.();
    if (typeof file === "string" && file) {
      const name = basename(file);
      return name.match(UUID)?.[0] ?? name.replace(/\.jsonl$/, "");
    }
  } catch {
    // An older or newer Pi without these: the event goes without a session id.
  }
  return undefined;
}

function send(name, ctx, extra) {
  try {
    let cwd;
    try {
      cwd = typeof ctx?.cwd === "string" ? ctx.cwd : process.cwd();
    } catch {
      cwd = undefined;
    }
    const body = JSON.stringify({
      event: name,
      session_id: sessionId(ctx),
      cwd,
      timestamp: Date.now(),
      ...extra,
    });
    return fetch(HOOKS_URL, {
      method: "POST",
      headers: HEADERS,
      body,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).then(
      (response) => response.body?.cancel?.().catch(() => {}),
      () => {},
    );
  } catch {
    return Promise.resolve();
  }
}

// How the prompt's run ended, from the last assistant message of `agent_end`.
function runOutcome(event) {
  const messages = Array.isArray(event?.messages) ? event.messages : [];
  const last = [...messages].reverse().find((m) => m?.role === "assistant");
  const stopReason = typeof last?.stopReason === "string" ? last.stopReason : undefined;
  if (stopReason === "error") {
    return { stopReason, error: String(last?.errorMessage || "error") };
  }
  return stopReason ? { stopReason } : {};
}

// What an assistant message cost: its model, tokens and Pi's own price (pi-ai's `Usage`); other
// messages are not sent (null).
function usage(event) {
  const m = event?.message;
  if (m?.role !== "assistant") return null;
  const u = m.usage || {};
  return {
    model: m.model,
    responseId: m.responseId,
    stopReason: m.stopReason,
    usage: {
      input: u.input,
      output: u.output,
      cacheRead: u.cacheRead,
      cacheWrite: u.cacheWrite,
      cost: u.cost?.total,
    },
  };
}

function tool(event) {
  return { toolCallId: event?.toolCallId, toolName: event?.toolName };
}

export default function (pi) {
  const on = (name, extra, wait) => {
    try {
      pi.on(name, async (event, ctx) => {
        let fields = {};
        try {
          fields = extra ? extra(event) : {};
        } catch {
          fields = {};
        }
        if (fields === null) return;
        const sent = send(name, ctx, fields);
        // Pi is about to exit: let the request out first (bounded by its timeout).
        if (wait) await sent;
      });
    } catch {
      // This Pi does not know the event.
    }
  };
  on("session_start");
  on("agent_start");
  on("agent_end", runOutcome);
  on("turn_start", (e) => ({ turnIndex: e?.turnIndex }));
  on("turn_end", (e) => ({ turnIndex: e?.turnIndex }));
  on("tool_execution_start", tool);
  on("tool_execution_end", (e) => ({ ...tool(e), isError: e?.isError === true }));
  on("message_end", usage);
  on("session_shutdown", undefined, true);
}
