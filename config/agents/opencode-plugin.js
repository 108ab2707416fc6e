// Agent Observatory plugin for OpenCode: forwards OpenCode's events to observatory, which
// tracks the session (prompt, tools, idle, errors, permission asks) and alerts you.
// Written by `observatory setup opencode`; `observatory setup opencode --undo` removes it.
//
// Fire and forget: every call returns at once, a request gets 500 ms, and nothing here ever
// throws into OpenCode, whether observatory is running or not.
//
// Only `Observatory` is exported: OpenCode calls every export of a plugin file as a plugin.

import { readFileSync } from "node:fs";

const ENDPOINT = "__OBSERVATORY_ENDPOINT__";
const HOOKS_URL = `${ENDPOINT}/v1/hooks/opencode?event=`;
const TIMEOUT_MS = 500;
// Sent once per streamed chunk: many requests, nothing the session tracker uses.
const SKIPPED_EVENTS = new Set(["message.part.updated", "message.part.delta"]);

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

function send(name, body) {
  try {
    let payload;
    try {
      payload = JSON.stringify(body ?? {});
    } catch {
      payload = JSON.stringify({ unserializable: true });
    }
    return fetch(HOOKS_URL + encodeURIComponent(name), {
      method: "POST",
      headers: HEADERS,
      body: payload,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).then(
      (response) => response.body?.cancel?.().catch(() => {}),
      () => {},
    );
  } catch {
    return Promise.resolve();
  }
}

export const Observatory = async () => ({
  event: async ({ event } = {}) => {
    const type = event?.type;
    if (typeof type === "string" && !SKIPPED_EVENTS.has(type)) send(`event.${type}`, event);
  },
  "tool.execute.before": async (input, output) => {
    send("tool.execute.before", { input, output });
  },
  "tool.execute.after": async (input, output) => {
    send("tool.execute.after", { input, output });
  },
  "chat.message": async (input, output) => {
    send("chat.message", { input, output });
  },
});
