// Drives our OpenCode plugin as OpenCode 1.18.33 would: loads the plugin file given and either
//  - ask SESSION PERMISSION (tests/answers.rs): hands it a client that prints each permission
//    answer it gets as a JSON line and sends it one `permission.asked` event; exits once the
//    plugin answered, or after 20 s;
//  - exit SESSION (tests/live.rs): the session is created and prompted, then OpenCode exits
//    normally — it awaits the plugin's `dispose` — and this prints "disposed" and exits 0.
//
// usage: node opencode-plugin.mjs PLUGIN.mjs ask SESSION_ID PERMISSION_ID
//        node opencode-plugin.mjs PLUGIN.mjs exit SESSION_ID
import { pathToFileURL } from "node:url";

const [plugin, mode, sessionID, id] = process.argv.slice(2);
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
await hooks.event({
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
});
console.log("asked");
setTimeout(() => process.exit(3), 20000);
