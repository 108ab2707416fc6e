import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AccessStore,
  accessStore,
  followAccess,
  OPEN_ACCESS,
  pairFromLink,
  pairingCodeFromHash,
  readAccess,
  shouldRead,
  writeBlocked,
  type AccessDeps,
  type AccessState,
} from './access';
import { ApiError, fetchSessions, pair } from './api';
import type { Access } from './types';

const access = (over: Partial<Access> = {}, can: Partial<Access['can']> = {}): Access => ({
  local: false,
  credential: 'none',
  device: null,
  can: { read: false, write: false, control: false, answer: 'off', ...can },
  local_reads: 'open',
  public_url: null,
  ...over,
});
const paired = access({ credential: 'device', device: { id: 'dev_1', name: 'Android · Chrome' } }, { read: true, write: true });
const unpaired = access();

/** A storage that is a plain map. */
function memory(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), map: m };
}

/** A store over fake deps: `answers` are what `/api/access` says, in turn (an Error is thrown). */
function harness(answers: (Access | Error)[], opts: { pair?: (code: string, name?: string) => Promise<unknown>; storage?: ReturnType<typeof memory> } = {}) {
  const storage = opts.storage ?? memory();
  let reads = 0;
  const paired: { code: string; name?: string }[] = [];
  const deps: AccessDeps = {
    fetchAccess: () => {
      const a = answers[Math.min(reads++, answers.length - 1)]!;
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
    pair: (code, name) => {
      paired.push(name === undefined ? { code } : { code, name });
      return opts.pair ? opts.pair(code, name) : Promise.resolve({});
    },
    storage,
  };
  return {
    store: new AccessStore(deps),
    storage,
    paired,
    get reads() {
      return reads;
    },
  };
}

describe('readAccess', () => {
  it('takes the contract shape and fills what an older server leaves out', () => {
    expect(readAccess(paired)).toEqual(paired);
    expect(readAccess({ can: { read: true } })).toEqual({
      local: false,
      credential: 'none',
      device: null,
      can: { read: true, write: false, control: false, answer: 'off' },
      local_reads: 'open',
      public_url: null,
    });
  });

  it('refuses what does not say whether this browser may read', () => {
    for (const bad of [null, 'yes', [], {}, { can: null }, { can: { read: 'true' } }]) expect(readAccess(bad)).toBeNull();
  });
});

describe('shouldRead', () => {
  const state = (a: Access | null, status: AccessState['status']): AccessState => ({
    access: a,
    status,
    pairing: { busy: false, error: null, code: '' },
  });

  it("follows the server's answer, fresh or last known", () => {
    expect(shouldRead(state(paired, 'ready'))).toBe(true);
    expect(shouldRead(state(unpaired, 'ready'))).toBe(false);
    expect(shouldRead(state(unpaired, 'loading'))).toBe(false);
    expect(shouldRead(state(unpaired, 'error'))).toBe(false);
  });

  it('waits on a first visit, and reads when the server could not be asked', () => {
    expect(shouldRead(state(null, 'loading'))).toBeNull();
    expect(shouldRead(state(null, 'error'))).toBe(true);
  });
});

describe('AccessStore', () => {
  it('starts from the last known answer and keeps each new one', async () => {
    const storage = memory({ 'observatory.access.v1': JSON.stringify(unpaired) });
    const h = harness([paired], { storage });
    expect(h.store.getState()).toMatchObject({ access: unpaired, status: 'loading' });
    await h.store.refresh();
    expect(h.store.getState()).toMatchObject({ access: paired, status: 'ready' });
    expect(JSON.parse(storage.map.get('observatory.access.v1')!)).toEqual(paired);
    // The next start begins from it.
    expect(harness([], { storage }).store.getState().access).toEqual(paired);
  });

  it('keeps the last known answer when the server cannot be reached', async () => {
    const h = harness([unpaired, new TypeError('Failed to fetch')]);
    await h.store.refresh();
    await h.store.refresh();
    expect(h.store.getState()).toMatchObject({ access: unpaired, status: 'error' });
  });

  it('asks once more after a 401, which refused (and cleared) a revoked device\'s cookie', async () => {
    const stale = new ApiError(401, 'an unknown or revoked device credential', { pairingRequired: true });
    const h = harness([stale, access({ local: true }, { read: true })]);
    await h.store.refresh();
    expect(h.reads).toBe(2);
    expect(h.store.getState()).toMatchObject({ status: 'ready', access: { local: true, can: { read: true } } });
    const twice = harness([stale, stale]);
    await twice.store.refresh();
    expect(twice.reads).toBe(2);
    expect(twice.store.getState().status).toBe('error');
  });

  it('takes a server without /api/access for one without access control', async () => {
    const h = harness([new ApiError(404, 'no route')]);
    await h.store.refresh();
    expect(h.store.getState()).toMatchObject({ access: OPEN_ACCESS, status: 'ready' });
  });

  it('shares a read on its way, and reads once more for reasons that came meanwhile', async () => {
    const h = harness([unpaired, paired]);
    const a = h.store.refresh();
    const b = h.store.refresh();
    const c = h.store.refresh();
    expect(a).toBe(b);
    await Promise.all([a, b, c]);
    expect(h.reads).toBe(2);
    expect(h.store.getState().access).toEqual(paired);
    await h.store.refresh();
    expect(h.reads).toBe(3);
  });

  it('pairs with the code as typed and no name, then reads what it may do', async () => {
    const h = harness([unpaired, paired]);
    await h.store.refresh();
    expect(await h.store.pair('  k7q2-m9xd-4f ')).toBe(true);
    expect(h.paired).toEqual([{ code: 'k7q2-m9xd-4f' }]);
    expect(h.store.getState()).toMatchObject({ access: paired, status: 'ready', pairing: { busy: false, error: null } });
  });

  it('is not taken for unpaired any more once paired, even if the next read fails', async () => {
    const h = harness([unpaired, new TypeError('Failed to fetch')]);
    await h.store.refresh();
    expect(shouldRead(h.store.getState())).toBe(false);
    expect(await h.store.pair('K7Q2M9XD4F')).toBe(true);
    expect(h.store.getState().status).toBe('error');
    expect(shouldRead(h.store.getState())).toBe(true);
  });

  it("shows the server's reason for a refused code, and keeps the code to correct", async () => {
    const h = harness([unpaired], { pair: () => Promise.reject(new ApiError(401, 'that pairing code is unknown, used or expired')) });
    await h.store.refresh();
    expect(await h.store.pair('K7Q2M9XD4F')).toBe(false);
    expect(h.store.getState().pairing).toEqual({
      busy: false,
      error: 'Not paired: that pairing code is unknown, used or expired.',
      code: 'K7Q2M9XD4F',
    });
    expect(h.store.getState().access).toEqual(unpaired);
  });

  it('says when to try again after too many tries, and when the server is not there', async () => {
    const limited = harness([unpaired], { pair: () => Promise.reject(new ApiError(429, 'too many pairing attempts', { retryAfter: 30 })) });
    await limited.store.pair('K7Q2M9XD4F');
    expect(limited.store.getState().pairing.error).toBe('Not paired: too many pairing attempts. Try again in 30 s.');
    const down = harness([unpaired], { pair: () => Promise.reject(new TypeError('Failed to fetch')) });
    await down.store.pair('K7Q2M9XD4F');
    expect(down.store.getState().pairing.error).toBe('Could not reach the observatory: Failed to fetch');
  });

  it('sends nothing for a code without letters or digits', async () => {
    const h = harness([unpaired]);
    expect(await h.store.pair(' - ')).toBe(false);
    expect(h.paired).toEqual([]);
    expect(h.store.getState().pairing.error).toMatch(/Type the code/);
  });
});

describe('pairing links', () => {
  it('reads the code from the fragment', () => {
    expect(pairingCodeFromHash('#K7Q2M9XD4F')).toBe('K7Q2M9XD4F');
    expect(pairingCodeFromHash('#K7Q2-M9XD-4F')).toBe('K7Q2-M9XD-4F');
    expect(pairingCodeFromHash('#K7Q2%20M9XD')).toBe('K7Q2 M9XD');
    expect(pairingCodeFromHash('#50%')).toBe('50%');
    expect(pairingCodeFromHash('')).toBeNull();
    expect(pairingCodeFromHash('#')).toBeNull();
    expect(pairingCodeFromHash('#--')).toBeNull();
  });

  it('takes the code out of the address first, pairs once access has answered, then goes home', async () => {
    const h = harness([unpaired, paired]);
    const steps: string[] = [];
    h.store.subscribe(() => {
      if (h.store.getState().status === 'ready' && !steps.includes('access')) steps.push('access');
    });
    h.store.subscribe(() => {
      const p = h.store.getState().pairing;
      if (p.busy && !steps.includes('busy')) steps.push('busy');
    });
    const done = pairFromLink(h.store, '#K7Q2M9XD4F', (to) => steps.push(`replace ${to}`));
    void h.store.refresh();
    expect(await done).toBe(true);
    expect(steps).toEqual(['replace /pair', 'access', 'busy', 'replace /']);
    expect(h.paired).toEqual([{ code: 'K7Q2M9XD4F' }]);
  });

  it('stays on /pair with the reason when the code is refused, and does nothing without a code', async () => {
    const h = harness([unpaired], { pair: () => Promise.reject(new ApiError(401, 'that pairing code is unknown, used or expired')) });
    await h.store.refresh();
    const replaced: string[] = [];
    expect(await pairFromLink(h.store, '#K7Q2M9XD4F', (to) => replaced.push(to))).toBe(false);
    expect(replaced).toEqual(['/pair']);
    expect(h.store.getState().pairing.error).toMatch(/unknown, used or expired/);
    expect(await pairFromLink(h.store, '', (to) => replaced.push(to))).toBe(false);
    expect(replaced).toEqual(['/pair']);
  });
});

describe('followAccess', () => {
  it('waits for the answer even when the last known one allowed reads', async () => {
    const storage = memory({ 'observatory.access.v1': JSON.stringify(paired) });
    const h = harness([unpaired], { storage });
    const calls: string[] = [];
    followAccess(h.store, { open: () => calls.push('open'), close: () => calls.push('close') });
    expect(calls).toEqual([]);
    await h.store.refresh();
    expect(calls).toEqual(['close']);
  });

  it('closes at once when the last known answer refused reads, and reads when the server is unreachable', async () => {
    const storage = memory({ 'observatory.access.v1': JSON.stringify(unpaired) });
    const h = harness([new TypeError('Failed to fetch')], { storage });
    const calls: string[] = [];
    followAccess(h.store, { open: () => calls.push('open'), close: () => calls.push('close') });
    expect(calls).toEqual(['close']);
    const fresh = harness([new TypeError('Failed to fetch')]);
    const freshCalls: string[] = [];
    followAccess(fresh.store, { open: () => freshCalls.push('open'), close: () => freshCalls.push('close') });
    await fresh.store.refresh();
    expect(freshCalls).toEqual(['open']);
  });

  it('opens reads when allowed, closes them when not, and opens again after each answer', async () => {
    const h = harness([paired, paired, unpaired, paired]);
    const calls: string[] = [];
    followAccess(h.store, { open: () => calls.push('open'), close: () => calls.push('close') });
    // A first visit waits for the answer.
    expect(calls).toEqual([]);
    await h.store.refresh();
    // A revoked stream stopped itself; a browser still readable (local) is opened again.
    await h.store.refresh();
    await h.store.refresh();
    await h.store.refresh();
    expect(calls).toEqual(['open', 'open', 'close', 'open']);
  });
});

describe('writeBlocked', () => {
  it('says why changes are refused, and nothing when they are not', () => {
    expect(writeBlocked(null)).toBeNull();
    expect(writeBlocked(paired)).toBeNull();
    expect(writeBlocked(access({ local: true }, { read: true }))).toMatch(/observatory pair/);
    expect(writeBlocked(access({ device: { id: 'dev_1', name: 'x' } }, { read: true }))).toMatch(/reading only/);
  });
});

describe('401 pairing_required from the API', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('makes the app ask who it is again, except for a refused pairing code', async () => {
    const urls: string[] = [];
    vi.stubGlobal(
      'fetch',
      vi.fn((url: string) => {
        urls.push(url);
        if (url === '/api/access') return Promise.resolve(new Response(JSON.stringify(unpaired), { status: 200 }));
        const body = JSON.stringify({ error: 'pair this browser', pairing_required: true });
        return Promise.resolve(new Response(body, { status: 401 }));
      }),
    );
    const err = await pair('K7Q2M9XD4F').catch((e: unknown) => e);
    expect((err as ApiError).pairingRequired).toBe(true);
    await fetchSessions().catch((e: unknown) => e);
    await vi.waitFor(() => expect(accessStore.getState().status).toBe('ready'));
    expect(urls).toEqual(['/api/pair', '/api/sessions', '/api/access']);
    expect(accessStore.getState().access).toEqual(unpaired);
  });
});
