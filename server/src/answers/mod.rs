//! Answers: permission prompts the person can allow or deny from the phone. A prompt is made
//! from each `permission_requested` event a commit carries; it is *answerable* when the event
//! came from a waiting `observatory hook` (its `prompt_id`, the key the hook asks under) of an
//! agent whose hook can return a decision (the registry's `answers`). The hook long-polls
//! `GET /v1/answers/{key}` on the ingest port ([`crate::ingest::AnswerDesk`]); an answer from the
//! app (`POST /api/prompts/{id}/allow|deny`) is handed to it, and the hook prints it in the
//! agent's format. A prompt is settled without us when its session moves on (answered in the
//! terminal, or the agent is gone) or when its wait runs out; then the hook exits quietly and
//! the terminal's own prompt stays. Every change goes to the live feed (`prompt` frames) and
//! every answer to the audit log. Kept in memory: after a restart a waiting hook finds its
//! prompt unknown and exits, leaving the terminal's prompt.

pub mod settings;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::access::{Access, Caller, Event as AuditEvent};
use crate::agents;
use crate::alerts::engine::Alerts;
use crate::clock::Clock;
use crate::ingest::{AnswerDesk, Waited};
use crate::live::{Hub, Published};
use crate::normalize::Agent;
use crate::proto::store::Event;
pub use settings::Settings;

/// Resolved prompts kept for the dashboard (newest last); pending ones are always kept.
const KEPT: usize = 200;
/// How long a waiting hook's first request may come before its prompt is registered (the
/// commit reaches this stage a moment after the hook's POST is answered).
const REGISTRATION_GRACE: Duration = Duration::from_secs(2);
/// How long an answer waits for the hook to take it before it is reported as not taken yet.
const DELIVERY_WAIT: Duration = Duration::from_secs(2);
/// A waiting hook asks again at once after each long poll: this long without a request of its
/// in progress, it is gone — the agent took the answer in the terminal and ended its hook
/// (Claude Code kills it; Copilot CLI does on a cancel), or the hook was killed.
const HOOK_GONE_NS: i64 = 3_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Allowed,
    Denied,
    AnsweredInTerminal,
    AgentGone,
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Allowed => "allowed",
            State::Denied => "denied",
            State::AnsweredInTerminal => "answered_in_terminal",
            State::AgentGone => "agent_gone",
            State::Expired => "expired",
        }
    }
}

/// One permission prompt, as the API and the live feed show it.
#[derive(Clone, Debug, Serialize)]
pub struct Prompt {
    pub id: String,
    pub session_id: String,
    pub agent: String,
    pub tool: String,
    pub detail: String,
    pub asked_unix_nano: i64,
    pub state: State,
    pub resolved_unix_nano: i64,
    /// Who answered through us: "token" or the device's name.
    pub by: Option<String>,
    pub message: Option<String>,
    /// The agent's hook took our decision.
    pub delivered: bool,
    pub answerable: bool,
    pub why_not: Option<String>,
    /// For agents that show their own prompt only once the hook gives up: when that is.
    pub holds_terminal_prompt_until_unix_nano: i64,
    #[serde(skip)]
    expires_unix_nano: i64,
    /// Requests of its hook in progress, and when one last ended (or the prompt was made).
    #[serde(skip)]
    polls: usize,
    #[serde(skip)]
    last_polled_unix_nano: i64,
}

/// Why an answer was not taken; the web layer maps it to a status.
#[derive(Debug)]
pub enum Refused {
    NotFound(String),
    Conflict(String),
}

#[derive(Clone)]
pub struct Answers {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    hub: Hub,
    alerts: Alerts,
    access: Access,
    clock: Clock,
    prompts: Mutex<VecDeque<Prompt>>,
    /// Woken at every change (a prompt made, answered, taken or settled).
    changed: Notify,
}

impl Answers {
    pub fn new(
        settings: Settings,
        hub: Hub,
        alerts: Alerts,
        access: Access,
        clock: Clock,
    ) -> Answers {
        Answers {
            inner: Arc::new(Inner {
                settings,
                hub,
                alerts,
                access,
                clock,
                prompts: Mutex::default(),
                changed: Notify::new(),
            }),
        }
    }

    fn prompts(&self) -> MutexGuard<'_, VecDeque<Prompt>> {
        self.inner.prompts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the commits (prompts made and settled) and expires prompts whose wait ran out.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let mut commits = self.inner.hub.tap();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                c = commits.recv() => match c {
                    Some(c) => self.on_commit(&c),
                    None => return Ok(()),
                },
                _ = tick.tick() => self.expire(),
                _ = cancel.cancelled() => return Ok(()),
            }
        }
    }

    fn on_commit(&self, c: &Published) {
        for e in c.events.iter().filter(|e| e.kind == "permission_requested") {
            self.asked(e);
        }
        for s in &c.sessions {
            if s.state == "awaiting_permission" {
                continue;
            }
            let settled = match s.state.as_str() {
                "ended" | "crashed" | "killed" => State::AgentGone,
                _ => State::AnsweredInTerminal,
            };
            self.settle(|p| p.session_id == s.id, settled);
        }
    }

    /// A prompt for permission request `e`.
    fn asked(&self, e: &Event) {
        let agent = e.session_id.split(':').next().unwrap_or_default();
        let spec = agents::spec(Agent::parse(agent).unwrap_or(Agent::Generic));
        let now = self.inner.clock.now();
        let opted_out = |a: &agents::Answers| {
            a.opt_in
                .filter(|_| !self.inner.settings.opt_in.iter().any(|o| o == agent))
                .map(|why| {
                    format!(
                        "{why}; answer it in its terminal, or list it in [answers] opt_in = \
                         [\"{agent}\"] to answer its prompts from the phone"
                    )
                })
        };
        let (answerable, why_not, wait) = match &spec.answers {
            Ok(a) if opted_out(a).is_some() => (false, opted_out(a), 0),
            Ok(a) if !e.prompt_id.is_empty() => {
                let secs = if a.prompt_after_hook {
                    self.inner.settings.hold_terminal_prompt_secs
                } else {
                    self.inner.settings.wait_secs
                };
                (true, None, secs)
            }
            Ok(_) => (
                false,
                Some(format!(
                    "its hook does not wait for an answer (a run nobody attends, or hooks set up \
                     before answers were: run `observatory setup {}` again)",
                    spec.names.first().copied().unwrap_or(agent)
                )),
                0,
            ),
            Err(why) => (false, Some((*why).to_owned()), 0),
        };
        let held = answerable && spec.answers.as_ref().is_ok_and(|a| a.prompt_after_hook);
        let expires = now + (wait as i64).saturating_mul(1_000_000_000);
        let prompt = Prompt {
            id: if e.prompt_id.is_empty() {
                format!("event-{}", e.seq)
            } else {
                e.prompt_id.clone()
            },
            session_id: e.session_id.clone(),
            agent: agent.to_owned(),
            tool: e.tool_name.clone(),
            detail: e.detail.clone(),
            asked_unix_nano: now,
            state: State::Pending,
            resolved_unix_nano: 0,
            by: None,
            message: None,
            delivered: false,
            answerable,
            why_not,
            holds_terminal_prompt_until_unix_nano: if held { expires } else { 0 },
            expires_unix_nano: if answerable { expires } else { i64::MAX },
            polls: 0,
            last_polled_unix_nano: now,
        };
        {
            let mut prompts = self.prompts();
            // The same ask told again without a key (Claude Code's `permission_prompt`
            // notification after its PermissionRequest) is not a second prompt.
            let again = e.prompt_id.is_empty()
                && prompts
                    .iter()
                    .any(|p| p.session_id == prompt.session_id && p.state == State::Pending);
            if again || prompts.iter().any(|p| p.id == prompt.id) {
                return;
            }
            prompts.push_back(prompt.clone());
            while prompts.len() > KEPT {
                match prompts.iter().position(|p| p.state != State::Pending) {
                    Some(i) => prompts.remove(i),
                    None => prompts.pop_front(),
                };
            }
        }
        self.changed(&prompt);
    }

    /// Settles the pending prompts `which` picks as `state`.
    fn settle(&self, which: impl Fn(&Prompt) -> bool, state: State) {
        let now = self.inner.clock.now();
        let settled: Vec<Prompt> = self
            .prompts()
            .iter_mut()
            .filter(|p| p.state == State::Pending && which(p))
            .map(|p| {
                p.state = state;
                p.resolved_unix_nano = now;
                p.clone()
            })
            .collect();
        for p in &settled {
            self.changed(p);
        }
    }

    fn expire(&self) {
        let now = self.inner.clock.now();
        self.settle(|p| p.expires_unix_nano <= now, State::Expired);
        let gone = |p: &Prompt| {
            p.answerable
                && p.polls == 0
                && now.saturating_sub(p.last_polled_unix_nano) > HOOK_GONE_NS
                && now.saturating_sub(p.asked_unix_nano) > REGISTRATION_GRACE.as_nanos() as i64
        };
        self.settle(gone, State::AnsweredInTerminal);
    }

    /// Counts a request of prompt `key`'s hook in progress until the returned guard drops
    /// (the request ended, or its connection closed).
    fn polling(&self, key: &str) -> Polling {
        let mut p = Polling {
            answers: self.clone(),
            key: key.to_owned(),
            counted: false,
        };
        p.count();
        p
    }

    /// Adds `delta` to the requests in progress of prompt `key`; whether there is one.
    fn note_poll(&self, key: &str, delta: isize) -> bool {
        let now = self.inner.clock.now();
        let mut prompts = self.prompts();
        let Some(p) = prompts.iter_mut().find(|p| p.id == key) else {
            return false;
        };
        p.polls = p.polls.saturating_add_signed(delta);
        p.last_polled_unix_nano = now;
        true
    }

    fn changed(&self, p: &Prompt) {
        self.inner.hub.frame("prompt", "prompt", p);
        self.inner.changed.notify_waiters();
        if p.answerable && p.state != State::Pending && !(p.delivered && p.by.is_some()) {
            // Settled: the notification that offered Allow and Deny says how, quietly (once:
            // not again when the hook takes our answer).
            let (alerts, id, body) = (self.inner.alerts.clone(), p.id.clone(), outcome(p));
            tokio::spawn(async move { alerts.settle_prompt(&id, body).await });
        }
    }

    /// The prompts of `session` (pending and the newest resolved, newest first), or every
    /// pending prompt.
    pub fn list(&self, session: Option<&str>) -> Vec<Prompt> {
        self.expire();
        let prompts = self.prompts();
        let mut out: Vec<Prompt> = prompts
            .iter()
            .rev()
            .filter(|p| match session {
                Some(s) => p.session_id == s,
                None => p.state == State::Pending,
            })
            .cloned()
            .collect();
        out.truncate(20.max(out.iter().filter(|p| p.state == State::Pending).count()));
        out
    }

    fn find(&self, id: &str) -> Option<Prompt> {
        self.prompts().iter().find(|p| p.id == id).cloned()
    }

    /// Allows or denies prompt `id` for `caller` (who may do it is the access stage's
    /// business); waits a moment for the agent's hook to take it.
    pub async fn answer(
        &self,
        caller: &Caller,
        id: &str,
        allow: bool,
        message: Option<String>,
    ) -> Result<Prompt, Refused> {
        self.expire();
        let decided = self.decide(caller, id, allow, message);
        let prompt = match decided {
            Ok(p) => p,
            Err(Refused::Conflict(why)) => {
                let session = self.find(id).map(|p| p.session_id).unwrap_or_default();
                let entry = AuditEvent::refused("answer", &why).on(&session);
                self.inner.access.audit().record(caller, entry).await;
                return Err(Refused::Conflict(why));
            }
            Err(e) => return Err(e),
        };
        self.changed(&prompt);
        let taken = self.until_taken(prompt.clone()).await;
        let verb = if allow { "allowed" } else { "denied" };
        let detail = format!(
            "{verb} {}{}{}",
            prompt.tool,
            if prompt.detail.is_empty() { "" } else { ": " },
            prompt.detail
        );
        let detail = if taken.delivered {
            format!("{detail} (the agent's hook took it)")
        } else {
            format!("{detail} (the agent's hook has not taken it yet)")
        };
        let entry = AuditEvent::ok("answer", detail).on(&prompt.session_id);
        self.inner.access.audit().record(caller, entry).await;
        Ok(taken)
    }

    fn decide(
        &self,
        caller: &Caller,
        id: &str,
        allow: bool,
        message: Option<String>,
    ) -> Result<Prompt, Refused> {
        let mut prompts = self.prompts();
        let p = prompts
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(|| Refused::NotFound(format!("no prompt {id:?}")))?;
        if !p.answerable {
            return Err(Refused::Conflict(format!(
                "no answer can reach this agent: {}",
                p.why_not.as_deref().unwrap_or("answer it in its terminal")
            )));
        }
        if p.state != State::Pending {
            return Err(Refused::Conflict(already(p)));
        }
        p.state = if allow { State::Allowed } else { State::Denied };
        p.resolved_unix_nano = self.inner.clock.now();
        p.by = Some(match caller.device_id() {
            Some(_) => caller.describe(),
            None => "token".to_owned(),
        });
        p.message = (!allow).then(|| {
            message
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| format!("Denied by the user from {}", caller.describe()))
        });
        Ok(p.clone())
    }

    /// `decided` once its hook took it, or as it is after [`DELIVERY_WAIT`].
    async fn until_taken(&self, decided: Prompt) -> Prompt {
        let deadline = tokio::time::Instant::now() + DELIVERY_WAIT;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = self.find(&decided.id).unwrap_or_else(|| decided.clone());
            if now.delivered || tokio::time::Instant::now() >= deadline {
                return now;
            }
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }

    /// What the hook waiting on `key` is told now; a decision is marked taken.
    fn state_for_hook(&self, key: &str) -> Option<Waited> {
        let now = self.inner.clock.now();
        let mut prompts = self.prompts();
        let p = prompts.iter_mut().find(|p| p.id == key)?;
        if p.state == State::Pending && p.expires_unix_nano <= now {
            p.state = State::Expired;
            p.resolved_unix_nano = now;
        }
        let waited = match p.state {
            // Nothing will come: the hook need not wait.
            State::Pending if !p.answerable => Waited::Resolved("not_answerable".to_owned()),
            State::Pending => Waited::Pending,
            State::Allowed | State::Denied => {
                p.delivered = true;
                Waited::Decided {
                    allow: p.state == State::Allowed,
                    message: p.message.clone().unwrap_or_default(),
                }
            }
            other => Waited::Resolved(other.as_str().to_owned()),
        };
        Some(waited)
    }

    async fn wait_for_hook(self, key: String, wait: Duration) -> Waited {
        let mut polling = self.polling(&key);
        let start = tokio::time::Instant::now();
        let deadline = start + wait;
        let grace = start + REGISTRATION_GRACE.min(wait);
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = tokio::time::Instant::now();
            // A request may come before its prompt is made (the commit lags the POST's answer).
            polling.count();
            let until = match self.state_for_hook(&key) {
                Some(Waited::Pending) if now < deadline => deadline,
                None if now < grace => grace,
                None => return Waited::Unknown,
                Some(w) => {
                    if let (Waited::Decided { .. }, Some(p)) = (&w, self.find(&key)) {
                        // Taken: the dashboard shows it, and the answer's request returns.
                        self.changed(&p);
                    }
                    return w;
                }
            };
            let _ = tokio::time::timeout_at(until, changed).await;
        }
    }
}

/// A request of a prompt's hook in progress (see [`Answers::polling`]).
struct Polling {
    answers: Answers,
    key: String,
    counted: bool,
}

impl Polling {
    fn count(&mut self) {
        if !self.counted {
            self.counted = self.answers.note_poll(&self.key, 1);
        }
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        if self.counted {
            self.answers.note_poll(&self.key, -1);
        }
    }
}

/// How a prompt was settled, for the notification that replaces the one that asked.
fn outcome(p: &Prompt) -> String {
    let by = p.by.as_deref().unwrap_or("the phone");
    let by = if by == "token" {
        "with the control token"
    } else {
        by
    };
    match p.state {
        State::Allowed if by.starts_with("with") => format!("Allowed {by}"),
        State::Allowed => format!("Allowed from {by}"),
        State::Denied if by.starts_with("with") => format!("Denied {by}"),
        State::Denied => format!("Denied from {by}"),
        State::AnsweredInTerminal => "Answered in the terminal".into(),
        State::AgentGone => "The agent is gone".into(),
        State::Expired => "Not answered here: answer it in the terminal".into(),
        State::Pending => "Waiting for you".into(),
    }
}

/// Why a settled prompt takes no answer.
fn already(p: &Prompt) -> String {
    let by = p.by.as_deref().unwrap_or("elsewhere");
    match p.state {
        State::AnsweredInTerminal => "already answered in the terminal".into(),
        State::Allowed => format!("already allowed from {by}"),
        State::Denied => format!("already denied from {by}"),
        State::AgentGone => "the agent is gone".into(),
        State::Expired => {
            "expired: the agent's hook stopped waiting; answer it in the terminal".into()
        }
        State::Pending => "still pending".into(),
    }
}

impl AnswerDesk for Answers {
    fn wait(
        &self,
        key: String,
        wait: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Waited> + Send>> {
        Box::pin(self.clone().wait_for_hook(key, wait))
    }

    fn takes(&self, agent: Agent) -> bool {
        match &agents::spec(agent).answers {
            Ok(a) => {
                a.opt_in.is_none()
                    || self
                        .inner
                        .settings
                        .opt_in
                        .iter()
                        .any(|o| o == agent.as_str())
            }
            Err(_) => false,
        }
    }
}
