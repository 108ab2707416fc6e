import { describe, expect, it } from 'vitest';
import { watchAttention, type AttentionEnv } from './attention';

function fakePage() {
  let now = 0;
  let visible = true;
  const listeners = new Map<string, Set<() => void>>();
  const ticks = new Set<{ ms: number; fn: () => void; next: number }>();
  const env: AttentionEnv = {
    isVisible: () => visible,
    now: () => now,
    listen: (type, fn) => {
      const set = listeners.get(type) ?? new Set();
      set.add(fn);
      listeners.set(type, set);
      return () => set.delete(fn);
    },
    every: (ms, fn) => {
      const t = { ms, fn, next: now + ms };
      ticks.add(t);
      return () => ticks.delete(t);
    },
  };
  return {
    env,
    fire: (type: string) => listeners.get(type)?.forEach((fn) => fn()),
    setVisible: (v: boolean) => {
      visible = v;
      listeners.get('visibilitychange')?.forEach((fn) => fn());
    },
    advance: (ms: number) => {
      const end = now + ms;
      for (;;) {
        const due = [...ticks].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
        if (!due) break;
        now = due.next;
        due.next += due.ms;
        due.fn();
      }
      now = end;
    },
    listenerCount: () => [...listeners.values()].reduce((n, s) => n + s.size, 0) + ticks.size,
  };
}

describe('watchAttention', () => {
  it('stops counting a visible page as watched after the idle limit, until someone is back', () => {
    const page = fakePage();
    const changes: boolean[] = [];
    const a = watchAttention(page.env, (v) => changes.push(v), 60_000);
    expect(a.attending()).toBe(true);
    page.advance(30_000);
    page.fire('pointermove');
    page.advance(59_000);
    expect(a.attending()).toBe(true);
    page.advance(10_000);
    expect(a.attending()).toBe(false);
    expect(changes).toEqual([false]);
    page.fire('keydown');
    expect(a.attending()).toBe(true);
    expect(changes).toEqual([false, true]);
  });

  it('follows the tab being hidden and shown again', () => {
    const page = fakePage();
    const changes: boolean[] = [];
    const a = watchAttention(page.env, (v) => changes.push(v), 60_000);
    page.setVisible(false);
    expect(a.attending()).toBe(false);
    // Input while hidden does not make anyone a watcher.
    page.fire('wheel');
    expect(a.attending()).toBe(false);
    page.advance(600_000);
    page.setVisible(true);
    expect(a.attending()).toBe(true);
    expect(changes).toEqual([false, true]);
  });

  it('lets go of everything it listened to', () => {
    const page = fakePage();
    const a = watchAttention(page.env, () => undefined);
    expect(page.listenerCount()).toBeGreaterThan(0);
    a.stop();
    expect(page.listenerCount()).toBe(0);
  });
});
