import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { agentRegistry } from './app/agents';
import { pushStore } from './app/push';
import { navigate } from './app/router';
import { store } from './app/store';
import './styles.css';

store.start();
// The agents' names: fetched once; after a failed try (an offline start), again on each connection.
void agentRegistry.load();
store.stream.subscribe({ connected: () => void agentRegistry.load() });

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
