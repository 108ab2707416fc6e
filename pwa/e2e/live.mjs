// Browser test: the real server (the debug binary cargo built, serving pwa/dist from disk) and
// Debian's Chromium driven by playwright-core, at a phone viewport. Each page that changes
// settings is paired first, through a `/pair#<code>` link whose code the control token
// (`<data dir>/control-token`) got. A recorded Claude Code session is posted through the hook
// endpoint while the page is open: it must appear, then move to "Needs you" live when its
// PermissionRequest arrives; its page has a Control section whose actions are disabled with the
// server's reason (the recorded session has no live process). Then: axe-core finds no serious
// accessibility violations on any screen; Chromium reports no installability errors; a push
// delivered to the service worker through the DevTools protocol shows a notification for the
// session, and a click on it opens the session in the open page; a permission request whose hook
// waits for an answer shows as a card on its session's page at phone size, and its Allow reaches
// the waiting hook; a prompt's notification offers only the answers the push lists, and its Deny
// answers from the service worker without opening a window; the app survives a server
// restart without losing an event; with the network gone a reload still shows the shell (from
// the service worker) with the last known sessions and says "Offline". Last, a second server that
// shows sessions to paired browsers only (`local_reads = "paired"`): a fresh page shows the
// pairing screen and opens no live feed; through a pairing link it ends on the sessions list;
// revoked with the token, it goes back to the pairing screen without reconnecting.
// Screenshots go to target/pwa-screenshots/. Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.OBSERVATORY_BIN ?? join(root, 'target/debug/observatory');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = join(root, 'target/pwa-screenshots');
const hooks = join(root, 'server/tests/fixtures/claude-code-2.1.328/denied/hooks');

function startServer(dataDir, ports = { http: '127.0.0.1:0', app: '127.0.0.1:0' }, extraArgs = []) {
  const child = spawn(
    bin,
    ['serve', '--data-dir', dataDir, '--grpc-addr', '127.0.0.1:0', '--http-addr', ports.http,
      '--app-addr', ports.app, '--log-format', 'json', ...extraArgs],
    // Push on, so that Settings offers notifications (the browser has no push service here).
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OBSERVATORY_PUSH_SUBJECT: 'mailto:e2e@example.com' } },
  );
  return new Promise((ok, fail) => {
    let buf = '';
    const timer = setTimeout(() => fail(new Error('server did not start in 10 s')), 10_000);
    child.on('exit', (code) => fail(new Error(`server exited with ${code}`)));
    child.stderr.on('data', (d) => {
      buf += d;
      for (const line of buf.split('\n')) {
        if (!line.includes('listening')) continue;
        const f = JSON.parse(line).fields;
        clearTimeout(timer);
        ok({ child, http: f.http_addr, app: f.app_addr });
        return;
      }
    });
  });
}

async function hook(server, file) {
  const r = await fetch(`http://${server.http}/v1/hooks/claude_code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: readFileSync(join(hooks, file)),
  });
  if (r.status !== 204) throw new Error(`${file}: ${r.status} ${await r.text()}`);
}

/**
 * A Claude Code permission request whose `observatory hook` waits for the answer under `key` (the
 * hook sends the key in `X-Observatory-Prompt`): the server makes an answerable prompt of it.
 */
async function askPermission(server, sessionId, key, command) {
  const r = await fetch(`http://${server.http}/v1/hooks/claude_code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-observatory-prompt': key },
    body: JSON.stringify({
      session_id: sessionId, hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command }, cwd: '/tmp',
    }),
  });
  if (r.status !== 204) throw new Error(`PermissionRequest with a prompt key: ${r.status} ${await r.text()}`);
}

/** What the waiting hook gets: it long-polls the ingest port as `observatory hook` does, until
 *  the prompt is decided or settled (or 30 s pass: status 0). */
async function hookAnswer(server, key) {
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    const r = await fetch(`http://${server.http}/v1/answers/${key}?wait_secs=5`);
    if (r.status === 204) continue;
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }
  return { status: 0, body: null };
}

/** The 32 hex digits `observatory hook` keys its wait with. */
const promptKey = () => randomBytes(16).toString('hex');

/** The control token the server wrote to its data dir (one line). */
async function controlToken(dataDir) {
  const file = join(dataDir, 'control-token');
  for (const until = Date.now() + 5_000; !existsSync(file) && Date.now() < until; ) {
    await new Promise((ok) => setTimeout(ok, 50));
  }
  const token = readFileSync(file, 'utf8').trim();
  if (!token) throw new Error(`${file} is empty`);
  return token;
}

/** A call to the app API with the control token, as a script on the laptop makes it. */
async function withToken(server, token, method, path) {
  const r = await fetch(`http://${server.app}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'x-observatory': '1' },
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** A one-time pairing code; its link is `<app>/pair#<code>`. */
async function pairingCode(server, token) {
  const r = await withToken(server, token, 'POST', '/api/pairing-codes');
  if (r.status !== 201) throw new Error(`POST /api/pairing-codes: ${r.status} ${JSON.stringify(r.body)}`);
  const url = new URL(r.body.url);
  if (url.pathname !== '/pair' || url.hash.length < 2) throw new Error(`unexpected pairing link ${r.body.url}`);
  if (typeof r.body.qr_svg !== 'string' || !r.body.qr_svg.includes('<svg')) throw new Error('no QR code SVG');
  return { code: r.body.code, hash: url.hash };
}

/** Pairs the page's browser through the pairing link; it ends on the sessions list as a device. */
async function pairPage(page, server, token) {
  const { hash } = await pairingCode(server, token);
  await page.goto(`http://${server.app}/pair${hash}`);
  // The code leaves the address at once; once paired the app goes to "/".
  await page.waitForURL(`http://${server.app}/`, { timeout: 10_000 });
  const access = await page.evaluate(async () => (await fetch('/api/access')).json());
  if (!access.device || access.credential !== 'device') throw new Error(`not paired: ${JSON.stringify(access)}`);
  return access.device;
}

async function stopServer(server) {
  // The start-up listener would take this exit for a failed start.
  server.child.removeAllListeners('exit');
  const gone = new Promise((ok) => server.child.once('exit', ok));
  server.child.kill('SIGTERM');
  await gone;
}

/** Serious and critical axe-core violations on the page, as readable lines. */
async function axe(page) {
  await page.addScriptTag({ content: axeSource });
  const result = await page.evaluate(async () => await globalThis.axe.run(document));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => `${n.target.join(" ")} [${n.any.map((c) => c.message).join("; ")}]`).join(", ")}`);
}

// Whatever happens, this test ends: a hang fails it after three minutes.
const watchdog = setTimeout(() => {
  console.error('e2e: FAILED: still running after 180 s');
  server?.child.kill('SIGKILL');
  pairedOnly?.child.kill('SIGKILL');
  process.exit(1);
}, 180_000);

const dataDir = mkdtempSync(join(tmpdir(), 'observatory-e2e-'));
mkdirSync(shots, { recursive: true });
const pairedOnlyDir = mkdtempSync(join(tmpdir(), 'observatory-e2e-paired-'));
let server;
let pairedOnly;
server = await startServer(dataDir);
const token = await controlToken(dataDir);
const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
let failed = false;
try {
  for (const [name, viewport] of [['phone', { width: 390, height: 844 }], ['desktop', { width: 1280, height: 800 }]]) {
    const page = await browser.newPage({ viewport });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // Local reads are open, but turning notifications on needs a paired browser.
    const device = await pairPage(page, server, token);
    await page.getByText('Live', { exact: true }).first().waitFor({ timeout: 10_000 });
    if (name === 'phone') {
      for (const f of ['0001-claude-SessionStart.json', '0002-claude-UserPromptSubmit.json', '0004-claude-PreToolUse.json']) {
        await hook(server, f);
      }
    }
    const card = page.getByRole('link', { name: /proj.*Claude Code/ });
    await card.first().waitFor({ timeout: 10_000 });
    if (name === 'phone') {
      await page.locator('#g-working').waitFor({ timeout: 5_000 });
      await page.screenshot({ path: join(shots, 'sessions-working-phone.png') });
      const sent = Date.now();
      await hook(server, '0005-claude-PermissionRequest.json');
      await page.locator('#g-needs_you').waitFor({ timeout: 5_000 });
      console.log(`e2e: PermissionRequest → "Needs you" on the page in ${Date.now() - sent} ms`);
    }
    await page.screenshot({ path: join(shots, `sessions-${name}.png`) });
    const violations = await axe(page);
    await card.first().click();
    await page.getByText('Timeline').waitFor({ timeout: 10_000 });
    if (name === 'phone') {
      // Control: the recorded session has no live process, so each action is there, disabled,
      // with the server's reason next to it (as text: a phone has no hover).
      const control = page.getByRole('region', { name: 'Control' });
      await control.waitFor({ timeout: 10_000 });
      await control.locator('.control-why').first().waitFor({ timeout: 10_000 });
      const buttons = await control.getByRole('button').evaluateAll((els) =>
        els.map((b) => {
          const why = b.getAttribute('aria-describedby');
          return { label: b.textContent, disabled: b.disabled, why: why ? (document.getElementById(why)?.textContent ?? '') : '' };
        }),
      );
      if (buttons.map((b) => b.label).join() !== 'Interrupt,Kill,Restart' || buttons.some((b) => !b.disabled || !b.why.trim())) {
        throw new Error(`control buttons: ${JSON.stringify(buttons)}`);
      }
      console.log(`e2e: Control shows Interrupt, Kill, Restart disabled: ${[...new Set(buttons.map((b) => b.why))].join('; ')}`);
      await control.scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(shots, 'control-phone.png') });
    }
    await page.screenshot({ path: join(shots, `session-${name}.png`), fullPage: true });
    violations.push(...(await axe(page)));
    if (name === 'phone') {
      // Answers: a Claude Code asks to run `echo hi` and its hook waits. The session's page shows
      // the prompt as a card; Allow reaches the waiting hook, and the card becomes one line.
      const sessionId = randomUUID();
      const key = promptKey();
      await askPermission(server, sessionId, key, 'echo hi');
      const taken = hookAnswer(server, key);
      await page.goto(`http://${server.app}/sessions/${encodeURIComponent(`claude_code:${sessionId}`)}`);
      const prompts = page.getByRole('region', { name: 'Permission requests' });
      const prompt = prompts.getByRole('article', { name: 'Claude Code wants to use Bash' });
      await prompt.waitFor({ timeout: 10_000 });
      await prompt.locator('.prompt-detail').getByText('echo hi', { exact: true }).waitFor({ timeout: 5_000 });
      const allow = prompt.getByRole('button', { name: 'Allow', exact: true });
      const box = await allow.boundingBox();
      if (!box || box.height < 44 || box.width < 120) throw new Error(`Allow is too small to tap: ${JSON.stringify(box)}`);
      await page.screenshot({ path: join(shots, 'prompt-phone.png') });
      violations.push(...(await axe(page)));
      const sent = Date.now();
      await allow.click();
      const hookGot = await taken;
      if (hookGot.status !== 200 || hookGot.body?.decision !== 'allow') {
        throw new Error(`the waiting hook got ${JSON.stringify(hookGot)}, not an allow`);
      }
      // "from this browser" (or "this phone" on a touch screen), once the hook has taken it.
      await prompts.getByText(/^Allowed from this (browser|phone)$/).waitFor({ timeout: 10_000 });
      if (await prompts.getByRole('article').count()) throw new Error('the answered prompt still shows as a card');
      const listed = await withToken(server, token, 'GET', `/api/prompts?session=${encodeURIComponent(`claude_code:${sessionId}`)}`);
      const p = listed.body?.prompts?.find((x) => x.id === key);
      if (p?.state !== 'allowed' || p.by !== device.name || p.delivered !== true) {
        throw new Error(`the prompt after Allow: ${JSON.stringify(listed.body)}`);
      }
      console.log(`e2e: Allow on the phone's card reached the waiting hook in ${Date.now() - sent} ms; the card says "Allowed from this browser"`);
      await page.screenshot({ path: join(shots, 'prompt-answered-phone.png') });
      violations.push(...(await axe(page)));
    }
    await page.goto(`http://${server.app}/live`);
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(shots, `live-${name}.png`) });
    violations.push(...(await axe(page)));
    for (const path of ['/alerts', '/settings']) {
      await page.goto(`http://${server.app}${path}`);
      if (path === '/alerts') {
        // The permission request above made a needs_you alert; the page lists it.
        await page.getByText('wants to run Bash: touch created_by_agent.txt').first().waitFor({ timeout: 5_000 });
      } else {
        await page.getByText('Paired as').waitFor({ timeout: 5_000 });
        await page.getByRole('button', { name: /turn on notifications/i }).waitFor({ timeout: 5_000 });
        // This browser is in the device list, and the audit log says it paired.
        await page.getByText('this browser', { exact: true }).waitFor({ timeout: 5_000 });
        await page.locator('.audit-entry').getByText('Paired', { exact: true }).first().waitFor({ timeout: 5_000 });
      }
      await page.screenshot({ path: join(shots, `${path.slice(1)}-${name}.png`), fullPage: true });
      violations.push(...(await axe(page)));
    }
    if (violations.length) throw new Error(`axe-core at ${name}:\n  ${violations.join('\n  ')}`);
    if (errors.length) throw new Error(`page errors at ${name}: ${errors.join('; ')}`);
    await page.close();
  }

  // Installability, as Chromium judges it (which needs a persistent profile, not incognito).
  {
    const profile = mkdtempSync(join(tmpdir(), 'observatory-e2e-profile-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: browserPath,
      args: ['--no-sandbox'],
    });
    try {
      const page = await context.newPage();
      await page.goto(`http://${server.app}/`);
      await page.evaluate(async () => { await navigator.serviceWorker.ready; });
      const cdp = await context.newCDPSession(page);
      const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
      if (installabilityErrors.length) {
        throw new Error(`installability errors: ${JSON.stringify(installabilityErrors)}`);
      }
      console.log('e2e: no installability errors');

      // A push delivered to the service worker through the DevTools protocol shows a
      // notification that leads to the session.
      await context.grantPermissions(['notifications'], { origin: `http://${server.app}` });
      const registration = new Promise((ok) => {
        cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
          const r = registrations.find((x) => x.scopeURL === `http://${server.app}/` && !x.isDeleted);
          if (r) ok(r.registrationId);
        });
      });
      await cdp.send('ServiceWorker.enable');
      const registrationId = await registration;
      const session = 'claude_code:cb477963-4b6f-40e1-8e01-103aaeb9e9b5';
      const sessionUrl = `/sessions/${encodeURIComponent(session)}`;
      const push = () =>
        cdp.send('ServiceWorker.deliverPushMessage', {
          origin: `http://${server.app}`,
          registrationId,
          // The payload of the alerts contract.
          data: JSON.stringify({
            title: 'Claude Code · proj', body: 'wants to run Bash', session_id: session, url: sessionUrl,
            kind: 'needs_you', alert_id: 1, time_unix_nano: Date.now() * 1e6,
          }),
        });
      const shown = () =>
        page.evaluate(async () => {
          const reg = await navigator.serviceWorker.ready;
          const list = await reg.getNotifications();
          return list.length ? { title: list[0].title, url: list[0].data?.url, tag: list[0].tag, renotify: list[0].renotify } : null;
        });
      // DevTools may hand a push to a worker that is still starting and lose it (seen once in a
      // few runs on a loaded 2-core machine): deliver again, up to three times, and say so.
      let n = null;
      let deliveries = 0;
      for (const until = Date.now() + 10_000; !n && Date.now() < until; ) {
        if (deliveries < 3 && Date.now() >= until - 10_000 + deliveries * 3_000) {
          deliveries += 1;
          await push();
        }
        n = await shown();
        if (!n) await new Promise((ok) => setTimeout(ok, 100));
      }
      if (deliveries > 1) console.log(`e2e: the notification showed after ${deliveries} deliveries of the push`);
      if (!n) throw new Error('no notification within 10 s of the push');
      if (n.title !== 'Claude Code · proj' || n.url !== sessionUrl || n.tag !== session || n.renotify !== true) {
        throw new Error(`unexpected notification: ${JSON.stringify(n)}`);
      }
      console.log(`e2e: a pushed message showed a notification for ${n.url}`);

      // Its click leads the open page to the session. Chromium has no protocol command to click a
      // notification, so the service worker gets a synthetic notificationclick (its waitUntil
      // throws for an untrusted event, but the handler's work is already under way by then).
      await page.goto(`http://${server.app}/live`);
      await page.evaluate(async () => { await navigator.serviceWorker.ready; });
      const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
      const clicked = await worker.evaluate(async () => {
        const [note] = await self.registration.getNotifications();
        if (!note) return 'no notification';
        self.dispatchEvent(new NotificationEvent('notificationclick', { notification: note }));
        return 'dispatched';
      });
      if (clicked !== 'dispatched') throw new Error(`notification click: ${clicked}`);
      await page.waitForURL(`http://${server.app}${sessionUrl}`, { timeout: 5_000 });
      await page.getByText('Timeline').waitFor({ timeout: 10_000 });
      console.log('e2e: a click on the notification opened the session in the open page');

      // A prompt's notification: only the answers the push lists are offered, and Deny answers
      // from the service worker (with this browser's device cookie, so it is paired first),
      // replacing the notification quietly, without opening a window.
      await pairPage(page, server, token);
      const asking = randomUUID();
      const key = promptKey();
      await askPermission(server, asking, key, 'rm -rf build');
      const taken = hookAnswer(server, key);
      const askingId = `claude_code:${asking}`;
      for (const until = Date.now() + 5_000; ; ) {
        const r = await withToken(server, token, 'GET', `/api/prompts?session=${encodeURIComponent(askingId)}`);
        if (r.body?.prompts?.some((x) => x.id === key)) break;
        if (Date.now() > until) throw new Error(`no prompt ${key}: ${JSON.stringify(r.body)}`);
        await new Promise((ok) => setTimeout(ok, 100));
      }
      const note = () =>
        page.evaluate(async (tag) => {
          const reg = await navigator.serviceWorker.ready;
          const n = (await reg.getNotifications({ tag }))[0];
          return n ? { body: n.body, tag: n.tag, silent: n.silent, actions: n.actions.map((a) => a.action), prompt: n.data?.prompt_id } : null;
        }, askingId);
      let asked = null;
      for (let tries = 0; !asked && tries < 3; tries++) {
        await cdp.send('ServiceWorker.deliverPushMessage', {
          origin: `http://${server.app}`,
          registrationId,
          data: JSON.stringify({
            title: 'Claude Code · tmp', body: 'wants to run Bash: rm -rf build', session_id: askingId,
            url: `/sessions/${encodeURIComponent(askingId)}`, kind: 'needs_you', alert_id: 2,
            time_unix_nano: Date.now() * 1e6, prompt_id: key, actions: ['deny', 'always-allow'],
          }),
        });
        for (const until = Date.now() + 3_000; !asked && Date.now() < until; ) {
          asked = await note();
          if (!asked) await new Promise((ok) => setTimeout(ok, 100));
        }
      }
      if (!asked || asked.actions.join() !== 'deny' || asked.prompt !== key) {
        throw new Error(`the prompt's notification: ${JSON.stringify(asked)}`);
      }
      const pagesBefore = context.pages().length;
      const answered = await worker.evaluate(async ({ tag }) => {
        const [n] = await self.registration.getNotifications({ tag });
        if (!n) return 'no notification';
        self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n, action: 'deny' }));
        return 'dispatched';
      }, { tag: askingId });
      if (answered !== 'dispatched') throw new Error(`notification action: ${answered}`);
      const hookGot = await taken;
      if (hookGot.status !== 200 || hookGot.body?.decision !== 'deny') throw new Error(`the waiting hook got ${JSON.stringify(hookGot)}`);
      let replaced = null;
      for (const until = Date.now() + 5_000; Date.now() < until; ) {
        replaced = await note();
        if (replaced?.body === 'Denied') break;
        await new Promise((ok) => setTimeout(ok, 100));
      }
      if (replaced?.body !== 'Denied' || replaced.silent !== true || replaced.actions.length) {
        throw new Error(`the notification after Deny: ${JSON.stringify(replaced)}`);
      }
      if (context.pages().length !== pagesBefore) throw new Error('Deny on the notification opened a window');
      console.log('e2e: Deny on a prompt\'s notification reached the waiting hook; the notification now says "Denied", silently');
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }

  // A server restart: the page reconnects from its last seq and loses nothing posted meanwhile.
  {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`http://${server.app}/live`);
    await page.getByText('Permission requested').first().waitFor({ timeout: 10_000 });
    const ports = { http: server.http, app: server.app };
    await stopServer(server);
    server = await startServer(dataDir, ports);
    await hook(server, '0009-claude-Stop.json');
    await page.getByText('Turn finished').first().waitFor({ timeout: 20_000 });
    console.log('e2e: reconnected after a server restart and got the event posted meanwhile');
    await page.close();
  }

  // Offline: a reload without network shows the shell from the service worker, with the last
  // known sessions and an offline notice.
  {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(`http://${server.app}/`);
    await page.evaluate(async () => { await navigator.serviceWorker.ready; });
    await page.reload();
    await page.getByRole('link', { name: /proj.*Claude Code/ }).first().waitFor({ timeout: 10_000 });
    await context.setOffline(true);
    await page.reload();
    await page.getByRole('link', { name: /proj.*Claude Code/ }).first().waitFor({ timeout: 10_000 });
    await page.getByText(/offline|cannot reach/i).first().waitFor({ timeout: 10_000 });
    // The connection badge says so too, not "Connecting" (Chromium's offline emulation may leave
    // navigator.onLine true: it is the failed fetches that tell).
    await page.locator('.conn').getByText('Offline', { exact: true }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, 'offline-phone.png') });
    console.log('e2e: offline reload shows the shell, the last known sessions and an "Offline" badge');
    await context.close();
  }
  // A server that shows sessions to paired browsers only: the pairing screen, a pairing link,
  // and a revocation that closes the live feed with 4401.
  {
    const config = join(pairedOnlyDir, 'config.toml');
    writeFileSync(config, '[access]\nlocal_reads = "paired"\n');
    mkdirSync(join(pairedOnlyDir, 'data'));
    pairedOnly = await startServer(join(pairedOnlyDir, 'data'), undefined, ['--config', config]);
    const pairedToken = await controlToken(join(pairedOnlyDir, 'data'));
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    let sockets = 0;
    page.on('websocket', () => (sockets += 1));

    await page.goto(`http://${pairedOnly.app}/`);
    await page.getByRole('heading', { name: 'Scan the pairing code from your laptop' }).waitFor({ timeout: 10_000 });
    await page.getByRole('textbox', { name: 'Pairing code' }).waitFor({ timeout: 5_000 });
    await page.waitForTimeout(1_000);
    if (sockets !== 0) throw new Error(`the unpaired page opened ${sockets} live feed socket(s)`);
    await page.screenshot({ path: join(shots, 'pair.png') });
    const violations = await axe(page);

    for (const f of ['0001-claude-SessionStart.json', '0002-claude-UserPromptSubmit.json', '0004-claude-PreToolUse.json']) {
      await hook(pairedOnly, f);
    }
    const device = await pairPage(page, pairedOnly, pairedToken);
    await page.getByRole('link', { name: /proj.*Claude Code/ }).first().waitFor({ timeout: 10_000 });
    await page.locator('.conn').getByText('Live', { exact: true }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, 'paired.png') });
    violations.push(...(await axe(page)));
    console.log(`e2e: paired as "${device.name}" through the pairing link; the sessions list shows`);

    // Revoked (with the token, as from another dashboard): the page's feed closes with 4401 and
    // the page goes back to the pairing screen, without a reload and without reconnecting.
    const revoked = await withToken(pairedOnly, pairedToken, 'DELETE', `/api/devices/${encodeURIComponent(device.id)}`);
    if (revoked.status !== 204) throw new Error(`DELETE /api/devices/${device.id}: ${revoked.status}`);
    await page.getByRole('heading', { name: 'Scan the pairing code from your laptop' }).waitFor({ timeout: 10_000 });
    const before = sockets;
    await page.waitForTimeout(3_000);
    if (sockets !== before) throw new Error(`the revoked page opened ${sockets - before} more socket(s)`);
    if (await page.getByRole('link', { name: /proj.*Claude Code/ }).count()) throw new Error('the revoked page still shows sessions');
    console.log('e2e: a revoked page went back to the pairing screen and stopped its live feed');

    if (violations.length) throw new Error(`axe-core on the pairing screens:\n  ${violations.join('\n  ')}`);
    if (errors.length) throw new Error(`page errors while pairing: ${errors.join('; ')}`);
    await context.close();
  }
  console.log(`e2e: ok; screenshots in ${shots}`);
} catch (e) {
  failed = true;
  console.error(`e2e: FAILED: ${e.stack ?? e}`);
} finally {
  await browser.close();
  server.child.kill('SIGTERM');
  pairedOnly?.child.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(pairedOnlyDir, { recursive: true, force: true });
}
clearTimeout(watchdog);
process.exit(failed ? 1 : 0);
