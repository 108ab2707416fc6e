//! The agents the server knows: each one's id and display name, from the server's agent registry
//! as `GET /api/config` lists it (fetched through `api.ts`). The app knows no agent by itself:
//! until the server has answered, and for an id it does not list, an agent is shown by its id.
//! The last list received is kept in `localStorage`, so a start while offline still names the
//! agents. `main.tsx` asks for the list at start-up and on each stream connection until it has
//! it; React reads it through `useAgents` in `hooks.ts`.

import { fetchConfig } from './api';
import type { Agent, AgentSpec, ServerConfig } from './types';

const STORAGE_KEY = 'observatory.agents.v1';

/** What screens read: one value, replaced (never changed) when the list changes. */
export interface Agents {
  /** The server's agents, in its registry's order; null while unknown. */
  readonly list: readonly AgentSpec[] | null;
  /** The agent's display name; its id while the list is unknown, or when the list lacks it. */
  name(id: Agent): string;
}

export function agentsOf(list: readonly AgentSpec[] | null): Agents {
  const names = new Map(list?.map((a) => [a.id, a.display_name]));
  return { list, name: (id) => names.get(id) ?? id };
}

/** The well-formed entries of a config's `agents`; null when there is no list (a server older
 *  than the agent registry, or a cache written by something else). */
export function readAgents(raw: unknown): AgentSpec[] | null {
  if (!Array.isArray(raw)) return null;
  const list: AgentSpec[] = [];
  for (const a of raw as unknown[]) {
    if (typeof a !== 'object' || a === null) continue;
    const { id, display_name } = a as Record<string, unknown>;
    if (typeof id === 'string' && id && typeof display_name === 'string' && display_name)
      list.push({ id, display_name });
  }
  return list;
}

/** `ids` in the order of the server's list, then those it does not list, sorted. */
export function inRegistryOrder(agents: Agents, ids: Iterable<Agent>): Agent[] {
  const wanted = new Set(ids);
  const known = (agents.list ?? []).map((a) => a.id).filter((id) => wanted.has(id));
  const seen = new Set(known);
  return [...known, ...[...wanted].filter((id) => !seen.has(id)).sort()];
}

/** Where the last known list is kept; `localStorage` in the browser. */
export type AgentStorage = Pick<Storage, 'getItem' | 'setItem'>;

export class AgentRegistry {
  private agents: Agents;
  private readonly listeners = new Set<() => void>();
  private readonly storage: AgentStorage | null;
  private readonly config: () => Promise<ServerConfig | null>;
  /** The server has answered: no more fetches. */
  private answered = false;
  private loading: Promise<void> | null = null;

  constructor(storage: AgentStorage | null, config: () => Promise<ServerConfig | null> = fetchConfig) {
    this.storage = storage;
    this.config = config;
    this.agents = agentsOf(restore(storage));
  }

  getAgents = (): Agents => this.agents;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /**
   * Fetches the server's list unless the server has already answered; calls made while a fetch
   * is on its way share it. A failed fetch (offline, server down) keeps the last known list and
   * leaves the next call to try again.
   */
  load(): Promise<void> {
    if (this.answered) return Promise.resolve();
    this.loading ??= this.fetch().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async fetch(): Promise<void> {
    let config: ServerConfig | null;
    try {
      config = await this.config();
    } catch {
      return;
    }
    this.answered = true;
    // A server without a list (older than the registry) leaves the last known one, if any.
    const list = readAgents(config?.agents);
    if (list) this.set(list);
  }

  private set(list: AgentSpec[]): void {
    if (JSON.stringify(list) === JSON.stringify(this.agents.list)) return;
    this.agents = agentsOf(list);
    try {
      this.storage?.setItem(STORAGE_KEY, JSON.stringify(list));
    } catch {
      // storage full or disabled: the cache is a convenience only
    }
    for (const fn of this.listeners) fn();
  }
}

function restore(storage: AgentStorage | null): AgentSpec[] | null {
  try {
    const raw = storage?.getItem(STORAGE_KEY);
    return raw ? readAgents(JSON.parse(raw)) : null;
  } catch {
    return null;
  }
}

function browserStorage(): AgentStorage | null {
  try {
    // Reading `localStorage` throws where storage is blocked; it is absent outside a browser.
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export const agentRegistry = new AgentRegistry(browserStorage());
