import { describe, expect, it } from 'vitest';
import { eventSummary } from './EventRow';

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
