//! Web Push on this browser: the one place that answers "can this browser get push here?" (and,
//! when it cannot, says why and what to do), and that subscribes this browser as a **device**,
//! finds it again, changes its preferences and removes it. The browser's push machinery is read
//! through `PushBrowser` (built from a window, or from a test's fake one); the server is reached
//! through `api.ts`. `PushStore` holds what the Settings screen shows; React reads it through
//! `usePush` in `hooks.ts`.

import {
  ApiError,
  deleteDevice,
  deviceByEndpoint,
  fetchConfig,
  listDevices,
  registerDevice,
  sendTest,
  updateDevice,
  type DevicePatch,
} from './api';
import type { Delivery, Device, ServerConfig } from './types';

export { listDevices, sendTest, updateDevice };

// ---------------------------------------------------------------------------------------------
// Where we are: platform, browser and what it offers.

/** What push support depends on, as read from a window. */
export interface PushEnv {
  secureContext: boolean;
  hostname: string;
  userAgent: string;
  /** iPadOS 13+ reports a Mac user agent; touch points tell an iPad from a Mac. */
  maxTouchPoints: number;
  /** Opened from the home screen: iOS `navigator.standalone`, or `display-mode: standalone`. */
  standalone: boolean;
  serviceWorker: boolean;
  pushManager: boolean;
  notification: boolean;
  permission: NotificationPermission | 'unsupported';
}

export interface Platform {
  /** "Android", "iPhone", "iPad", "Mac", "Windows", "ChromeOS", "Linux" or "" when unknown. */
  os: string;
  /** "Chrome", "Safari", "Firefox", "Edge", "Samsung Internet", "Opera", "Chromium" or "". */
  browser: string;
  /** iPhone or iPad (any browser there is WebKit, with WebKit's push rules). */
  ios: boolean;
  /** [major, minor] of iOS/iPadOS when `ios` and the user agent says it. */
  iosVersion: [number, number] | null;
}

export function platformOf(ua: string, maxTouchPoints = 0): Platform {
  let os = '';
  if (/Android/i.test(ua)) os = 'Android';
  else if (/iPhone|iPod/.test(ua)) os = 'iPhone';
  else if (/iPad/.test(ua) || (/Macintosh/.test(ua) && maxTouchPoints > 1)) os = 'iPad';
  else if (/Macintosh|Mac OS X/.test(ua)) os = 'Mac';
  else if (/Windows/.test(ua)) os = 'Windows';
  else if (/CrOS/.test(ua)) os = 'ChromeOS';
  else if (/Linux|X11/.test(ua)) os = 'Linux';

  let browser = '';
  if (/Edg(e|A|iOS)?\//.test(ua)) browser = 'Edge';
  else if (/OPR\/|Opera/.test(ua)) browser = 'Opera';
  else if (/SamsungBrowser\//.test(ua)) browser = 'Samsung Internet';
  else if (/Firefox\/|FxiOS\//.test(ua)) browser = 'Firefox';
  else if (/Chromium\//.test(ua)) browser = 'Chromium';
  else if (/Chrome\/|CriOS\//.test(ua)) browser = 'Chrome';
  else if (/Safari\//.test(ua) && /Version\//.test(ua)) browser = 'Safari';

  const ios = os === 'iPhone' || os === 'iPad';
  let iosVersion: [number, number] | null = null;
  if (ios) {
    // "CPU iPhone OS 16_4 like Mac OS X"; an iPad asking for the desktop site only says Safari's
    // "Version/16.4", which follows the OS version.
    const m = /OS (\d+)[_.](\d+)/.exec(ua) ?? /Version\/(\d+)\.(\d+)/.exec(ua);
    if (m) iosVersion = [Number(m[1]), Number(m[2])];
  }
  return { os, browser, ios, iosVersion };
}

/** "Android · Chrome", "iPhone · Safari": the default name of this browser as a device. */
export function deviceName(ua: string, maxTouchPoints = 0): string {
  const p = platformOf(ua, maxTouchPoints);
  const parts = [p.os, p.browser].filter(Boolean);
  return parts.length ? parts.join(' · ') : 'Browser';
}

// ---------------------------------------------------------------------------------------------
// The verdict.

export type PushVerdictCode =
  | 'ready'
  | 'insecure'
  | 'ios_too_old'
  | 'ios_not_installed'
  | 'no_service_worker'
  | 'no_push_manager'
  | 'no_notification'
  | 'server_off'
  | 'denied';

export interface PushVerdict {
  code: PushVerdictCode;
  /** True when `subscribe()` may be tried here. */
  ok: boolean;
  /** One line: what is the case. */
  title: string;
  /** What to do about it (or what happens next). */
  help: string;
}

const TUNNEL_HELP =
  'Put a tunnel with a trusted certificate in front of the app port, such as Tailscale Serve ' +
  '(tailscale serve --bg 4319) or a Cloudflare tunnel (cloudflared tunnel --url http://127.0.0.1:4319), ' +
  'and open its https:// address on this device.';

function deniedHelp(env: PushEnv, p: Platform): string {
  if (p.ios) return 'Open the iPhone Settings app → Notifications → Observatory, and turn on Allow Notifications.';
  if (p.os === 'Android' && env.standalone)
    return 'Long-press the Observatory icon → App info → Notifications, allow them, then come back here.';
  if (p.browser === 'Firefox')
    return 'Click the icon left of the address → clear "Blocked" next to Send notifications, then reload.';
  if (p.browser === 'Safari')
    return 'Safari → Settings → Websites → Notifications: set this site to Allow, then reload.';
  return 'Tap the icon left of the address (a lock or sliders) → Permissions or Site settings → Notifications → Allow, then reload.';
}

/**
 * Can this browser get push here? The first thing in the way wins: the page's transport, the
 * platform, the browser's features, the server, and last the person's own choice.
 * `config` is `null` for a server without `/api/config`.
 */
export function pushSupport(env: PushEnv, config: ServerConfig | null): PushVerdict {
  const p = platformOf(env.userAgent, env.maxTouchPoints);
  const no = (code: PushVerdictCode, title: string, help: string): PushVerdict => ({ code, ok: false, title, help });

  if (!env.secureContext)
    return no(
      'insecure',
      'This page is not a secure context',
      `Browsers allow Web Push only over HTTPS or on localhost, and this page comes over plain HTTP from ${env.hostname || 'this address'}. ${TUNNEL_HELP}`,
    );
  if (p.ios && p.iosVersion && (p.iosVersion[0] < 16 || (p.iosVersion[0] === 16 && p.iosVersion[1] < 4)))
    return no(
      'ios_too_old',
      `iOS ${p.iosVersion.join('.')} cannot get Web Push`,
      'Notifications for web apps came with iOS and iPadOS 16.4. Update in Settings → General → Software Update, then add Observatory to the Home Screen.',
    );
  if (p.ios && !env.standalone)
    return no(
      'ios_not_installed',
      'On iPhone and iPad, add Observatory to the Home Screen first',
      'iOS gives notifications only to web apps opened from the Home Screen (iOS 16.4 or later). In Safari, tap Share → "Add to Home Screen", then open Observatory from its icon and turn notifications on there.',
    );
  if (!env.serviceWorker)
    return no(
      'no_service_worker',
      'This browser has no service workers here',
      'Push needs a service worker, which private windows and some in-app browsers turn off. Open this page in a regular Chrome, Edge, Firefox or Safari window.',
    );
  if (!env.pushManager)
    return no('no_push_manager', 'This browser cannot receive Web Push', 'It has no PushManager. Chrome, Edge, Firefox and Safari 16+ can.');
  if (!env.notification)
    return no('no_notification', 'This browser cannot show notifications', 'It has no Notification API. Chrome, Edge, Firefox and Safari 16+ can.');

  const enabled = config ? (config.push?.enabled ?? Boolean(config.vapid_public_key)) : false;
  if (!config || !enabled || !config.vapid_public_key)
    return no(
      'server_off',
      'Push is off on the server',
      config
        ? (config.push?.reason ?? 'The server has no push key.')
        : 'This server is older than alerts: update observatory to get notifications.',
    );
  if (env.permission === 'denied')
    return no('denied', 'Notifications are blocked for this site', deniedHelp(env, p));
  return {
    code: 'ready',
    ok: true,
    title: env.permission === 'granted' ? 'Notifications are allowed here' : 'This device can get notifications',
    help:
      env.permission === 'granted'
        ? 'Turn them on to register this browser with the server.'
        : 'Turning them on asks for permission, then registers this browser with the server.',
  };
}

// ---------------------------------------------------------------------------------------------
// The browser's push machinery, as this module uses it.

export interface SubscriptionLike {
  readonly endpoint: string;
  readonly options?: { readonly applicationServerKey: ArrayBuffer | null };
  toJSON(): PushSubscriptionJSON;
  unsubscribe(): Promise<boolean>;
}

export interface RegistrationLike {
  pushManager: {
    getSubscription(): Promise<SubscriptionLike | null>;
    subscribe(options: { userVisibleOnly: boolean; applicationServerKey: Uint8Array<ArrayBuffer> }): Promise<SubscriptionLike>;
  };
}

export interface PushBrowser {
  env(): PushEnv;
  requestPermission(): Promise<NotificationPermission>;
  /** The app's service worker registration once active; null when none is registered. */
  registration(): Promise<RegistrationLike | null>;
}

/** The parts of `window` read here (a test passes a fake). */
export interface WindowLike {
  isSecureContext?: boolean;
  location: { hostname: string };
  navigator: {
    userAgent: string;
    maxTouchPoints?: number;
    standalone?: boolean;
    serviceWorker?: {
      getRegistration(): Promise<unknown>;
      ready: Promise<unknown>;
    };
  };
  matchMedia?(query: string): { matches: boolean };
  PushManager?: unknown;
  Notification?: {
    permission: NotificationPermission;
    requestPermission(): Promise<NotificationPermission>;
  };
}

const READY_TIMEOUT_MS = 10_000;

export function browserPush(win: WindowLike): PushBrowser {
  return {
    env: () => {
      const nav = win.navigator;
      const standalone =
        nav.standalone === true ||
        Boolean(win.matchMedia?.('(display-mode: standalone)').matches) ||
        Boolean(win.matchMedia?.('(display-mode: fullscreen)').matches);
      return {
        secureContext: win.isSecureContext === true,
        hostname: win.location.hostname,
        userAgent: nav.userAgent,
        maxTouchPoints: nav.maxTouchPoints ?? 0,
        standalone,
        serviceWorker: Boolean(nav.serviceWorker),
        pushManager: win.PushManager !== undefined,
        notification: win.Notification !== undefined,
        permission: win.Notification?.permission ?? 'unsupported',
      };
    },
    requestPermission: () =>
      win.Notification ? win.Notification.requestPermission() : Promise.resolve('denied' as NotificationPermission),
    registration: async () => {
      const sw = win.navigator.serviceWorker;
      if (!sw || !(await sw.getRegistration())) return null;
      // Registered but maybe still installing: wait (a bit) for it to be active.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), READY_TIMEOUT_MS);
      });
      try {
        return (await Promise.race([sw.ready, late])) as RegistrationLike | null;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Subscribing and finding this device.

/** Decodes base64url (with or without padding) into bytes; throws on anything else. */
export function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const clean = text.trim().replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(clean) || clean.length % 4 === 1) throw new Error('not base64url');
  const b64 = clean.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (clean.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function sameBytes(a: ArrayBuffer, b: Uint8Array): boolean {
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

/** Why turning notifications on did not work, in words for the person who tapped. */
export class PushError extends Error {
  readonly code: 'denied' | 'dismissed' | 'no_key' | 'no_worker' | 'subscribe_failed';
  constructor(code: PushError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** This browser's offset from UTC in minutes, east positive (what quiet hours are sent with). */
export function localUtcOffset(date = new Date()): number {
  return -date.getTimezoneOffset();
}

/**
 * Turns push on for this browser. Call it straight from a tap: the permission prompt is the
 * first thing it does (Safari only shows one for a user gesture). A subscription made with
 * another server key is thrown away and replaced (the server is told which endpoint it replaces).
 */
export async function subscribe(
  browser: PushBrowser,
  config: ServerConfig,
  opts: { name?: string } = {},
): Promise<Device> {
  const permission = await browser.requestPermission();
  if (permission === 'denied') throw new PushError('denied', 'Notifications were blocked for this site.');
  if (permission !== 'granted') throw new PushError('dismissed', 'The permission prompt was dismissed; nothing was changed.');
  if (!config.vapid_public_key) throw new PushError('no_key', 'The server has no push key.');
  const key = base64UrlToBytes(config.vapid_public_key);

  const reg = await browser.registration();
  if (!reg)
    throw new PushError('no_worker', "The app's service worker is not running yet. Reload the page and try again.");

  let sub = await reg.pushManager.getSubscription();
  let previous: string | undefined;
  const oldKey = sub?.options?.applicationServerKey;
  // A browser that does not say which key a subscription has keeps it (it is likely ours).
  if (sub && oldKey && !sameBytes(oldKey, key)) {
    previous = sub.endpoint;
    await sub.unsubscribe();
    sub = null;
  }
  if (!sub) {
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    } catch (e) {
      throw new PushError('subscribe_failed', `The browser's push service refused: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const env = browser.env();
  return registerDevice({
    subscription: sub.toJSON(),
    name: opts.name ?? deviceName(env.userAgent, env.maxTouchPoints),
    ...(previous ? { previous_endpoint: previous } : {}),
  });
}

export interface CurrentDevice {
  /** This browser's push subscription, if it has one. */
  subscription: SubscriptionLike | null;
  /** The server's device for it; null when the server does not know the endpoint. */
  device: Device | null;
}

/** Finds this browser's device: its subscription's endpoint, looked up on the server. */
export async function currentDevice(browser: PushBrowser): Promise<CurrentDevice> {
  const env = browser.env();
  if (!env.serviceWorker || !env.pushManager || env.permission !== 'granted') return { subscription: null, device: null };
  const reg = await browser.registration();
  const subscription = reg ? await reg.pushManager.getSubscription() : null;
  if (!subscription) return { subscription: null, device: null };
  return { subscription, device: await deviceByEndpoint(subscription.endpoint) };
}

/** Removes this browser's device from the server (gone already is fine) and ends its subscription. */
export async function unsubscribe(browser: PushBrowser, deviceId: string | null): Promise<void> {
  if (deviceId) {
    try {
      await deleteDevice(deviceId);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
  }
  const reg = await browser.registration();
  const sub = reg ? await reg.pushManager.getSubscription() : null;
  await sub?.unsubscribe();
}

/**
 * Quiet hours are kept with the UTC offset they were set in; after travel or a daylight-saving
 * change the device's offset is re-sent. Returns the updated device, or the same one.
 */
export async function syncQuietHoursOffset(device: Device, offset = localUtcOffset()): Promise<Device> {
  const q = device.quiet_hours;
  if (!q || q.utc_offset_minutes === offset) return device;
  return updateDevice(device.id, { quiet_hours: { ...q, utc_offset_minutes: offset } });
}

// ---------------------------------------------------------------------------------------------
// What the Settings screen shows.

export interface PushState {
  /** `undefined` while loading; `null` for a server without `/api/config`. */
  config: ServerConfig | null | undefined;
  verdict: PushVerdict | null;
  /** This browser's device; null when it is not subscribed (or the server does not know it). */
  device: Device | null;
  /** All devices, for the list; null until loaded. */
  devices: Device[] | null;
  busy: 'loading' | 'subscribing' | 'unsubscribing' | 'testing' | 'saving' | null;
  error: string | null;
  /** The outcome of the last test notification. */
  lastTest: Delivery | null;
}

const INITIAL: PushState = { config: undefined, verdict: null, device: null, devices: null, busy: null, error: null, lastTest: null };

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class PushStore {
  private state: PushState = INITIAL;
  private readonly listeners = new Set<() => void>();
  private readonly browser: PushBrowser;
  /** Device changes not sent yet, merged (see `update`). */
  private pending: DevicePatch | null = null;
  private saving = false;
  /** The device as the server last returned it while saving. */
  private confirmed: Device | null = null;

  constructor(browser: PushBrowser) {
    this.browser = browser;
  }

  getState = (): PushState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private set(patch: Partial<PushState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn();
  }

  /** Reads the server's config, this browser's verdict, this device and the device list. */
  async load(): Promise<void> {
    this.set({ busy: 'loading', error: null });
    try {
      const config = await fetchConfig();
      this.set({ config, verdict: pushSupport(this.browser.env(), config) });
      if (config?.vapid_public_key) {
        const [{ device }, devices] = await Promise.all([currentDevice(this.browser), listDevices()]);
        this.set({ device: device ? await syncQuietHoursOffset(device) : null, devices });
      }
      this.set({ busy: null });
    } catch (e) {
      this.set({ busy: null, error: message(e) });
    }
  }

  /** From a tap only: asks for permission, subscribes, registers. */
  async turnOn(): Promise<void> {
    const config = this.state.config;
    if (!config) return;
    this.set({ busy: 'subscribing', error: null, lastTest: null });
    try {
      // No await before this: the permission prompt needs the tap's user activation.
      const device = await subscribe(this.browser, config);
      this.set({ device, devices: upsert(this.state.devices, device) });
    } catch (e) {
      this.set({ error: message(e) });
    } finally {
      this.set({ busy: null, verdict: pushSupport(this.browser.env(), config) });
    }
  }

  async turnOff(): Promise<void> {
    const id = this.state.device?.id ?? null;
    this.set({ busy: 'unsubscribing', error: null, lastTest: null });
    try {
      await unsubscribe(this.browser, id);
      this.set({ device: null, devices: (this.state.devices ?? []).filter((d) => d.id !== id) });
    } catch (e) {
      this.set({ error: message(e) });
    } finally {
      this.set({ busy: null });
    }
  }

  /**
   * Changes this device's kinds or quiet hours. The screen shows the change at once; changes
   * made while one is on its way are sent after it, merged, so the server ends with the last.
   * On failure the screen goes back to what the server last confirmed.
   */
  async update(patch: DevicePatch): Promise<void> {
    const d = this.state.device;
    if (!d) return;
    this.confirmed ??= d;
    this.pending = { ...this.pending, ...patch };
    this.set({ device: { ...d, ...patch }, error: null });
    if (this.saving) return;
    this.saving = true;
    this.set({ busy: 'saving' });
    try {
      while (this.pending) {
        const next = this.pending;
        this.pending = null;
        this.confirmed = await updateDevice(d.id, next);
      }
      const device = this.confirmed;
      this.set({ device, devices: upsert(this.state.devices, device) });
    } catch (e) {
      this.pending = null;
      this.set({ device: this.confirmed, error: message(e) });
    } finally {
      this.saving = false;
      this.confirmed = null;
      this.set({ busy: null });
    }
  }

  async test(): Promise<void> {
    const d = this.state.device;
    if (!d) return;
    this.set({ busy: 'testing', error: null, lastTest: null });
    try {
      const delivery = await sendTest(d.id);
      this.set({ lastTest: delivery });
      // "gone" removed the device on the server; the list and last delivery changed either way.
      if (delivery.outcome === 'gone') this.set({ device: null });
      await this.refreshDevices();
    } catch (e) {
      this.set({ error: message(e) });
    } finally {
      this.set({ busy: null });
    }
  }

  /** At start-up: re-send the UTC offset of this device's quiet hours if it moved. */
  syncOnLoad(): Promise<void> {
    return syncOnLoad(this.browser);
  }

  async refreshDevices(): Promise<void> {
    try {
      this.set({ devices: await listDevices() });
    } catch (e) {
      this.set({ error: message(e) });
    }
  }

  /** Removes any device; removing this one turns push off here too. */
  async remove(id: string): Promise<void> {
    if (id === this.state.device?.id) return this.turnOff();
    this.set({ error: null });
    try {
      await deleteDevice(id);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) {
        this.set({ error: message(e) });
        return;
      }
    }
    this.set({ devices: (this.state.devices ?? []).filter((d) => d.id !== id) });
  }
}

function upsert(list: Device[] | null, d: Device): Device[] {
  const rest = (list ?? []).filter((x) => x.id !== d.id);
  return [...rest, d].sort((a, b) => a.created_unix_nano - b.created_unix_nano);
}

let shared: PushStore | null = null;

/** The app's one `PushStore`, over the real window. */
export function pushStore(): PushStore {
  shared ??= new PushStore(browserPush(window));
  return shared;
}

/**
 * At start-up, for a browser that already gets push: re-send the UTC offset of its quiet hours
 * when it moved. Quiet about failures (offline, older server): the Settings screen retries.
 */
export async function syncOnLoad(browser: PushBrowser, offset = localUtcOffset()): Promise<void> {
  try {
    const { device } = await currentDevice(browser);
    if (device) await syncQuietHoursOffset(device, offset);
  } catch {
    // best effort
  }
}
