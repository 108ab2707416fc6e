//! Running totals since start for `/metrics`: tokens, cost and model calls by agent and model,
//! API errors by agent and status, tool calls and failures by agent and tool. Fed with every
//! committed batch, in the commit stage (nothing is missed however slow a scraper is). Label
//! values are bounded: at most [`MAX_NAMES`] models and tools per agent each, later ones are
//! counted under `other`, so a run of generated tool names cannot grow the series without end.

use std::collections::{BTreeMap, BTreeSet};

use crate::proto::store::Event;

/// Distinct model or tool names kept per agent before the rest go under `other`.
pub const MAX_NAMES: usize = 30;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelTotals {
    pub requests: u64,
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// Known cost in USD (reported or priced).
    pub cost_usd: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolTotals {
    pub calls: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// (agent, model) →
    pub models: BTreeMap<(String, String), ModelTotals>,
    /// (agent, status code or "none") → API errors.
    pub api_errors: BTreeMap<(String, String), u64>,
    /// (agent, tool) →
    pub tools: BTreeMap<(String, String), ToolTotals>,
    /// The names each agent has its own series for, per kind (models, tools).
    named: BTreeMap<(String, &'static str), BTreeSet<String>>,
}

fn agent_of(e: &Event) -> &str {
    e.session_id.split(':').next().unwrap_or_default()
}

impl Totals {
    /// `name` as a label value: itself while the agent has fewer than [`MAX_NAMES`] names of
    /// this kind, `other` after; `unknown` when empty.
    fn label(&mut self, agent: &str, kind: &'static str, name: &str) -> String {
        if name.is_empty() {
            return "unknown".into();
        }
        let names = self.named.entry((agent.to_owned(), kind)).or_default();
        if names.contains(name) || names.len() < MAX_NAMES && names.insert(name.to_owned()) {
            name.to_owned()
        } else {
            "other".into()
        }
    }

    pub fn add(&mut self, events: &[Event]) {
        for e in events {
            let agent = agent_of(e).to_owned();
            match e.kind.as_str() {
                "api_request" => {
                    let model = self.label(&agent, "model", &e.model);
                    let m = self.models.entry((agent, model)).or_default();
                    let t = e.tokens.unwrap_or_default();
                    m.requests += 1;
                    m.input += t.input;
                    m.output += t.output;
                    m.cache_read += t.cache_read;
                    m.cache_write += t.cache_write;
                    m.cost_usd += e
                        .cost_usd
                        .filter(|c| c.is_finite() && *c > 0.0)
                        .unwrap_or(0.0);
                }
                "api_error" => {
                    let status = e
                        .status_code
                        .map_or_else(|| "none".into(), |c| c.to_string());
                    *self.api_errors.entry((agent, status)).or_default() += 1;
                }
                "tool_finished" => {
                    let tool = self.label(&agent, "tool", &e.tool_name);
                    let t = self.tools.entry((agent, tool)).or_default();
                    t.calls += 1;
                    t.failed += u64::from(e.success == Some(false));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::store::Tokens;

    fn event(kind: &str, f: impl FnOnce(&mut Event)) -> Event {
        let mut e = Event {
            session_id: "codex:s1".into(),
            kind: kind.into(),
            ..Event::default()
        };
        f(&mut e);
        e
    }

    #[test]
    fn totals_add_up_by_agent_model_status_and_tool_with_names_capped() {
        let mut t = Totals::default();
        let call = event("api_request", |e| {
            e.model = "gpt-5".into();
            e.tokens = Some(Tokens {
                input: 10,
                output: 3,
                cache_read: 5,
                cache_write: 0,
            });
            e.cost_usd = Some(0.25);
        });
        let err = event("api_error", |e| e.status_code = Some(529));
        let failed = event("tool_finished", |e| {
            e.tool_name = "shell".into();
            e.success = Some(false);
        });
        t.add(&[call.clone(), call, err, failed]);
        let m = &t.models[&("codex".into(), "gpt-5".into())];
        assert_eq!(
            (m.requests, m.input, m.output, m.cache_read),
            (2, 20, 6, 10)
        );
        assert!((m.cost_usd - 0.5).abs() < 1e-9);
        assert_eq!(t.api_errors[&("codex".into(), "529".into())], 1);
        assert_eq!(
            t.tools[&("codex".into(), "shell".into())],
            ToolTotals {
                calls: 1,
                failed: 1
            }
        );

        let many: Vec<Event> = (0..MAX_NAMES + 5)
            .map(|i| event("tool_finished", |e| e.tool_name = format!("mcp_tool_{i}")))
            .collect();
        t.add(&many);
        let codex_tools = t.tools.keys().filter(|(a, _)| a == "codex").count();
        assert_eq!(codex_tools, MAX_NAMES + 1, "{MAX_NAMES} names and `other`");
        assert_eq!(t.tools[&("codex".into(), "other".into())].calls, 6);
    }
}
