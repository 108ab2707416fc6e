import { useEffect, type ReactNode } from 'react';
import { shouldRead } from './app/access';
import { useAccess, useLoadStatus, useOnline } from './app/hooks';
import { matchRoute, usePath } from './app/router';
import { store } from './app/store';
import { ConnectionBadge } from './components/ConnectionBadge';
import { Link } from './components/Link';
import { AlertsScreen } from './screens/AlertsScreen';
import { LiveScreen } from './screens/LiveScreen';
import { SessionScreen } from './screens/SessionScreen';
import { SessionsScreen } from './screens/SessionsScreen';
import { SettingsScreen } from './screens/SettingsScreen';
import { UnpairedScreen } from './screens/UnpairedScreen';

const TABS: { href: string; label: string; icon: ReactNode; match: (p: string) => boolean }[] = [
  { href: '/', label: 'Sessions', match: (p) => p === '/' || p.startsWith('/sessions/'), icon: <path d="M4 5h16v4H4zM4 11h16v4H4zM4 17h10v3H4z" /> },
  { href: '/live', label: 'Live', match: (p) => p === '/live', icon: <path d="M2 12h4l3-7 4 14 3-7h6" fill="none" stroke="currentColor" strokeWidth="2" strokeLinejoin="round" /> },
  { href: '/alerts', label: 'Alerts', match: (p) => p === '/alerts', icon: <path d="M12 3a6 6 0 0 0-6 6v4l-2 3h16l-2-3V9a6 6 0 0 0-6-6zm-2 15a2 2 0 0 0 4 0z" /> },
  { href: '/settings', label: 'Settings', match: (p) => p === '/settings', icon: <path d="M10 2h4l.6 3 2.4 1.4 2.9-1 2 3.4-2.3 2.1v2.2l2.3 2.1-2 3.4-2.9-1-2.4 1.4-.6 3h-4l-.6-3L7 17.6l-2.9 1-2-3.4 2.3-2.1v-2.2L2.1 8.8l2-3.4 2.9 1L9.4 5zM12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z" fillRule="evenodd" /> },
];

export function App() {
  const path = usePath();
  const route = matchRoute(path);
  const online = useOnline();
  const load = useLoadStatus();
  const access = useAccess();
  const viewing = route.name === 'session' ? route.id : null;

  // Tells the server which session is on screen, so it does not push an alert about it here.
  useEffect(() => {
    store.stream.setViewing(viewing);
  }, [viewing]);

  const brand = (
    <Link href="/" className="brand" aria-label="Agent Observatory, sessions">
      <svg width="24" height="24" viewBox="0 0 24 24" aria-hidden="true">
        <circle cx="12" cy="12" r="7" fill="none" stroke="var(--accent)" strokeWidth="2" />
        <circle cx="12" cy="12" r="2.5" fill="var(--warn)" />
      </svg>
      <span>Observatory</span>
    </Link>
  );

  // A browser that may not read gets the pairing screen, not screens that would fail; so does
  // the page of a pairing link.
  if (route.name === 'pair' || shouldRead(access) === false) {
    return (
      <div className="shell shell-bare">
        <header className="topbar">{brand}</header>
        <main className="main">
          {!online && (
            <p className="banner banner-offline" role="status">
              You are offline: pairing needs the observatory.
            </p>
          )}
          <UnpairedScreen />
        </main>
      </div>
    );
  }

  let screen: ReactNode;
  switch (route.name) {
    case 'sessions':
      screen = <SessionsScreen />;
      break;
    case 'session':
      screen = <SessionScreen key={route.id} id={route.id} />;
      break;
    case 'live':
      screen = <LiveScreen />;
      break;
    case 'alerts':
      screen = <AlertsScreen />;
      break;
    case 'settings':
      screen = <SettingsScreen />;
      break;
    default:
      screen = (
        <section>
          <h1 className="page-title">Not found</h1>
          <p>
            Nothing lives at <code>{path}</code>. <Link href="/">Back to sessions</Link>.
          </p>
        </section>
      );
  }

  return (
    <div className="shell">
      <header className="topbar">
        {brand}
        <ConnectionBadge />
      </header>
      <nav className="nav" aria-label="Main">
        <ul>
          {TABS.map((t) => {
            const current = t.match(path);
            return (
              <li key={t.href}>
                <Link href={t.href} className="nav-item" aria-current={current ? 'page' : undefined}>
                  <svg width="24" height="24" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true">
                    {t.icon}
                  </svg>
                  <span>{t.label}</span>
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <main className="main">
        {!online && (
          <p className="banner banner-offline" role="status">
            You are offline. Showing what was last known
            {load.loadedAt ? ` (${new Date(load.loadedAt).toLocaleTimeString()})` : ''}.
          </p>
        )}
        {online && load.error && (
          <p className="banner banner-warn" role="alert">
            Cannot reach the observatory: {load.error}
          </p>
        )}
        {screen}
      </main>
    </div>
  );
}
