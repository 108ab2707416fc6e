import { Link } from '../components/Link';

export function AlertsScreen() {
  return (
    <section aria-labelledby="alerts-h">
      <h1 id="alerts-h" className="page-title">Alerts</h1>
      <div className="card prose">
        <p>
          Alerts are not sent yet. When they arrive, this page lists what the observatory told you and when:
          a session that <strong>needs you</strong> (a permission prompt or a question), one that <strong>finished</strong> a
          long turn, <strong>stalled</strong>, <strong>crashed</strong>, hit an <strong>error</strong>, or crossed a{' '}
          <strong>budget</strong>.
        </p>
        <p>
          Until then, the <Link href="/">Sessions</Link> page shows sessions that need you at the top, live.
        </p>
      </div>
    </section>
  );
}
