import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { eventSummary, eventTone } from './EventRow';
import { StateBadge } from './StateBadge';

describe('eventSummary', () => {
  it('says what a permission request is about', () => {
    const s = eventSummary({
      seq: 5,
      session_id: 'claude_code:s',
      time: '2026-11-22T10:00:00Z',
      kind: 'permission_requested',
      tool_name: 'Bash',
      detail: 'cargo test',
    });
    expect(s.detail).toBe('Bash · cargo test');
  });

  it('leaves out what the event does not have', () => {
    const s = eventSummary({ seq: 6, session_id: 'codex:s', time: '2026-11-22T10:00:00Z', kind: 'input_requested' });
    expect(s.detail).toBe('');
  });
});

describe('control events', () => {
  const at = { session_id: 'claude_code:s', time: '2026-11-22T10:00:00Z' };

  it('name the action and who asked', () => {
    const s = eventSummary({ ...at, seq: 7, kind: 'control_requested', name: 'kill', detail: 'kill requested by Pixel 8' });
    expect(s).toEqual({ title: 'Kill requested', detail: 'kill requested by Pixel 8' });
  });

  it('say what was done, or that it failed', () => {
    const done = { ...at, seq: 8, kind: 'control_finished', name: 'kill', detail: 'sent SIGTERM to 1234; exited within 0.2 s' };
    expect(eventSummary({ ...done, success: true })).toEqual({ title: 'Killed', detail: 'sent SIGTERM to 1234; exited within 0.2 s' });
    expect(eventTone({ ...done, success: true })).toBe('ok');
    expect(eventSummary({ ...done, name: 'restart', success: false, detail: 'claude not found' }).title).toBe('Restart failed');
    expect(eventTone({ ...done, success: false })).toBe('bad');
    expect(eventSummary({ ...done, name: 'interrupt' }).title).toBe('Interrupt finished');
    // An action this app does not know yet, and none at all.
    expect(eventSummary({ ...done, name: 'pause', success: true }).title).toBe('Pause done');
    expect(eventSummary({ ...at, seq: 9, kind: 'control_requested' }).title).toBe('Control requested');
  });
});

describe('state badge', () => {
  it('shows a killed session as Killed, looking unlike a crash', () => {
    const killed = renderToString(createElement(StateBadge, { state: 'killed' }));
    const crashed = renderToString(createElement(StateBadge, { state: 'crashed' }));
    expect(killed).toContain('>Killed<');
    expect(crashed).toContain('>Crashed<');
    expect(killed).toContain('state-killed');
    expect(crashed).not.toContain('state-killed');
  });
});
