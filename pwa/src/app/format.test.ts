import { describe, expect, it } from 'vitest';
import { auditActionName, auditActorName, formatCountdown, formatDuration, formatRelative, formatTokens, formatUsd, projectName } from './format';

describe('format', () => {
  it('durations', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(4200)).toBe('4.2s');
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(192_000)).toBe('3m 12s');
    expect(formatDuration(2 * 3600_000 + 5 * 60_000)).toBe('2h 5m');
    expect(formatDuration(3 * 86_400_000 + 4 * 3600_000)).toBe('3d 4h');
    expect(formatDuration(-1)).toBe('—');
  });

  it('usd', () => {
    expect(formatUsd(0.0353088)).toBe('$0.035');
    expect(formatUsd(0.5)).toBe('$0.50');
    expect(formatUsd(0.0042)).toBe('$0.0042');
    expect(formatUsd(1.2449)).toBe('$1.24');
    expect(formatUsd(1234.4)).toBe('$1,234');
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(null)).toBe('—');
    expect(formatUsd(0.0353088, false)).toBe('≥$0.035');
  });

  it('relative times', () => {
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(formatRelative('2026-11-22T09:59:58Z', now)).toBe('now');
    expect(formatRelative('2026-11-22T09:59:30Z', now)).toBe('30s ago');
    expect(formatRelative('2026-11-22T09:57:00Z', now)).toBe('3m ago');
    expect(formatRelative('2026-11-22T07:00:00Z', now)).toBe('3h ago');
    expect(formatRelative('2026-11-17T10:00:00Z', now)).toBe('5d ago');
    expect(formatRelative('2026-11-22T10:03:00Z', now)).toBe('in 3m');
    expect(formatRelative('garbage', now)).toBe('—');
  });

  it('token counts', () => {
    expect(formatTokens(812)).toBe('812');
    expect(formatTokens(1000)).toBe('1k');
    expect(formatTokens(16_384)).toBe('16.4k');
    expect(formatTokens(250_400)).toBe('250k');
    expect(formatTokens(1_200_000)).toBe('1.2M');
  });

  it('project names', () => {
    expect(projectName('/home/me/project/')).toBe('project');
    expect(projectName('C:\\src\\app')).toBe('app');
    expect(projectName(null)).toBe('—');
  });
});

describe('format for access', () => {
  it('counts down in minutes and seconds, reaching 0:00 only at the end', () => {
    expect(formatCountdown(600_000)).toBe('10:00');
    expect(formatCountdown(581_001)).toBe('9:42');
    expect(formatCountdown(1)).toBe('0:01');
    expect(formatCountdown(0)).toBe('0:00');
    expect(formatCountdown(-5_000)).toBe('0:00');
  });

  it('names audit actions and actors, and ones it does not know yet', () => {
    expect(auditActionName('pairing_code')).toBe('Pairing code made');
    expect(auditActionName('answer_permission')).toBe('Answer permission');
    expect(auditActorName({ actor: 'device', device_name: 'Pixel 8' })).toBe('Pixel 8');
    expect(auditActorName({ actor: 'cli' })).toBe('Command line');
    expect(auditActorName({ actor: 'robot' })).toBe('robot');
  });
});
