//! React's view of the store, the stream, access, the devices, push, the server's agents, whether
//! it offers control and answers, and a session's permission prompts, through
//! `useSyncExternalStore`.

import { useEffect, useState, useSyncExternalStore } from 'react';
import { accessStore, type AccessState } from './access';
import { agentRegistry, type AgentRegistry, type Agents } from './agents';
import { controlFeature } from './control';
import { deviceStore, type DevicesState } from './devices';
import { answersFeature, type PromptsState, type SessionPrompts } from './prompts';
import { pushStore, type PushState } from './push';
import { groupSessions, type SessionFilter } from './state';
import { store } from './store';
import type { StreamStatus } from './stream';

export function useStream(): StreamStatus {
  return useSyncExternalStore(store.stream.subscribeStatus, store.stream.getStatus);
}

export function useDashboard() {
  return useSyncExternalStore(store.subscribe, store.getState);
}

export function useLoadStatus() {
  return useSyncExternalStore(store.subscribe, store.getLoad);
}

export function useAlertLoad() {
  return useSyncExternalStore(store.subscribe, store.getAlertLoad);
}

export function useAuditLoad() {
  return useSyncExternalStore(store.subscribe, store.getAuditLoad);
}

/** Who this browser is to the server, and how pairing it is going (see `access.ts`). */
export function useAccess(): AccessState {
  return useSyncExternalStore(accessStore.subscribe, accessStore.getState);
}

/** The paired devices (see `devices.ts`). */
export function useDevices(): DevicesState {
  return useSyncExternalStore(deviceStore.subscribe, deviceStore.getState);
}

/** The server's agents and their names (see `agents.ts`); screens re-render when they arrive. */
export function useAgents(registry: AgentRegistry = agentRegistry): Agents {
  // The same value stands for a server render (tests render to a string).
  return useSyncExternalStore(registry.subscribe, registry.getAgents, registry.getAgents);
}

/** Whether the server offers control of agents' processes; null until it said (see `control.ts`). */
export function useControlOffered(): boolean | null {
  return useSyncExternalStore(controlFeature.subscribe, controlFeature.getOffered, controlFeature.getOffered);
}

/** Whether the server takes answers to permission prompts; null until it said (see `prompts.ts`). */
export function useAnswersOffered(): boolean | null {
  return useSyncExternalStore(answersFeature.subscribe, answersFeature.getOffered, answersFeature.getOffered);
}

/** One session's permission prompts and the answers under way (see `prompts.ts`). */
export function usePrompts(prompts: SessionPrompts): PromptsState {
  return useSyncExternalStore(prompts.subscribe, prompts.getState, prompts.getState);
}

/** What this browser offers for push and how turning it on or off is going (see `push.ts`). */
export function usePush(): PushState {
  const push = pushStore();
  return useSyncExternalStore(push.subscribe, push.getState);
}

export function useSessions(filter?: SessionFilter) {
  const state = useDashboard();
  return groupSessions(state, filter);
}

/** The current time, re-read every `everyMs`, so "3m 12s" counters move. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(id);
  }, [everyMs]);
  return now;
}

export function useOnline(): boolean {
  return useSyncExternalStore(
    (fn) => {
      window.addEventListener('online', fn);
      window.addEventListener('offline', fn);
      return () => {
        window.removeEventListener('online', fn);
        window.removeEventListener('offline', fn);
      };
    },
    () => navigator.onLine,
  );
}
