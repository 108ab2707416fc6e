// Agent Observatory plugin for OpenCode: forwards OpenCode's events to observatory, which
// tracks the session (prompt, tools, idle, errors, permission asks) and alerts you.
// Written by `observatory setup opencode`; `observatory setup opencode --undo` removes it.
//
// Fire and forget: every call returns at once, a request gets 500 ms, and nothing here ever
// throws into OpenCode, whether observatory is running or not.
//
// Permission asks can be answered from the phone: a `permission.asked` event goes with a key of
// its own, and in the background (OpenCode's dialog stays on screen meanwhile) the plugin asks
// observatory for the answer under that key (a long poll) and gives it to OpenCode — "once" or
// "reject", never "always". It stops asking when observatory says the ask was settled otherwise
// (answered in the terminal, gone, expired) or cannot be reached. OpenCode 1.18.33 never calls
// plugins' `permission.ask` hook, hence the event and OpenCode's own client.
//
// Only `Observatory` is exported: OpenCode calls every export of a plugin file as a plugin.

import { readFileSync } from "node:fs";
import { isMainThread } from "node:worker_threads";

const ENDPOINT = "__OBSERVATORY_ENDPOINT__";
const HOOKS_URL = `${ENDPOINT}/v1/hooks/opencode?event=`;
const ANSWERS_URL = `${ENDPOINT}/v1/answers/`;
const TIMEOUT_MS = 500;
// One long poll for an answer, and how long the plugin keeps asking at most.
const ANSWER_POLL_SECS = 5;
const ANSWER_WAIT_MS = 3600 * 1000;
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

// Under `opencode run` an ask is settled at once without a person (rejected; approved with
// --auto), so every report says nobody is asked. Seen with OpenCode 1.18.33: `run` loads plugins
// on the main thread with its own arguments ([bun, /$bunfs/root/src/index.js, …, "run", …]);
// the TUI loads them in a Worker (whose argv is the worker's script), `--mini` on the main
// thread with no subcommand.
function headless() {
  if (!isMainThread) return false;
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return false;
    if (a === "--log-level") {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    return a === "run";
  }
  return false;
}

const HEADLESS = headless();
const HEADERS = { ...processHeaders(), ...(HEADLESS ? { "X-Observatory-Asks": "nobody" } : {}) };

// Sends not yet answered: `dispose` lets them land first, so the end comes last.
const PENDING = new Set();

// Resolves to the HTTP status, or 0 when observatory could not be reached.
function send(name, body, extraHeaders) {
  const sent = post(name, body, extraHeaders);
  PENDING.add(sent);
  sent.finally(() => PENDING.delete(sent));
  return sent;
}

function post(name, body, extraHeaders) {
  try {
    let payload;
    try {
      payload = JSON.stringify(body ?? {});
    } catch {
      payload = JSON.stringify({ unserializable: true });
    }
    return fetch(HOOKS_URL + encodeURIComponent(name), {
      method: "POST",
      headers: extraHeaders ? { ...HEADERS, ...extraHeaders } : HEADERS,
      body: payload,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).then(
      (response) => {
        response.body?.cancel?.().catch(() => {});
        return response.status;
      },
      () => 0,
    );
  } catch {
    return Promise.resolve(0);
  }
}

// The answer observatory has for `key`: "allow", "deny", or null (settled otherwise, gone).
async function answerFor(key) {
  const started = Date.now();
  while (Date.now() - started < ANSWER_WAIT_MS) {
    let response;
    try {
      response = await fetch(`${ANSWERS_URL}${key}?wait_secs=${ANSWER_POLL_SECS}`, {
        signal: AbortSignal.timeout((ANSWER_POLL_SECS + 2) * 1000),
      });
    } catch {
      return null;
    }
    if (response.status === 204) continue;
    const body = response.status === 200 ? await response.json().catch(() => null) : null;
    if (response.status !== 200) response.body?.cancel?.().catch(() => {});
    const decision = body?.decision;
    return decision === "allow" || decision === "deny" ? decision : null;
  }
  return null;
}

// Reports a permission ask with a key, then gives OpenCode the answer from the phone, if one
// comes.
async function ask(client, event) {
  try {
    const { id, sessionID } = event.properties ?? {};
    if (HEADLESS || typeof id !== "string" || typeof sessionID !== "string") {
      send("event.permission.asked", event);
      return;
    }
    const key = crypto.randomUUID().replaceAll("-", "");
    const status = await send("event.permission.asked", event, { "X-Observatory-Prompt": key });
    if (status !== 204) return;
    const decision = await answerFor(key);
    if (!decision) return;
    await client.postSessionIdPermissionsPermissionId({
      path: { id: sessionID, permissionID: id },
      body: { response: decision === "allow" ? "once" : "reject" },
    });
  } catch {
    // The ask stays on OpenCode's screen, as without us.
  }
}

// The sessions this OpenCode process worked in, told on `dispose` that it exits normally (a
// process gone without it crashed). Bounded: the newest are kept.
const SESSIONS = new Set();
const MAX_SESSIONS = 64;

function noteSession(id) {
  if (typeof id !== "string" || id === "") return;
  SESSIONS.delete(id);
  SESSIONS.add(id);
  if (SESSIONS.size > MAX_SESSIONS) SESSIONS.delete(SESSIONS.values().next().value);
}

function eventSession(event) {
  const p = event?.properties ?? {};
  return p.sessionID ?? (event?.type?.startsWith("session.") ? p.info?.id : p.info?.sessionID);
}

export const Observatory = async ({ client } = {}) => ({
  // OpenCode 1.18.33 awaits this on every normal exit (`opencode run` done, the TUI's /exit,
  // Ctrl-C, SIGTERM, SIGHUP) and never on SIGKILL or a signal to `opencode run`.
  dispose: async () => {
    try {
      const exitCode = process.exitCode ?? null;
      await Promise.allSettled([...PENDING]);
      await Promise.all([...SESSIONS].map((sessionID) => send("dispose", { sessionID, exitCode })));
    } catch {
      // Nothing here may throw into OpenCode.
    }
  },
  event: async ({ event } = {}) => {
    const type = event?.type;
    if (type === "session.deleted") SESSIONS.delete(eventSession(event));
    else noteSession(eventSession(event));
    if (type === "permission.asked" && client) {
      ask(client, event);
    } else if (typeof type === "string" && !SKIPPED_EVENTS.has(type)) {
      send(`event.${type}`, event);
    }
  },
  "tool.execute.before": async (input, output) => {
    send("tool.execute.before", { input, output });
  },
  "tool.execute.after": async (input, output) => {
    send("tool.execute.after", { input, output });
  },
  "chat.message": async (input, output) => {
    noteSession(input?.sessionID);
    send("chat.message", { input, output });
  },
});
