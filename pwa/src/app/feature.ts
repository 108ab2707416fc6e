//! Whether this server offers a feature (`features.<name>` of `/api/config`): control of agents'
//! processes (`control.ts`), answers to their permission prompts (`prompts.ts`). Unknown (null)
//! until the server answered; asked once per feature. The sections that need a feature stay
//! hidden while it is unknown, and on servers older than it.

import { fetchConfig } from './api';
import type { ServerConfig } from './types';

/** Only a `features.<name>` of true offers it: a server older than the feature has no such key,
 *  or no `/api/config` at all. */
export function featureOffered(config: ServerConfig | null, name: string): boolean {
  return config?.features?.[name] === true;
}

/**
 * One feature's answer: null until `/api/config` answered. A failed read (offline) leaves it
 * unknown and the next `load` asks again.
 */
export class ServerFeature {
  private offered: boolean | null = null;
  private loading: Promise<void> | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly name: string;
  private readonly config: () => Promise<ServerConfig | null>;

  constructor(name: string, config: () => Promise<ServerConfig | null> = fetchConfig) {
    this.name = name;
    this.config = config;
  }

  getOffered = (): boolean | null => this.offered;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  load(): Promise<void> {
    if (this.offered !== null) return Promise.resolve();
    this.loading ??= this.config()
      .then(
        (config) => {
          this.offered = featureOffered(config, this.name);
          for (const fn of [...this.listeners]) fn();
        },
        () => undefined,
      )
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }
}
