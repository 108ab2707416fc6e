//! Whether a person is looking at this page: the tab is visible *and* someone touched, clicked,
//! typed or scrolled within the idle limit. The server does not push alerts about a session a
//! dashboard shows, so a laptop left on the dashboard while its owner walked away must stop
//! counting as watched — or the phone would stay silent exactly when it matters.

export interface AttentionEnv {
  isVisible(): boolean;
  now(): number;
  /** Listens for an event of the page (input, visibility); returns the way to stop. */
  listen(type: string, fn: () => void): () => void;
  /** Calls `fn` every `ms`; returns the way to stop. */
  every(ms: number, fn: () => void): () => void;
}

/** What counts as someone being there. */
const ACTIVITY = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'scroll', 'touchstart', 'focus'];

export const IDLE_MS = 120_000;

export interface Attention {
  attending(): boolean;
  stop(): void;
}

/** Watches attention; `onChange` hears every change of `attending()`. */
export function watchAttention(
  env: AttentionEnv,
  onChange: (attending: boolean) => void,
  idleMs = IDLE_MS,
): Attention {
  let lastActive = env.now();
  const compute = () => env.isVisible() && env.now() - lastActive < idleMs;
  let current = compute();
  const update = () => {
    const next = compute();
    if (next !== current) {
      current = next;
      onChange(next);
    }
  };
  const active = () => {
    lastActive = env.now();
    update();
  };
  const stops = [
    ...ACTIVITY.map((t) => env.listen(t, active)),
    // Coming back to the tab is a sign of someone there; leaving it, of no one.
    env.listen('visibilitychange', () => (env.isVisible() ? active() : update())),
    env.every(Math.max(1000, Math.floor(idleMs / 8)), update),
  ];
  return {
    attending: () => current,
    stop: () => stops.forEach((s) => s()),
  };
}

/** The browser's page as an [`AttentionEnv`]. */
export function browserAttentionEnv(): AttentionEnv {
  return {
    isVisible: () => document.visibilityState === 'visible',
    now: () => Date.now(),
    listen: (type, fn) => {
      const target: EventTarget = type === 'visibilitychange' ? document : window;
      const opts = { passive: true, capture: true };
      target.addEventListener(type, fn, opts);
      return () => target.removeEventListener(type, fn, opts);
    },
    every: (ms, fn) => {
      const h = window.setInterval(fn, ms);
      return () => window.clearInterval(h);
    },
  };
}
