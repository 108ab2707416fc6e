// Browser test: the real server (the debug binary cargo built, serving pwa/dist from disk) and
// Debian's Chromium driven by playwright-core, at a phone viewport. Each page that changes
// settings is paired first, through a `/pair#<code>` link whose code the control token
// (`<data dir>/control-token`) got. A recorded Claude Code session is posted through the hook
// endpoint while the page is open: it must appear, then move to "Needs you" live when its
// PermissionRequest arrives; its page has a Control section whose actions are disabled with the
// server's reason (the recorded session has no live process). Then: axe-core finds no serious
// accessibility violations on any screen; Chromium reports no installability errors; a push
// delivered to the service worker through the DevTools protocol shows a notification for the
// session, and a click on it opens the session in the open page; the app survives a server
// restart without losing an event; with the network gone a reload still shows the shell (from
// the service worker) with the last known sessions and says "Offline". Last, a second server that
// shows sessions to paired browsers only (`local_reads = "paired"`): a fresh page shows the
// pairing screen and opens no live feed; through a pairing link it ends on the sessions list;
// revoked with the token, it goes back to the pairing screen without reconnecting.
// Screenshots go to target/pwa-screenshots/. Exits non-zero on any failure.
import { spawn } from 'node:child_process';
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

// Whatever happens, this test ends: a hang fails it after two and a half minutes.
const watchdog = setTimeout(() => {
  console.error('e2e: FAILED: still running after 150 s');
  server?.child.kill('SIGKILL');
  pairedOnly?.child.kill('SIGKILL');
  process.exit(1);
}, 150_000);

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
    await pairPage(page, server, token);
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
