//! Who this browser is to the server: `GET /api/access`, read at start-up, kept across reloads (so
//! an offline start knows whether to show the dashboard or the pairing screen) and read again
//! whenever the server says otherwise — a 401 with `pairing_required` from any API call (told by
//! `api.ts`), or the live feed closed with 4401 (a revoked device; wired in `main.tsx`). It also
//! pairs this browser (`POST /api/pair`), from a typed code or from a `/pair#<code>` link.
//! `followAccess` opens and closes the dashboard's reads to match; screens read the state
//! through `useAccess` in `hooks.ts`.

import { ApiError, fetchAccess, onPairingRequired, pair as pairRequest } from './api';
import type { Access } from './types';

const STORAGE_KEY = 'observatory.access.v1';

export interface Pairing {
  busy: boolean;
  /** Why the last try failed, in the server's words when it gave some. */
  error: string | null;
  /** The code last tried, shown again in the field after a failure. */
  code: string;
}

export interface AccessState {
  /** The server's answer; while `status` is not `ready`, the last one known (or null). */
  access: Access | null;
  /** `error`: the last read failed (offline, server down); `access` is the last known. */
  status: 'loading' | 'ready' | 'error';
  pairing: Pairing;
}

/** What a server older than access control (no `/api/access`) lets anyone do: everything. */
export const OPEN_ACCESS: Access = {
  local: true,
  credential: 'none',
  device: null,
  can: { read: true, write: true, control: false, answer: 'off' },
  local_reads: 'open',
  public_url: null,
};

/** The server's answer with its shape checked; null when it is not one (then it is not trusted). */
export function readAccess(raw: unknown): Access | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const a = raw as Record<string, unknown>;
  const can = a.can as Record<string, unknown> | null | undefined;
  if (typeof can !== 'object' || can === null || typeof can.read !== 'boolean') return null;
  const d = a.device as Record<string, unknown> | null | undefined;
  const device = d && typeof d.id === 'string' ? { id: d.id, name: typeof d.name === 'string' ? d.name : d.id } : null;
  return {
    local: a.local === true,
    credential: typeof a.credential === 'string' ? a.credential : 'none',
    device,
    can: {
      read: can.read,
      write: can.write === true,
      control: can.control === true,
      answer: typeof can.answer === 'string' ? can.answer : 'off',
    },
    local_reads: typeof a.local_reads === 'string' ? a.local_reads : 'open',
    public_url: typeof a.public_url === 'string' ? a.public_url : null,
  };
}

/**
 * Whether the dashboard may read: what the server last said, kept across reloads. Null while a
 * first visit waits for its first answer; true when it could not be asked and never answered
 * (offline, server down): the app then shows what it has and its own offline notices.
 */
export function shouldRead(s: AccessState): boolean | null {
  if (s.access) return s.access.can.read;
  return s.status === 'loading' ? null : true;
}

/** Why changes are refused to this browser (null when they are not), for disabled controls. */
export function writeBlocked(access: Access | null): string | null {
  if (!access || access.can.write) return null;
  if (access.device) return 'This browser is paired for reading only.';
  return 'Pair this browser to change settings: open the link `observatory pair` prints.';
}

/** The code in a pairing link's fragment (`#K7Q2M9XD4F`); null when there is none. */
export function pairingCodeFromHash(hash: string): string | null {
  let raw = hash.replace(/^#/, '');
  try {
    raw = decodeURIComponent(raw);
  } catch {
    // a stray % in a hand-typed link: use it as it is
  }
  raw = raw.trim();
  return /[A-Za-z0-9]/.test(raw) ? raw : null;
}

/** Where the last known answer is kept; `localStorage` in the browser. */
export type AccessStorage = Pick<Storage, 'getItem' | 'setItem'>;

export interface AccessDeps {
  fetchAccess(): Promise<Access>;
  pair(code: string, name?: string): Promise<unknown>;
  storage: AccessStorage | null;
}

const NO_PAIRING: Pairing = { busy: false, error: null, code: '' };

/** Why pairing failed, for the screen: the server's reason (it writes lower-case phrases). */
function message(e: unknown): string {
  if (e instanceof ApiError) {
    const wait = e.status === 429 && e.retryAfter !== null ? ` Try again in ${Math.ceil(e.retryAfter)} s.` : '';
    return `Not paired: ${e.message.replace(/\.$/, '')}.${wait}`;
  }
  return `Could not reach the observatory: ${e instanceof Error ? e.message : String(e)}`;
}

export class AccessStore {
  private state: AccessState;
  private readonly listeners = new Set<() => void>();
  private readonly deps: AccessDeps;
  private inflight: Promise<void> | null = null;
  /** Asked again while a read was on its way: that read may predate the reason. */
  private again = false;

  constructor(deps: AccessDeps) {
    this.deps = deps;
    this.state = { access: restore(deps.storage), status: 'loading', pairing: NO_PAIRING };
  }

  getState = (): AccessState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private set(patch: Partial<AccessState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of [...this.listeners]) fn();
  }

  /** The state once the first read has answered or failed. */
  settled(): Promise<AccessState> {
    if (this.state.status !== 'loading') return Promise.resolve(this.state);
    return new Promise((resolve) => {
      const off = this.subscribe(() => {
        if (this.state.status === 'loading') return;
        off();
        resolve(this.state);
      });
    });
  }

  /** Reads `/api/access`. Calls while one read is on its way share it, plus one more read after it. */
  refresh(): Promise<void> {
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    this.inflight = (async () => {
      do {
        this.again = false;
        await this.read();
      } while (this.again);
    })().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async read(): Promise<void> {
    let access: Access | null;
    try {
      access = readAccess(await this.fetchAccess());
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        access = OPEN_ACCESS;
      } else {
        this.set({ status: 'error' });
        return;
      }
    }
    if (!access) {
      this.set({ status: 'error' });
      return;
    }
    try {
      this.deps.storage?.setItem(STORAGE_KEY, JSON.stringify(access));
    } catch {
      // storage full or disabled: the cache is a convenience only
    }
    this.set({ access, status: 'ready' });
  }

  /** `/api/access`, asked again once after a 401: that refused a stale credential and cleared it. */
  private async fetchAccess(): Promise<Access> {
    try {
      return await this.deps.fetchAccess();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return this.deps.fetchAccess();
      throw e;
    }
  }

  /**
   * Pairs this browser with a one-time code (`name` unset: the server names it from the
   * User-Agent), then reads what it may do now. True when paired.
   */
  async pair(code: string, name?: string): Promise<boolean> {
    if (this.state.pairing.busy) return false;
    const clean = code.trim();
    if (!/[A-Za-z0-9]/.test(clean)) {
      this.set({
        pairing: { busy: false, code: clean, error: 'Type the code shown under the QR code: letters and digits, like K7Q2-M9XD-4F.' },
      });
      return false;
    }
    this.set({ pairing: { busy: true, error: null, code: clean } });
    try {
      await this.deps.pair(clean, name);
    } catch (e) {
      this.set({ pairing: { busy: false, error: message(e), code: clean } });
      return false;
    }
    // What was known is out of date: until the server answers, this browser is not taken for
    // unpaired (a failed read then leaves it free to try, rather than on the pairing screen).
    this.set({ access: null, status: 'loading' });
    await this.refresh();
    this.set({ pairing: NO_PAIRING });
    return true;
  }
}

/**
 * Keeps the dashboard's reads in step with access: `close` whenever it may not read, `open` once
 * the server has answered (or could not be asked) that it may. Reads wait for that answer even
 * when the last known one allowed them: a revoked device's stale cookie would make each of them
 * a refused credential, and the server blocks a client after a few. Both are called on every
 * change and must be idempotent (a stream closed by a revocation is opened again when the browser
 * turns out to still be readable, as a local one with open local reads is). Returns the
 * unsubscribe function.
 */
export function followAccess(access: AccessStore, reader: { open(): void; close(): void }): () => void {
  const apply = () => {
    const state = access.getState();
    const read = shouldRead(state);
    if (read === false) reader.close();
    else if (read === true && state.status !== 'loading') reader.open();
  };
  apply();
  return access.subscribe(apply);
}

/**
 * A pairing link (`/pair#<code>`): the code leaves the address bar and this history entry first,
 * then is sent — once the first `/api/access` read has answered, which clears a revoked
 * device's stale cookie (the server refuses a pairing that carries one). Once paired the app goes
 * to `/`. On failure it stays on `/pair`, where the pairing screen shows the server's reason.
 * `replace` replaces the current history entry.
 */
export async function pairFromLink(access: AccessStore, hash: string, replace: (to: string) => void): Promise<boolean> {
  const code = pairingCodeFromHash(hash);
  if (code === null) return false;
  replace('/pair');
  await access.settled();
  const ok = await access.pair(code);
  if (ok) replace('/');
  return ok;
}

function restore(storage: AccessStorage | null): Access | null {
  try {
    const raw = storage?.getItem(STORAGE_KEY);
    return raw ? readAccess(JSON.parse(raw)) : null;
  } catch {
    return null;
  }
}

/** Whether a `storage` event is another tab's new answer (paired or revoked there). */
export function isAccessKey(key: string | null): boolean {
  return key === STORAGE_KEY;
}

function browserStorage(): AccessStorage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export const accessStore = new AccessStore({ fetchAccess: () => fetchAccess(), pair: pairRequest, storage: browserStorage() });

onPairingRequired(() => void accessStore.refresh());
