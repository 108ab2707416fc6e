// Browser test: the real server (the debug binary cargo built, serving pwa/dist from disk) and
// Debian's Chromium driven by playwright-core, at a phone viewport. A recorded Claude Code
// session is posted through the hook endpoint while the page is open: it must appear, then move
// to "Needs you" live when its PermissionRequest arrives. Screenshots go to
// target/pwa-screenshots/. Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.OBSERVATORY_BIN ?? join(root, 'target/debug/observatory');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = join(root, 'target/pwa-screenshots');
const hooks = join(root, 'server/tests/fixtures/claude-code-2.1.328/denied/hooks');

function startServer(dataDir) {
  const child = spawn(
    bin,
    ['serve', '--data-dir', dataDir, '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0',
      '--app-addr', '127.0.0.1:0', '--log-format', 'json'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
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

const dataDir = mkdtempSync(join(tmpdir(), 'observatory-e2e-'));
mkdirSync(shots, { recursive: true });
const server = await startServer(dataDir);
const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox'] });
let failed = false;
try {
  for (const [name, viewport] of [['phone', { width: 390, height: 844 }], ['desktop', { width: 1280, height: 800 }]]) {
    const page = await browser.newPage({ viewport });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://${server.app}/`);
    await page.getByText('Live', { exact: true }).first().waitFor({ timeout: 10_000 });
    if (name === 'phone') {
      for (const f of ['0001-claude-SessionStart.json', '0002-claude-UserPromptSubmit.json', '0004-claude-PreToolUse.json']) {
        await hook(server, f);
      }
    }
    const card = page.getByRole('link', { name: /Claude Code in proj/ });
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
    await card.first().click();
    await page.getByText('Timeline').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, `session-${name}.png`), fullPage: true });
    await page.goto(`http://${server.app}/live`);
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(shots, `live-${name}.png`) });
    if (errors.length) throw new Error(`page errors at ${name}: ${errors.join('; ')}`);
    await page.close();
  }
  console.log(`e2e: ok; screenshots in ${shots}`);
} catch (e) {
  failed = true;
  console.error(`e2e: FAILED: ${e.stack ?? e}`);
} finally {
  await browser.close();
  server.child.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
