//! The paired devices (`/api/devices`): the list Settings shows, renaming and revoking one, and
//! this browser's own device among them (the one the server marks `current`, or the one
//! `/api/access` names). `push.ts` changes this browser's device through `upsert`. The list is
//! read again when the audit log says a device changed (another tab or phone paired, renamed,
//! revoked, or turned push on or off). React reads it through `useDevices` in `hooks.ts`.

import { accessStore } from './access';
import { ApiError, listDevices, revokeDevice, updateDevice, type DevicePatch } from './api';
import type { AuditEntry, Device } from './types';

export interface DevicesState {
  /** Null until loaded. */
  devices: Device[] | null;
  loading: boolean;
  error: string | null;
  /** The id of the device being renamed or revoked. */
  busy: string | null;
}

export interface DeviceDeps {
  list(): Promise<Device[]>;
  update(id: string, patch: DevicePatch): Promise<Device>;
  revoke(id: string): Promise<void>;
  /** This browser's device id as `/api/access` says it; null when it is not paired. */
  currentId(): string | null;
  /** This browser's own device was revoked from here: it is unpaired now. */
  revokedSelf(): void;
}

/** Audit actions that change a device in the list. */
const DEVICE_ACTIONS = new Set(['pair', 'revoke', 'rename', 'push_on', 'push_off']);

/** This browser's device first, then the others, oldest paired first. */
export function sortDevices(list: readonly Device[]): Device[] {
  return [...list].sort((a, b) => Number(b.current) - Number(a.current) || a.created_unix_nano - b.created_unix_nano);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class DeviceStore {
  private state: DevicesState = { devices: null, loading: false, error: null, busy: null };
  private readonly listeners = new Set<() => void>();
  private readonly deps: DeviceDeps;
  private loading: Promise<void> | null = null;

  constructor(deps: DeviceDeps) {
    this.deps = deps;
  }

  getState = (): DevicesState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private set(patch: Partial<DevicesState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of [...this.listeners]) fn();
  }

  /** This browser's device, when it is paired and the list is loaded. */
  current(): Device | null {
    const id = this.deps.currentId();
    return this.state.devices?.find((d) => d.current || d.id === id) ?? null;
  }

  /** Reads the list; calls while one read is on its way share it. */
  load(): Promise<void> {
    this.loading ??= (async () => {
      this.set({ loading: true });
      try {
        this.set({ devices: sortDevices(await this.deps.list()), loading: false, error: null });
      } catch (e) {
        this.set({ loading: false, error: message(e) });
      }
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /** A device as the server returned it (after a change made elsewhere, e.g. push settings). */
  upsert(d: Device): void {
    const rest = (this.state.devices ?? []).filter((x) => x.id !== d.id);
    this.set({ devices: sortDevices([...rest, d]) });
  }

  /** True when renamed. */
  async rename(id: string, name: string): Promise<boolean> {
    const clean = name.trim();
    if (!clean) {
      this.set({ error: 'A device needs a name.' });
      return false;
    }
    this.set({ busy: id, error: null });
    try {
      this.upsert(await this.deps.update(id, { name: clean }));
      return true;
    } catch (e) {
      this.set({ error: message(e) });
      return false;
    } finally {
      this.set({ busy: null });
    }
  }

  /** Revokes a device (gone already is fine); revoking this browser's own unpairs it. */
  async revoke(id: string): Promise<void> {
    const self = this.current()?.id === id;
    this.set({ busy: id, error: null });
    try {
      await this.deps.revoke(id);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) {
        this.set({ busy: null, error: message(e) });
        return;
      }
    }
    this.set({ busy: null, devices: (this.state.devices ?? []).filter((d) => d.id !== id) });
    if (self) this.deps.revokedSelf();
  }

  /** A live audit entry: the list is read again when it changed a device and someone looked. */
  auditSeen(e: AuditEntry): void {
    if (this.state.devices !== null && e.outcome === 'ok' && DEVICE_ACTIONS.has(e.action)) void this.load();
  }

  /** This browser may not read any more: nothing is kept. */
  reset(): void {
    if (this.state.devices === null && this.state.error === null) return;
    this.set({ devices: null, error: null, busy: null });
  }
}

/** The app's one `DeviceStore`: this browser is who `/api/access` says it is. */
export const deviceStore = new DeviceStore({
  list: () => listDevices(),
  update: updateDevice,
  revoke: revokeDevice,
  currentId: () => accessStore.getState().access?.device?.id ?? null,
  revokedSelf: () => void accessStore.refresh(),
});
