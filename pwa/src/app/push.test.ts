import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, listDevices, revokeDevice, updateDevice } from './api';
import { DeviceStore } from './devices';
import {
  base64UrlToBytes,
  browserPush,
  PushError,
  PushStore,
  pushSupport,
  pushVerdict,
  sendTest,
  subscribe,
  syncQuietHoursOffset,
  unsubscribe,
  type SubscriptionLike,
  type WindowLike,
} from './push';
import type { Device, ServerConfig } from './types';

const UA = {
  androidChrome:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  iphoneSafari:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  iphoneHomeScreen:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  iphoneOld:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.3 Mobile/15E148 Safari/604.1',
  iphoneChrome:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1',
  // An iPad asking for desktop sites, and a Mac, say the same thing.
  macSafari:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  linuxFirefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  windowsEdge:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
};

const KEY = new Uint8Array(65).map((_, i) => (i === 0 ? 4 : i));
// Encoded independently of the code under test: btoa, then the URL-safe alphabet, no padding.
const KEY_TEXT = btoa(String.fromCharCode(...KEY)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const OTHER_KEY = new Uint8Array(65).map((_, i) => (i === 0 ? 4 : 200 - i));

const config = (over: Partial<ServerConfig> = {}): ServerConfig => ({
  version: '0.1.0',
  features: { push: true },
  vapid_public_key: KEY_TEXT,
  push: { enabled: true, reason: null },
  alert_kinds: ['needs_you', 'finished', 'stalled', 'crashed', 'error', 'budget'],
  ...over,
});

class FakeSubscription implements SubscriptionLike {
  readonly endpoint: string;
  readonly options: { applicationServerKey: ArrayBuffer | null };
  unsubscribed = false;
  constructor(endpoint: string, key: Uint8Array | null) {
    this.endpoint = endpoint;
    this.options = { applicationServerKey: key ? (key.slice().buffer as ArrayBuffer) : null };
  }
  toJSON(): PushSubscriptionJSON {
    return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: 'BP256', auth: 'AUTH' } };
  }
  unsubscribe() {
    this.unsubscribed = true;
    return Promise.resolve(true);
  }
}

interface FakeWindowOptions {
  ua?: string;
  secure?: boolean;
  hostname?: string;
  touch?: number;
  standalone?: boolean;
  displayModeStandalone?: boolean;
  serviceWorker?: boolean;
  registered?: boolean;
  pushManager?: boolean;
  notification?: boolean;
  permission?: NotificationPermission;
  /** What the permission prompt answers. */
  answer?: NotificationPermission;
  existing?: FakeSubscription | null;
}

/** A window with the push machinery faked, recording what was called in order. */
function fakeWindow(o: FakeWindowOptions = {}) {
  const calls: string[] = [];
  let permission = o.permission ?? 'default';
  let current: FakeSubscription | null = o.existing ?? null;
  const subscribed: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }[] = [];
  const registration = {
    pushManager: {
      getSubscription: () => {
        calls.push('getSubscription');
        return Promise.resolve(current);
      },
      subscribe: (opts: { userVisibleOnly: boolean; applicationServerKey: Uint8Array }) => {
        calls.push('subscribe');
        subscribed.push(opts);
        current = new FakeSubscription(`https://push.example.com/send/${subscribed.length}`, opts.applicationServerKey);
        return Promise.resolve(current);
      },
    },
  };
  const win: WindowLike = {
    isSecureContext: o.secure ?? true,
    location: { hostname: o.hostname ?? 'localhost' },
    navigator: {
      userAgent: o.ua ?? UA.androidChrome,
      maxTouchPoints: o.touch ?? 0,
      ...(o.standalone !== undefined ? { standalone: o.standalone } : {}),
      ...(o.serviceWorker === false
        ? {}
        : {
            serviceWorker: {
              getRegistration: () => Promise.resolve(o.registered === false ? undefined : registration),
              ready: Promise.resolve(registration),
            },
          }),
    },
    matchMedia: (q: string) => ({ matches: q === '(display-mode: standalone)' && (o.displayModeStandalone ?? false) }),
    ...(o.pushManager === false ? {} : { PushManager: function PushManager() {} }),
    ...(o.notification === false
      ? {}
      : {
          Notification: {
            get permission() {
              return permission;
            },
            requestPermission: () => {
              calls.push('requestPermission');
              permission = o.answer ?? 'granted';
              return Promise.resolve(permission);
            },
          },
        }),
  };
  return { win, browser: browserPush(win), calls, subscribed, current: () => current };
}

const verdict = (o: FakeWindowOptions, c: ServerConfig | null = config()) => pushSupport(fakeWindow(o).browser.env(), c);

describe('pushSupport', () => {
  it('is ready in a secure context with the push APIs and push on at the server', () => {
    const v = verdict({});
    expect(v.code).toBe('ready');
    expect(v.ok).toBe(true);
  });

  it('explains a tunnel when the page is not a secure context', () => {
    const v = verdict({ secure: false, hostname: '192.168.1.20' }, config({ push: { enabled: false, reason: 'no subject' } }));
    expect(v.code).toBe('insecure');
    expect(v.ok).toBe(false);
    expect(v.help).toContain('192.168.1.20');
    expect(v.help).toMatch(/Tailscale Serve/);
    expect(v.help).toMatch(/cloudflared/);
  });

  it('asks iPhone Safari to add the app to the Home Screen (not "no PushManager")', () => {
    const v = verdict({ ua: UA.iphoneSafari, pushManager: false, standalone: false });
    expect(v.code).toBe('ios_not_installed');
    expect(v.help).toMatch(/Add to Home Screen/);
    expect(v.help).toMatch(/16\.4/);
  });

  it('is ready on an iPhone opened from the Home Screen', () => {
    expect(verdict({ ua: UA.iphoneHomeScreen, standalone: true }).code).toBe('ready');
  });

  it('takes display-mode standalone for installed too', () => {
    expect(verdict({ ua: UA.iphoneSafari, displayModeStandalone: true }).code).toBe('ready');
  });

  it('says iOS before 16.4 cannot, even installed', () => {
    const v = verdict({ ua: UA.iphoneOld, standalone: true });
    expect(v.code).toBe('ios_too_old');
    expect(v.title).toContain('16.3');
  });

  it('tells an iPad with a desktop user agent from a Mac by its touch points', () => {
    expect(verdict({ ua: UA.macSafari, touch: 5, standalone: false, pushManager: false }).code).toBe('ios_not_installed');
    expect(verdict({ ua: UA.macSafari, touch: 0 }).code).toBe('ready');
  });

  it('names the missing browser feature', () => {
    expect(verdict({ serviceWorker: false }).code).toBe('no_service_worker');
    expect(verdict({ pushManager: false }).code).toBe('no_push_manager');
    expect(verdict({ notification: false }).code).toBe('no_notification');
  });

  it("passes on the server's reason when push is off there", () => {
    const reason = 'set [push] subject in config.toml to a mailto: or https: URL to turn Web Push on';
    const v = verdict({}, config({ vapid_public_key: null, push: { enabled: false, reason } }));
    expect(v.code).toBe('server_off');
    expect(v.help).toBe(reason);
    expect(verdict({}, null).code).toBe('server_off');
  });

  it('asks an unpaired browser to pair first, after what pairing cannot fix', () => {
    const unpaired = (o: FakeWindowOptions, c: ServerConfig | null = config()) => pushSupport(fakeWindow(o).browser.env(), c, false);
    const v = unpaired({});
    expect(v.code).toBe('unpaired');
    expect(v.ok).toBe(false);
    expect(v.help).toMatch(/observatory pair/);
    expect(v.help).toMatch(/Pair a phone/);
    // Pairing would not help these: they come first.
    expect(unpaired({ secure: false }).code).toBe('insecure');
    expect(unpaired({ ua: UA.iphoneSafari, standalone: false }).code).toBe('ios_not_installed');
    expect(unpaired({}, config({ vapid_public_key: null, push: { enabled: false, reason: 'off' } })).code).toBe('server_off');
    // A blocked permission is worth fixing only once paired.
    expect(unpaired({ permission: 'denied' }).code).toBe('unpaired');
  });

  it('explains how to re-allow a blocked permission for the platform', () => {
    const android = verdict({ permission: 'denied' });
    expect(android.code).toBe('denied');
    expect(android.help).toMatch(/Site settings/);
    expect(verdict({ permission: 'denied', ua: UA.iphoneHomeScreen, standalone: true }).help).toMatch(/Settings app/);
    expect(verdict({ permission: 'denied', ua: UA.linuxFirefox }).help).toMatch(/Blocked/);
  });
});

describe('base64UrlToBytes', () => {
  it('decodes base64url with and without padding', () => {
    expect([...base64UrlToBytes('AQID_-8')]).toEqual([1, 2, 3, 255, 239]);
    expect([...base64UrlToBytes('AQID_-8=')]).toEqual([1, 2, 3, 255, 239]);
    expect([...base64UrlToBytes('')]).toEqual([]);
  });

  it('round-trips a 65-byte P-256 public key', () => {
    const bytes = base64UrlToBytes(KEY_TEXT);
    expect(bytes).toHaveLength(65);
    expect([...bytes]).toEqual([...KEY]);
  });

  it('refuses what is not base64url', () => {
    expect(() => base64UrlToBytes('AQID/+8')).toThrow();
    expect(() => base64UrlToBytes('abcde')).toThrow();
    expect(() => base64UrlToBytes('ab cd')).toThrow();
  });
});

// --- The server, faked at `fetch`.

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

const device = (over: Partial<Device> = {}): Device => ({
  id: 'dev_1',
  name: 'Android · Chrome',
  created_unix_nano: 1_763_800_000_000_000_000,
  last_seen_unix_nano: 1_763_800_100_000_000_000,
  current: true,
  kinds: ['needs_you', 'finished', 'stalled', 'crashed', 'error', 'budget'],
  quiet_hours: null,
  push: { endpoint_origin: 'https://push.example.com', last_delivery: null },
  ...over,
});

let calls: Call[] = [];
let answer: (c: Call) => Response;

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

beforeEach(() => {
  calls = [];
  answer = () => json(500, { error: 'unexpected request' });
  vi.stubGlobal(
    'fetch',
    vi.fn((url: string, init: RequestInit = {}) => {
      const c: Call = {
        method: init.method ?? 'GET',
        url,
        headers: { ...(init.headers as Record<string, string>) },
        body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      };
      calls.push(c);
      return Promise.resolve(answer(c));
    }),
  );
});
afterEach(() => {
  vi.unstubAllGlobals();
});

function expectWriteHeaders(c: Call) {
  expect(c.headers['X-Observatory']).toBe('1');
  expect(c.headers['Content-Type']).toBe('application/json');
}

describe('subscribe', () => {
  it("asks permission first, subscribes with the server key, and gives this browser's device the subscription", async () => {
    const f = fakeWindow();
    answer = () => json(200, device());
    const d = await subscribe(f.browser, config());
    expect(f.calls[0]).toBe('requestPermission');
    expect(f.calls).toContain('subscribe');
    expect(f.subscribed).toHaveLength(1);
    expect(f.subscribed[0]!.userVisibleOnly).toBe(true);
    expect([...f.subscribed[0]!.applicationServerKey]).toEqual([...KEY]);
    expect(calls).toHaveLength(1);
    const put = calls[0]!;
    expect(put.method).toBe('PUT');
    expect(put.url).toBe('/api/devices/current/push');
    expectWriteHeaders(put);
    // No name: the device was named when it paired.
    expect(put.body).toEqual({
      subscription: { endpoint: 'https://push.example.com/send/1', expirationTime: null, keys: { p256dh: 'BP256', auth: 'AUTH' } },
    });
    expect(d.id).toBe('dev_1');
  });

  it('keeps a subscription made with the same key', async () => {
    const existing = new FakeSubscription('https://push.example.com/send/old', KEY);
    const f = fakeWindow({ existing, permission: 'granted' });
    answer = () => json(200, device());
    await subscribe(f.browser, config());
    expect(f.subscribed).toHaveLength(0);
    expect(existing.unsubscribed).toBe(false);
    expect((calls[0]!.body as { subscription: { endpoint: string } }).subscription.endpoint).toBe(
      'https://push.example.com/send/old',
    );
    expect(calls[0]!.body).not.toHaveProperty('previous_endpoint');
  });

  it('replaces a subscription made with another key (the device, known by its cookie, gets the new one)', async () => {
    const existing = new FakeSubscription('https://push.example.com/send/old', OTHER_KEY);
    const f = fakeWindow({ existing, permission: 'granted' });
    answer = () => json(200, device());
    await subscribe(f.browser, config());
    expect(existing.unsubscribed).toBe(true);
    expect(f.subscribed).toHaveLength(1);
    expect([...f.subscribed[0]!.applicationServerKey]).toEqual([...KEY]);
    expect(f.calls.indexOf('subscribe')).toBeGreaterThan(f.calls.indexOf('getSubscription'));
    expect(calls[0]!.body).toEqual({
      subscription: { endpoint: 'https://push.example.com/send/1', expirationTime: null, keys: { p256dh: 'BP256', auth: 'AUTH' } },
    });
  });

  it('stops at a refused or dismissed prompt without subscribing or calling the server', async () => {
    for (const [a, code] of [['denied', 'denied'], ['default', 'dismissed']] as const) {
      const f = fakeWindow({ answer: a });
      const err = await subscribe(f.browser, config()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PushError);
      expect((err as PushError).code).toBe(code);
      expect(f.subscribed).toHaveLength(0);
    }
    expect(calls).toHaveLength(0);
  });

  it('says so when no service worker is registered', async () => {
    const f = fakeWindow({ registered: false });
    const err = await subscribe(f.browser, config()).catch((e: unknown) => e);
    expect((err as PushError).code).toBe('no_worker');
  });

  it("passes on the server's error, such as an unpaired browser's 409", async () => {
    const f = fakeWindow();
    answer = () => json(409, { error: 'pair this browser first' });
    const err = await subscribe(f.browser, config()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(409);
    expect((err as ApiError).message).toBe('pair this browser first');
  });
});

describe('this device on the server', () => {
  it('turning off takes the subscription off this device, then ends it', async () => {
    const existing = new FakeSubscription('https://push.example.com/send/a', KEY);
    const f = fakeWindow({ existing, permission: 'granted' });
    answer = () => new Response(null, { status: 204 });
    await unsubscribe(f.browser);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.method).toBe('DELETE');
    expect(calls[0]!.url).toBe('/api/devices/current/push');
    expectWriteHeaders(calls[0]!);
    expect(existing.unsubscribed).toBe(true);
  });

  it('turning off tolerates a subscription the server already forgot, but not a failure', async () => {
    const existing = new FakeSubscription('https://push.example.com/send/a', KEY);
    const f = fakeWindow({ existing, permission: 'granted' });
    answer = () => json(500, { error: 'disk full' });
    await expect(unsubscribe(f.browser)).rejects.toThrow('disk full');
    expect(existing.unsubscribed).toBe(false);
    answer = () => json(404, { error: 'no push subscription' });
    await unsubscribe(f.browser);
    expect(existing.unsubscribed).toBe(true);
  });

  it('re-sends the quiet hours with the UTC offset when it moved, and only then', async () => {
    const quiet = { start: '22:00', end: '07:00', utc_offset_minutes: 60 };
    answer = (c) => json(200, device({ quiet_hours: (c.body as { quiet_hours: typeof quiet }).quiet_hours }));
    const moved = await syncQuietHoursOffset(device({ quiet_hours: quiet }), 120);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.method).toBe('PATCH');
    expect(calls[0]!.url).toBe('/api/devices/current');
    expectWriteHeaders(calls[0]!);
    expect(calls[0]!.body).toEqual({ quiet_hours: { start: '22:00', end: '07:00', utc_offset_minutes: 120 } });
    expect(moved.quiet_hours?.utc_offset_minutes).toBe(120);
    await syncQuietHoursOffset(device({ quiet_hours: quiet }), 60);
    await syncQuietHoursOffset(device(), 120);
    expect(calls).toHaveLength(1);
  });

  it('sends a test to this device and returns its delivery', async () => {
    const delivery = { channel: 'web_push', device_id: 'dev_1', name: 'x', outcome: 'sent', reason: '', attempts: [{ at_unix_nano: 1, status: 201, error: '' }] };
    answer = () => json(200, { delivery });
    expect(await sendTest()).toEqual(delivery);
    expect(calls[0]!.method).toBe('POST');
    expect(calls[0]!.url).toBe('/api/devices/current/test');
    expectWriteHeaders(calls[0]!);
  });
});

describe('PushStore', () => {
  /** A store over the fake window, with the real device list (over the faked server). */
  function pushHarness(o: FakeWindowOptions = {}, paired = true) {
    const f = fakeWindow(o);
    const devices = new DeviceStore({
      list: () => listDevices(),
      update: updateDevice,
      revoke: revokeDevice,
      currentId: () => (paired ? 'dev_1' : null),
      revokedSelf: () => undefined,
    });
    return { f, devices, store: new PushStore(f.browser, devices, () => paired) };
  }
  const other = device({ id: 'dev_2', name: 'Mac · Safari', current: false, push: null });

  it("finds this browser's device in the list, the one marked current", async () => {
    const { store, devices } = pushHarness({ permission: 'granted' });
    answer = (c) => (c.url === '/api/config' ? json(200, config()) : json(200, { devices: [other, device()] }));
    await store.load();
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /api/config', 'GET /api/devices']);
    expect(pushVerdict(store.getState(), true)?.code).toBe('ready');
    expect(devices.current()?.id).toBe('dev_1');
    expect(devices.getState().devices?.map((d) => d.id)).toEqual(['dev_1', 'dev_2']);
  });

  it('sends kind changes made while one is saving after it, merged, and ends with the server copy', async () => {
    const { store, devices } = pushHarness({ permission: 'granted' });
    answer = (c) => {
      if (c.url === '/api/config') return json(200, config());
      if (c.url === '/api/devices') return json(200, { devices: [device()] });
      return json(200, device({ kinds: (c.body as { kinds: string[] }).kinds }));
    };
    await store.load();
    calls = [];
    const first = store.update({ kinds: ['needs_you'] });
    const second = store.update({ kinds: ['needs_you', 'crashed'] });
    expect(devices.current()?.kinds).toEqual(['needs_you', 'crashed']);
    await Promise.all([first, second]);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['PATCH /api/devices/current', 'PATCH /api/devices/current']);
    expect(calls.map((c) => c.body)).toEqual([{ kinds: ['needs_you'] }, { kinds: ['needs_you', 'crashed'] }]);
    expect(devices.current()?.kinds).toEqual(['needs_you', 'crashed']);
    expect(store.getState().busy).toBeNull();
  });

  it('goes back to what the server has when a change fails', async () => {
    const { store, devices } = pushHarness({ permission: 'granted' });
    answer = (c) => {
      if (c.url === '/api/config') return json(200, config());
      if (c.method === 'GET') return json(200, { devices: [device()] });
      return json(400, { error: 'unknown kind "naps"' });
    };
    await store.load();
    await store.update({ kinds: ['naps'] });
    expect(devices.current()?.kinds).toEqual(device().kinds);
    expect(store.getState().error).toBe('unknown kind "naps"');
  });

  it('turning on gives the device its subscription; turning off takes it away', async () => {
    const { store, devices, f } = pushHarness();
    answer = (c) => {
      if (c.url === '/api/config') return json(200, config());
      if (c.method === 'GET') return json(200, { devices: [device({ push: null })] });
      if (c.method === 'PUT') return json(200, device());
      return new Response(null, { status: 204 });
    };
    await store.load();
    expect(devices.current()?.push).toBeNull();
    await store.turnOn();
    expect(f.calls[0]).toBe('requestPermission');
    expect(devices.current()?.push?.endpoint_origin).toBe('https://push.example.com');
    expect(pushVerdict(store.getState(), true)?.title).toBe('Notifications are allowed here');
    await store.turnOff();
    expect(calls[calls.length - 1]).toMatchObject({ method: 'DELETE', url: '/api/devices/current/push' });
    expect(devices.current()?.push).toBeNull();
    expect(f.current()?.unsubscribed).toBe(true);
  });

  it('does not ask for permission in an unpaired browser, and says to pair it', async () => {
    const { store, f } = pushHarness({}, false);
    answer = (c) => (c.url === '/api/config' ? json(200, config()) : json(401, { error: 'no', pairing_required: true }));
    await store.load();
    // Not paired: no device to look for.
    expect(calls.map((c) => c.url)).toEqual(['/api/config']);
    expect(pushVerdict(store.getState(), false)?.code).toBe('unpaired');
    await store.turnOn();
    expect(f.calls).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(store.getState().error).toMatch(/Pair this browser first/);
  });
});
