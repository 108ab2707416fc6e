// Service worker: keeps the app shell (index.html and the hashed assets listed by the build in
// sw-precache.js) for offline start-up, shows Web Push notifications and routes clicks on them.
// API responses are never cached here: the app keeps its own last-known data.
/* global PRECACHE */
importScripts('/sw-precache.js');

const SHELL = 'shell-' + PRECACHE.version;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(PRECACHE.urls.map((u) => new Request(u, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;

  if (req.mode === 'navigate') {
    // Network first so a new build shows up at once; the cached shell when offline.
    event.respondWith(
      fetch(req).catch(() =>
        caches.match('/', { cacheName: SHELL }).then((r) => r || Response.error()),
      ),
    );
    return;
  }
  if (url.pathname.startsWith('/assets/') || url.pathname.startsWith('/icons/')) {
    // Hashed names never change content: cache first.
    event.respondWith(
      caches.match(req).then(
        (hit) =>
          hit ||
          fetch(req).then((res) => {
            if (res.ok) {
              const copy = res.clone();
              caches.open(SHELL).then((c) => c.put(req, copy));
            }
            return res;
          }),
      ),
    );
  }
});

function parsePush(data) {
  const fallback = { title: 'Agent Observatory', body: 'Something happened in one of your sessions.' };
  if (!data) return fallback;
  try {
    const p = data.json();
    if (!p || typeof p !== 'object') return { ...fallback, body: String(p) };
    return p;
  } catch {
    const text = data.text();
    return text ? { ...fallback, body: text } : fallback;
  }
}

self.addEventListener('push', (event) => {
  // Always show something: a push without a notification costs us the permission on some browsers.
  const p = parsePush(event.data);
  const sessionId = typeof p.session_id === 'string' ? p.session_id : null;
  const url =
    typeof p.url === 'string'
      ? p.url
      : sessionId
        ? '/sessions/' + encodeURIComponent(sessionId)
        : '/';
  const title = typeof p.title === 'string' && p.title ? p.title : 'Agent Observatory';
  const body =
    typeof p.body === 'string' && p.body ? p.body : 'Something happened in one of your sessions.';
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      tag: sessionId || undefined,
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      data: { url, session_id: sessionId },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || '/', self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(async (list) => {
      const same = list.find((c) => new URL(c.url).origin === self.location.origin);
      if (same) {
        await same.focus();
        // The app listens for this message and routes to the session without a reload.
        same.postMessage({ type: 'navigate', url: target });
        return;
      }
      await self.clients.openWindow(target);
    }),
  );
});

self.addEventListener('pushsubscriptionchange', (event) => {
  // Stub until the push endpoint exists: re-subscribe with the old options and report it.
  const old = event.oldSubscription;
  const options = old ? old.options : null;
  event.waitUntil(
    (event.newSubscription
      ? Promise.resolve(event.newSubscription)
      : options
        ? self.registration.pushManager.subscribe(options)
        : Promise.resolve(null)
    )
      .then((sub) =>
        sub
          ? fetch('/api/push/subscriptions', {
              method: 'POST',
              headers: { 'Content-Type': 'application/json', 'X-Observatory': '1' },
              body: JSON.stringify({ subscription: sub.toJSON(), previous_endpoint: old ? old.endpoint : null }),
            })
          : null,
      )
      .catch(() => {}),
  );
});
