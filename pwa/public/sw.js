// Service worker: keeps the app shell (index.html and the hashed assets listed by the build in
// sw-precache.js) for offline start-up, shows Web Push notifications and routes clicks on them,
// and answers an agent's permission prompt from a notification's Allow or Deny button.
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

/** A path on this origin, or null: a push payload must not send a click anywhere else. */
function localPath(url) {
  return typeof url === 'string' && url.startsWith('/') && !url.startsWith('//') ? url : null;
}

/** The buttons a prompt's notification offers: only the one-shot answers the push lists. */
const ANSWER_ACTIONS = [
  { action: 'allow', title: 'Allow' },
  { action: 'deny', title: 'Deny' },
];

// Payload (see the alerts contract): {title, body, session_id, url, kind, alert_id, time_unix_nano};
// a test notification has kind "test", session_id null and url "/alerts". A needs_you alert for a
// prompt that can be answered adds {prompt_id, actions} (the answers contract): its Allow and Deny
// buttons. Once the prompt is answered, a push of kind "resolved" replaces it quietly.
self.addEventListener('push', (event) => {
  // Always show something: a push without a notification costs us the permission on some browsers.
  const p = parsePush(event.data);
  const sessionId = typeof p.session_id === 'string' && p.session_id ? p.session_id : null;
  const kind = typeof p.kind === 'string' ? p.kind : null;
  const promptId = typeof p.prompt_id === 'string' && p.prompt_id ? p.prompt_id : null;
  const url =
    localPath(p.url) || (sessionId ? '/sessions/' + encodeURIComponent(sessionId) : kind === 'test' ? '/alerts' : '/');
  const title = typeof p.title === 'string' && p.title ? p.title : 'Agent Observatory';
  const body =
    typeof p.body === 'string' && p.body ? p.body : 'Something happened in one of your sessions.';
  const options = {
    body,
    icon: '/icons/icon-192.png',
    badge: '/icons/icon-192.png',
    data: {
      url,
      session_id: sessionId,
      kind,
      alert_id: typeof p.alert_id === 'number' ? p.alert_id : null,
      prompt_id: promptId,
    },
  };
  if (typeof p.time_unix_nano === 'number' && p.time_unix_nano > 0) options.timestamp = Math.floor(p.time_unix_nano / 1e6);
  if (sessionId) {
    // One notification per session: a newer alert replaces the older one. It sounds and buzzes
    // again only when the person is needed or the agent died; otherwise it updates quietly.
    options.tag = sessionId;
    options.renotify = kind === 'needs_you' || kind === 'crashed';
  }
  if (kind === 'resolved' || p.silent === true) {
    // Answered (here, elsewhere or in the terminal): the prompt's notification changes, silently.
    options.silent = true;
    options.renotify = false;
  }
  if (promptId && Array.isArray(p.actions)) {
    // What this device may answer, as the server decided it: never more than it listed.
    const actions = ANSWER_ACTIONS.filter((a) => p.actions.includes(a.action));
    if (actions.length) options.actions = actions;
  }
  event.waitUntil(
    self.registration
      .showNotification(title, options)
      // Options a browser refuses must not cost the notification itself.
      .catch(() => self.registration.showNotification(title, { body, data: options.data })),
  );
});

/** One line of what an answer from a notification did: the server's words when it refused. */
async function answerOutcome(res, action) {
  if (res.ok) return action === 'allow' ? 'Allowed' : 'Denied';
  let why = '';
  try {
    const body = await res.json();
    why = body && typeof body.error === 'string' ? body.error : '';
  } catch {
    // not JSON: the status says it
  }
  if (!why) why = res.status === 401 ? 'this browser is not paired any more' : 'the observatory refused it (' + res.status + ')';
  return why.charAt(0).toUpperCase() + why.slice(1);
}

/**
 * Allow or Deny pressed on a prompt's notification: the answer goes to the server with this
 * browser's device cookie, and the notification is replaced, quietly, by what came of it. No
 * window opens: answering from the notification is the point.
 */
function answerFromNotification(notification, action) {
  const data = notification.data || {};
  const path = '/api/prompts/' + encodeURIComponent(data.prompt_id) + '/' + action;
  const request = fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-Observatory': '1', Accept: 'application/json', 'Content-Type': 'application/json' },
    body: '{}',
  })
    .then((res) => answerOutcome(res, action))
    .catch(() => 'Not answered: the observatory could not be reached. Open the session to answer.');
  return request.then((text) => {
    const options = {
      body: text,
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      silent: true,
      // The prompt is answered (or cannot be from here): a click opens the session, no buttons.
      data: { url: data.url, session_id: data.session_id, kind: 'resolved', alert_id: data.alert_id, prompt_id: null },
    };
    if (notification.tag) {
      options.tag = notification.tag;
      options.renotify = false;
    }
    return self.registration
      .showNotification(notification.title, options)
      .catch(() => self.registration.showNotification(notification.title, { body: text, data: options.data }));
  });
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data;
  if ((event.action === 'allow' || event.action === 'deny') && data && typeof data.prompt_id === 'string' && data.prompt_id) {
    event.waitUntil(answerFromNotification(event.notification, event.action));
    return;
  }
  const target = new URL(localPath(event.notification.data && event.notification.data.url) || '/', self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then(async (list) => {
      const mine = list.filter((c) => new URL(c.url).origin === self.location.origin);
      const same = mine.find((c) => c.url === target) || mine.find((c) => c.focused) || mine[0];
      if (same) {
        // The app listens for this message and routes to the session without a reload.
        same.postMessage({ type: 'navigate', url: target });
        try {
          await same.focus();
        } catch {
          // not allowed to focus it (no user activation): it still shows the session
        }
        return;
      }
      await self.clients.openWindow(target);
    }),
  );
});

/** The subscription that replaces `old`: the browser's new one, or a fresh one with the same key. */
async function renewedSubscription(event) {
  if (event.newSubscription) return event.newSubscription;
  const old = event.oldSubscription;
  let key = old && old.options ? old.options.applicationServerKey : null;
  if (!key) {
    // Some browsers give no old subscription: ask the server for its key (base64url works as is).
    const res = await fetch('/api/config', { headers: { Accept: 'application/json' } });
    const config = res.ok ? await res.json() : null;
    key = config && config.vapid_public_key;
    if (!key) return null;
  }
  return self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
}

self.addEventListener('pushsubscriptionchange', (event) => {
  // The push service replaced (or dropped) the subscription: give this browser's device the new
  // one. The device cookie goes with the request and says which device, so the device keeps its
  // name and preferences. An unpaired or revoked browser is refused (401/409): nothing to do then.
  event.waitUntil(
    renewedSubscription(event)
      .then((sub) => {
        if (!sub) return null;
        return fetch('/api/devices/current/push', {
          method: 'PUT',
          credentials: 'same-origin',
          headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-Observatory': '1' },
          body: JSON.stringify({ subscription: sub.toJSON() }),
        });
      })
      .catch(() => {}),
  );
});
