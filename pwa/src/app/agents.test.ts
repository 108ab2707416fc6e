import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { AgentRegistry, agentsOf, inRegistryOrder, readAgents, type AgentStorage } from './agents';
import { useAgents } from './hooks';
import type { AgentSpec, ServerConfig } from './types';

// What the server's `/api/config` lists today, in its order.
const SERVER_AGENTS: AgentSpec[] = [
  { id: 'claude_code', display_name: 'Claude Code' },
  { id: 'codex', display_name: 'Codex' },
  { id: 'gemini_cli', display_name: 'Gemini CLI' },
  { id: 'copilot_cli', display_name: 'Copilot CLI' },
  { id: 'opencode', display_name: 'OpenCode' },
  { id: 'pi', display_name: 'Pi' },
  { id: 'generic', display_name: 'Generic agent' },
];

const config = (agents: unknown = SERVER_AGENTS): ServerConfig =>
  ({ version: '0.1.0', features: {}, vapid_public_key: null, agents }) as ServerConfig;
/** A server older than the agent registry: no `agents`. */
const olderConfig = (): ServerConfig => ({ version: '0.1.0', features: {}, vapid_public_key: null });

class MemoryStorage implements AgentStorage {
  readonly items = new Map<string, string>();
  failWrites = false;
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (this.failWrites) throw new Error('QuotaExceededError');
    this.items.set(key, value);
  }
}

/** A `fetchConfig` that answers from a queue (a thrown Error for a failed request) and counts calls. */
function server(...answers: (ServerConfig | null | Error)[]) {
  const s = {
    calls: 0,
    fetch: async (): Promise<ServerConfig | null> => {
      s.calls++;
      const a = answers.shift();
      if (a === undefined) throw new Error('no answer left');
      if (a instanceof Error) throw a;
      return a;
    },
  };
  return s;
}

describe('agent names', () => {
  it('come from the list', () => {
    const agents = agentsOf(SERVER_AGENTS);
    expect(agents.name('claude_code')).toBe('Claude Code');
    expect(agents.name('gemini_cli')).toBe('Gemini CLI');
    expect(agents.name('generic')).toBe('Generic agent');
  });

  it('are the ids while the list is unknown, and for an id it does not have', () => {
    expect(agentsOf(null).name('claude_code')).toBe('claude_code');
    expect(agentsOf(SERVER_AGENTS).name('aider')).toBe('aider');
  });

  it('follow the list, not a copy of it', () => {
    expect(agentsOf([{ id: 'claude_code', display_name: 'Claude' }]).name('claude_code')).toBe('Claude');
  });

  it('ignore malformed entries', () => {
    expect(readAgents(undefined)).toBeNull();
    expect(readAgents({ claude_code: 'Claude Code' })).toBeNull();
    expect(readAgents([])).toEqual([]);
    expect(
      readAgents([null, 'codex', { id: 'codex' }, { id: '', display_name: 'X' }, { id: 'pi', display_name: 7 }, { id: 'pi', display_name: 'Pi', extra: 1 }]),
    ).toEqual([{ id: 'pi', display_name: 'Pi' }]);
  });

  it('order a filter as the server lists its agents, unknown ids last', () => {
    const ids = ['pi', 'zed', 'claude_code', 'aider', 'pi'];
    expect(inRegistryOrder(agentsOf(SERVER_AGENTS), ids)).toEqual(['claude_code', 'pi', 'aider', 'zed']);
    expect(inRegistryOrder(agentsOf(null), ids)).toEqual(['aider', 'claude_code', 'pi', 'zed']);
  });
});

describe('AgentRegistry', () => {
  it('knows no names until the server answers, then the server’s', async () => {
    const srv = server(config());
    const registry = new AgentRegistry(new MemoryStorage(), srv.fetch);
    expect(registry.getAgents().list).toBeNull();
    expect(registry.getAgents().name('codex')).toBe('codex');

    await registry.load();
    expect(registry.getAgents().list).toEqual(SERVER_AGENTS);
    expect(registry.getAgents().name('codex')).toBe('Codex');
    expect(registry.getAgents().name('aider')).toBe('aider');
  });

  it('tells subscribers once when the list arrives, and keeps one value between changes', async () => {
    const registry = new AgentRegistry(null, server(config()).fetch);
    const before = registry.getAgents();
    expect(registry.getAgents()).toBe(before);
    let told = 0;
    let toldAfterLeaving = 0;
    registry.subscribe(() => told++);
    const leave = registry.subscribe(() => toldAfterLeaving++);
    leave();

    await registry.load();
    expect(told).toBe(1);
    expect(toldAfterLeaving).toBe(0);
    const after = registry.getAgents();
    expect(after).not.toBe(before);
    // useSyncExternalStore compares snapshots with Object.is: a new value each read would loop.
    expect(registry.getAgents()).toBe(after);
  });

  it('fetches once, however often it is asked', async () => {
    const srv = server(config(), config([{ id: 'codex', display_name: 'Other' }]));
    const registry = new AgentRegistry(null, srv.fetch);
    await Promise.all([registry.load(), registry.load()]);
    await registry.load();
    expect(srv.calls).toBe(1);
    expect(registry.getAgents().name('codex')).toBe('Codex');
  });

  it('tries again after a failed fetch', async () => {
    const srv = server(new Error('Failed to fetch'), config());
    const registry = new AgentRegistry(null, srv.fetch);
    await registry.load();
    expect(registry.getAgents().name('pi')).toBe('pi');
    await registry.load();
    expect(srv.calls).toBe(2);
    expect(registry.getAgents().name('pi')).toBe('Pi');
  });

  it('shows ids for a server older than the registry', async () => {
    for (const answer of [olderConfig(), null]) {
      const srv = server(answer);
      const registry = new AgentRegistry(new MemoryStorage(), srv.fetch);
      await registry.load();
      await registry.load();
      expect(srv.calls).toBe(1);
      expect(registry.getAgents().list).toBeNull();
      expect(registry.getAgents().name('claude_code')).toBe('claude_code');
    }
  });

  it('starts offline with the last list it received', async () => {
    const storage = new MemoryStorage();
    await new AgentRegistry(storage, server(config()).fetch).load();

    const offline = new AgentRegistry(storage, server(new Error('Failed to fetch')).fetch);
    expect(offline.getAgents().name('gemini_cli')).toBe('Gemini CLI');
    await offline.load();
    expect(offline.getAgents().list).toEqual(SERVER_AGENTS);
  });

  it('replaces the kept list with a newer one, and keeps it for a server without one', async () => {
    const storage = new MemoryStorage();
    await new AgentRegistry(storage, server(config()).fetch).load();

    const renamed = [{ id: 'pi', display_name: 'Pi agent' }];
    const next = new AgentRegistry(storage, server(config(renamed)).fetch);
    let told = 0;
    next.subscribe(() => told++);
    await next.load();
    expect(told).toBe(1);
    expect(next.getAgents().name('pi')).toBe('Pi agent');
    expect(next.getAgents().name('codex')).toBe('codex');

    const older = new AgentRegistry(storage, server(olderConfig()).fetch);
    await older.load();
    expect(older.getAgents().name('pi')).toBe('Pi agent');
    expect(new AgentRegistry(storage, server().fetch).getAgents().list).toEqual(renamed);
  });

  it('does not tell subscribers when the server repeats the kept list', async () => {
    const storage = new MemoryStorage();
    await new AgentRegistry(storage, server(config()).fetch).load();
    const registry = new AgentRegistry(storage, server(config()).fetch);
    const kept = registry.getAgents();
    let told = 0;
    registry.subscribe(() => told++);
    await registry.load();
    expect(told).toBe(0);
    expect(registry.getAgents()).toBe(kept);
  });

  it('ignores a kept list it cannot read, and storage that refuses writes', async () => {
    const storage = new MemoryStorage();
    storage.items.set('observatory.agents.v1', '{not json');
    expect(new AgentRegistry(storage, server().fetch).getAgents().list).toBeNull();

    storage.failWrites = true;
    const registry = new AgentRegistry(storage, server(config()).fetch);
    await registry.load();
    expect(registry.getAgents().name('opencode')).toBe('OpenCode');
  });
});

describe('useAgents', () => {
  function AgentLabel({ registry, id }: { registry: AgentRegistry; id: string }) {
    return createElement('span', null, useAgents(registry).name(id));
  }
  const render = (registry: AgentRegistry) => renderToString(createElement(AgentLabel, { registry, id: 'copilot_cli' }));

  it('reads the registry’s current list', async () => {
    const registry = new AgentRegistry(null, server(config()).fetch);
    expect(render(registry)).toBe('<span>copilot_cli</span>');
    await registry.load();
    expect(render(registry)).toBe('<span>Copilot CLI</span>');
  });
});
