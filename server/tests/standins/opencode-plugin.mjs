// Drives our OpenCode plugin as OpenCode 1.18.33 would (tests/answers.rs): loads the plugin file
// given, hands it a client that prints each permission answer it gets as a JSON line, and sends
// it one `permission.asked` event (its session and permission ids from the command line). Exits
// once the plugin answered, or after 20 s.
//
// usage: node opencode-plugin.mjs PLUGIN.mjs SESSION_ID PERMISSION_ID
import { pathToFileURL } from "node:url";

const [plugin, sessionID, id] = process.argv.slice(2);
const { Observatory } = await import(pathToFileURL(plugin).href);
const client = {
  postSessionIdPermissionsPermissionId: async (request) => {
    console.log(JSON.stringify(request));
    process.exit(0);
  },
};
const hooks = await Observatory({ client });
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
