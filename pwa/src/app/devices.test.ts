import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { DeviceStore, sortDevices, type DeviceDeps } from './devices';
import type { AuditEntry, Device } from './types';

const device = (id: string, over: Partial<Device> = {}): Device => ({
  id,
  name: id,
  created_unix_nano: Number(id.replace(/\D/g, '')) * 1e9,
  last_seen_unix_nano: 0,
  current: false,
  kinds: [],
  quiet_hours: null,
  push: null,
  ...over,
});

/** A store over a fake server holding `list`; what it was asked is in `asked`. */
function harness(list: Device[], over: Partial<DeviceDeps> = {}) {
  const asked: string[] = [];
  let revokedSelf = 0;
  const store = new DeviceStore({
    list: () => {
      asked.push('list');
      return Promise.resolve(list);
    },
    update: (id, patch) => {
      asked.push(`update ${id} ${JSON.stringify(patch)}`);
      return Promise.resolve({ ...list.find((d) => d.id === id)!, ...patch });
    },
    revoke: (id) => {
      asked.push(`revoke ${id}`);
      return Promise.resolve();
    },
    currentId: () => null,
    revokedSelf: () => revokedSelf++,
    ...over,
  });
  return {
    store,
    asked,
    get revokedSelf() {
      return revokedSelf;
    },
  };
}

const audit = (action: string, outcome = 'ok'): AuditEntry => ({
  id: 1, time_unix_nano: 1, actor: 'device', peer: '127.0.0.1', remote: false, action, outcome, detail: '',
});

describe('DeviceStore', () => {
  it("lists this browser's device first, then the others oldest first", () => {
    const list = sortDevices([device('dev_3'), device('dev_1'), device('dev_2', { current: true })]);
    expect(list.map((d) => d.id)).toEqual(['dev_2', 'dev_1', 'dev_3']);
  });

  it('knows this browser by the current mark, or by the id access gave', async () => {
    const marked = harness([device('dev_1'), device('dev_2', { current: true })]);
    await marked.store.load();
    expect(marked.store.current()?.id).toBe('dev_2');
    const named = harness([device('dev_1'), device('dev_2')], { currentId: () => 'dev_1' });
    await named.store.load();
    expect(named.store.current()?.id).toBe('dev_1');
  });

  it('renames with the name trimmed, and refuses an empty one', async () => {
    const h = harness([device('dev_1')]);
    await h.store.load();
    expect(await h.store.rename('dev_1', '  Pixel 8 ')).toBe(true);
    expect(h.store.getState().devices?.[0]?.name).toBe('Pixel 8');
    expect(await h.store.rename('dev_1', '   ')).toBe(false);
    expect(h.store.getState().error).toMatch(/needs a name/);
    expect(h.asked).toEqual(['list', 'update dev_1 {"name":"Pixel 8"}']);
  });

  it("revokes a device; revoking this browser's own unpairs it", async () => {
    const h = harness([device('dev_1', { current: true }), device('dev_2')]);
    await h.store.load();
    await h.store.revoke('dev_2');
    expect(h.store.getState().devices?.map((d) => d.id)).toEqual(['dev_1']);
    expect(h.revokedSelf).toBe(0);
    await h.store.revoke('dev_1');
    expect(h.store.getState().devices).toEqual([]);
    expect(h.revokedSelf).toBe(1);
  });

  it('takes a device already gone for revoked, but keeps it on a failure', async () => {
    let answer: Error = new ApiError(404, 'no such device');
    const h = harness([device('dev_1'), device('dev_2')], { revoke: () => Promise.reject(answer) });
    await h.store.load();
    await h.store.revoke('dev_1');
    expect(h.store.getState().devices?.map((d) => d.id)).toEqual(['dev_2']);
    answer = new ApiError(500, 'disk full');
    await h.store.revoke('dev_2');
    expect(h.store.getState().devices?.map((d) => d.id)).toEqual(['dev_2']);
    expect(h.store.getState().error).toBe('disk full');
  });

  it('reads the list again when the audit log says a device changed, once someone looked', async () => {
    const h = harness([device('dev_1')]);
    h.store.auditSeen(audit('pair'));
    expect(h.asked).toEqual([]);
    await h.store.load();
    h.store.auditSeen(audit('pairing_code'));
    h.store.auditSeen(audit('pair', 'refused'));
    h.store.auditSeen(audit('push_on'));
    await Promise.resolve();
    expect(h.asked).toEqual(['list', 'list']);
  });
});
