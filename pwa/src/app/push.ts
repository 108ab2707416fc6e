//! Web Push on this browser: the one place that answers "can this browser get push here?" (and,
//! when it cannot, says why and what to do), and that gives this browser's **device** — the one
//! it was paired as — a push subscription, changes its alert preferences and takes it away. The
//! browser's push machinery is read through `PushBrowser` (built from a window, or from a test's
//! fake one); the server is reached through `api.ts`; this browser's device is the one
//! `devices.ts` holds. `PushStore` holds what the Settings screen shows; React reads it through
//! `usePush` in `hooks.ts`.

import { accessStore } from './access';
import { ApiError, deletePush, fetchConfig, putPush, sendTest, updateDevice, type DevicePatch } from './api';
import { deviceStore, type DeviceStore } from './devices';
import type { Delivery, Device, ServerConfig } from './types';

export { sendTest };

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
  | 'unpaired'
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
 * platform, the browser's features, the server, this browser not being paired, and last the
 * person's own choice. `config` is `null` for a server without `/api/config`; `paired` says
 * whether `/api/access` names a device for this browser (push goes to paired devices only).
 */
export function pushSupport(env: PushEnv, config: ServerConfig | null, paired = true): PushVerdict {
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
  if (!paired)
    return no(
      'unpaired',
      'Pair this browser first',
      'Notifications go to paired browsers only. In a terminal on the laptop, run observatory pair and open the link it prints in this browser (on a phone: scan its QR code), or use Settings → Pair a phone in a dashboard that is already paired.',
    );
  if (env.permission === 'denied')
    return no('denied', 'Notifications are blocked for this site', deniedHelp(env, p));
  return {
    code: 'ready',
    ok: true,
    title: env.permission === 'granted' ? 'Notifications are allowed here' : 'This device can get notifications',
    help:
      env.permission === 'granted'
        ? "Turn them on to give this browser's device a push subscription."
        : "Turning them on asks for permission, then gives this browser's device a push subscription.",
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
 * Turns push on for this (paired) browser. Call it straight from a tap: the permission prompt is
 * the first thing it does (Safari only shows one for a user gesture). A subscription made with
 * another server key is thrown away and replaced; the new one replaces the old on the device.
 * Returns this browser's device with its push subscription.
 */
export async function subscribe(browser: PushBrowser, config: ServerConfig): Promise<Device> {
  const permission = await browser.requestPermission();
  if (permission === 'denied') throw new PushError('denied', 'Notifications were blocked for this site.');
  if (permission !== 'granted') throw new PushError('dismissed', 'The permission prompt was dismissed; nothing was changed.');
  if (!config.vapid_public_key) throw new PushError('no_key', 'The server has no push key.');
  const key = base64UrlToBytes(config.vapid_public_key);

  const reg = await browser.registration();
  if (!reg)
    throw new PushError('no_worker', "The app's service worker is not running yet. Reload the page and try again.");

  let sub = await reg.pushManager.getSubscription();
  const oldKey = sub?.options?.applicationServerKey;
  // A browser that does not say which key a subscription has keeps it (it is likely ours).
  if (sub && oldKey && !sameBytes(oldKey, key)) {
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
  return putPush({ subscription: sub.toJSON() });
}

/** Takes this browser's push subscription off its device (none there is fine), then ends it. */
export async function unsubscribe(browser: PushBrowser): Promise<void> {
  try {
    await deletePush();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
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
  return updateDevice('current', { quiet_hours: { ...q, utc_offset_minutes: offset } });
}

// ---------------------------------------------------------------------------------------------
// What the Settings screen shows.

export interface PushState {
  /** `undefined` while loading; `null` for a server without `/api/config`. */
  config: ServerConfig | null | undefined;
  /** What this browser offers, read at load and after each change; null before. */
  env: PushEnv | null;
  busy: 'loading' | 'subscribing' | 'unsubscribing' | 'testing' | 'saving' | null;
  error: string | null;
  /** The outcome of the last test notification. */
  lastTest: Delivery | null;
}

const INITIAL: PushState = { config: undefined, env: null, busy: null, error: null, lastTest: null };

/** The verdict for this browser, once its environment and the server's config are known. */
export function pushVerdict(state: PushState, paired: boolean): PushVerdict | null {
  return state.env && state.config !== undefined ? pushSupport(state.env, state.config, paired) : null;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What the store needs of the device list (`devices.ts`). */
export type DeviceList = Pick<DeviceStore, 'load' | 'current' | 'upsert'>;

export class PushStore {
  private state: PushState = INITIAL;
  private readonly listeners = new Set<() => void>();
  private readonly browser: PushBrowser;
  private readonly devices: DeviceList;
  private readonly paired: () => boolean;
  /** Device changes not sent yet, merged (see `update`). */
  private pending: DevicePatch | null = null;
  private saving = false;
  /** The device as the server last returned it while saving. */
  private confirmed: Device | null = null;

  constructor(browser: PushBrowser, devices: DeviceList, paired: () => boolean) {
    this.browser = browser;
    this.devices = devices;
    this.paired = paired;
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

  /** Reads the server's config, what this browser offers, and this browser's device. */
  async load(): Promise<void> {
    this.set({ busy: 'loading', error: null, env: this.browser.env() });
    try {
      this.set({ config: await fetchConfig() });
      if (this.paired()) await this.syncOffset();
      this.set({ busy: null });
    } catch (e) {
      this.set({ busy: null, error: message(e) });
    }
  }

  /** Re-sends this device's quiet hours with this browser's UTC offset, if it moved. */
  private async syncOffset(): Promise<void> {
    await this.devices.load();
    const device = this.devices.current();
    if (!device) return;
    const synced = await syncQuietHoursOffset(device);
    if (synced !== device) this.devices.upsert(synced);
  }

  /** From a tap only: asks for permission, subscribes, gives this browser's device the subscription. */
  async turnOn(): Promise<void> {
    const config = this.state.config;
    if (!config) return;
    if (!this.paired()) {
      this.set({ error: 'Pair this browser first: notifications go to paired browsers only.' });
      return;
    }
    this.set({ busy: 'subscribing', error: null, lastTest: null });
    try {
      // No await before this: the permission prompt needs the tap's user activation.
      this.devices.upsert(await subscribe(this.browser, config));
    } catch (e) {
      this.set({ error: message(e) });
    } finally {
      this.set({ busy: null, env: this.browser.env() });
    }
  }

  async turnOff(): Promise<void> {
    this.set({ busy: 'unsubscribing', error: null, lastTest: null });
    try {
      await unsubscribe(this.browser);
      const d = this.devices.current();
      if (d) this.devices.upsert({ ...d, push: null });
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
    const d = this.devices.current();
    if (!d) return;
    this.confirmed ??= d;
    this.pending = { ...this.pending, ...patch };
    this.devices.upsert({ ...d, ...patch });
    this.set({ error: null });
    if (this.saving) return;
    this.saving = true;
    this.set({ busy: 'saving' });
    try {
      while (this.pending) {
        const next = this.pending;
        this.pending = null;
        this.confirmed = await updateDevice('current', next);
      }
      this.devices.upsert(this.confirmed);
    } catch (e) {
      this.pending = null;
      if (this.confirmed) this.devices.upsert(this.confirmed);
      this.set({ error: message(e) });
    } finally {
      this.saving = false;
      this.confirmed = null;
      this.set({ busy: null });
    }
  }

  async test(): Promise<void> {
    this.set({ busy: 'testing', error: null, lastTest: null });
    try {
      this.set({ lastTest: await sendTest('current') });
      // "gone" took the subscription off the device on the server; its last delivery changed anyway.
      await this.devices.load();
    } catch (e) {
      this.set({ error: message(e) });
    } finally {
      this.set({ busy: null });
    }
  }

  /**
   * At start-up, for a paired browser: re-send the UTC offset of its quiet hours when it moved.
   * Quiet about failures (offline, older server): the Settings screen retries.
   */
  async syncOnLoad(): Promise<void> {
    if (!this.paired()) return;
    try {
      await this.syncOffset();
    } catch {
      // best effort
    }
  }
}

let shared: PushStore | null = null;

/** The app's one `PushStore`, over the real window: this browser's device is the one `/api/access` names. */
export function pushStore(): PushStore {
  shared ??= new PushStore(browserPush(window), deviceStore, () => accessStore.getState().access?.device != null);
  return shared;
}
