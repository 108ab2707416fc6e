// Drives our OpenCode plugin as OpenCode 1.18.33 would: loads the plugin file given and either
//  - ask SESSION PERMISSION (tests/answers.rs): hands it a client that prints each permission
//    answer it gets as a JSON line and sends it one `permission.asked` event; exits once the
//    plugin answered, or after 20 s;
//  - run-ask SESSION PERMISSION (tests/answers.rs): as `opencode run` (its argv as the plugin
//    sees it), which rejects the ask itself: sends the `permission.asked` event and its
//    `permission.replied` a few ms later, prints "asked" once both were reported, and exits;
//  - exit SESSION (tests/live_state.rs): the session is created and prompted, then OpenCode exits
//    normally — it awaits the plugin's `dispose` — and this prints "disposed" and exits 0.
//
// usage: node opencode-plugin.mjs PLUGIN.mjs ask|run-ask SESSION_ID PERMISSION_ID
//        node opencode-plugin.mjs PLUGIN.mjs exit SESSION_ID
import { pathToFileURL } from "node:url";

const [plugin, mode, sessionID, id] = process.argv.slice(2);
if (mode === "run-ask") process.argv = [process.argv[0], "/$bunfs/root/src/index.js", "run", "RUNCMD"];
const { Observatory } = await import(pathToFileURL(plugin).href);
const client = {
  postSessionIdPermissionsPermissionId: async (request) => {
    console.log(JSON.stringify(request));
    process.exit(0);
  },
};
const hooks = await Observatory({ client });
if (mode === "exit") {
  await hooks.event({
    event: { type: "session.created", properties: { info: { id: sessionID, directory: process.cwd() } } },
  });
  await hooks["chat.message"]({ sessionID }, { message: { role: "user", model: { modelID: "claude-sonnet-4-5" } } });
  await hooks.event({ event: { type: "session.idle", properties: { sessionID } } });
  await hooks.dispose();
  console.log("disposed");
  process.exit(0);
}
const asked = {
  event: {
    type: "permission.asked",
    properties: {
      id,
      sessionID,
      permission: "bash",
      patterns: ["echo hi > fake_out.txt"],
      metadata: { command: "echo hi > fake_out.txt" },
      always: ["echo *"],
    },
  },
};
await hooks.event(asked);
if (mode === "run-ask") {
  await hooks.event({ event: { type: "permission.replied", properties: { sessionID, requestID: id, reply: "reject" } } });
  await hooks.dispose();
  console.log("asked");
  process.exit(0);
}
console.log("asked");
setTimeout(() => process.exit(3), 20000);
