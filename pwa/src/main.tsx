import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { accessStore, followAccess, isAccessKey, pairFromLink, shouldRead } from './app/access';
import { agentRegistry } from './app/agents';
import { deviceStore } from './app/devices';
import { pushStore } from './app/push';
import { navigate } from './app/router';
import { store } from './app/store';
import './styles.css';

// Reads follow access: the feed and the lists while this browser may read; when the server says
// it may not, they stop and what was kept is forgotten (the app shows the pairing screen).
followAccess(accessStore, {
  open: () => {
    store.start();
    // The agents' names: fetched once; after a failed try (an offline start), again on each connection.
    void agentRegistry.load();
  },
  close: () => {
    store.close();
    deviceStore.reset();
  },
});
void accessStore.refresh();
store.stream.subscribe({
  connected: () => void agentRegistry.load(),
  // This device was revoked: ask what this browser may do now (a local one may still read).
  unpaired: () => void accessStore.refresh(),
  audit: (e) => deviceStore.auditSeen(e),
});

// A pairing link: `/pair#<code>`, opened fresh or (the page already on /pair) as a new fragment.
const replace = (to: string) => navigate(to, true);
if (location.pathname === '/pair') void pairFromLink(accessStore, location.hash, replace);
window.addEventListener('hashchange', () => {
  if (location.pathname === '/pair') void pairFromLink(accessStore, location.hash, replace);
});
// Paired or revoked in another tab; or back to an unpaired app after pairing in the browser.
window.addEventListener('storage', (e) => {
  if (isAccessKey(e.key)) void accessStore.refresh();
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && shouldRead(accessStore.getState()) === false) void accessStore.refresh();
});

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}

if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    // updateViaCache 'none': the precache list (imported by sw.js) is checked on every update.
    navigator.serviceWorker
      .register('/sw.js', { scope: '/', updateViaCache: 'none' })
      // Quiet hours follow the clock of the device: re-send its UTC offset if it moved.
      .then(() => accessStore.settled())
      .then(() => pushStore().syncOnLoad())
      .catch((e: unknown) => {
        console.warn('service worker not registered', e);
      });
  });
  // A notification click in the service worker asks an open tab to show the session.
  navigator.serviceWorker.addEventListener('message', (ev: MessageEvent) => {
    const data = ev.data as { type?: string; url?: string } | null;
    if (data?.type === 'navigate' && typeof data.url === 'string') {
      const url = new URL(data.url, location.origin);
      if (url.origin === location.origin) navigate(url.pathname + url.search);
    }
  });
}
