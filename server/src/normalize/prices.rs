//! The price table that gives a cost to agents that report none (Codex, Gemini CLI, Copilot CLI,
//! OpenCode). Prices are USD per million tokens. A model missing from the table has an unknown
//! cost (`None`), never zero.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::proto::store::Tokens;

/// USD per million tokens of each kind.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: f64,
    #[serde(default)]
    pub cache_write: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prices {
    models: BTreeMap<String, ModelPrice>,
}

/// Defaults for the models the recorded fixtures use, from the vendors' public price lists.
const DEFAULTS: &[(&str, ModelPrice)] = &[
    ("gpt-5", p(1.25, 10.0, 0.125, 0.0)),
    ("gpt-5-mini", p(0.25, 2.0, 0.025, 0.0)),
    ("gpt-5-nano", p(0.05, 0.4, 0.005, 0.0)),
    ("gpt-5-codex", p(1.25, 10.0, 0.125, 0.0)),
    ("gpt-5.1", p(1.25, 10.0, 0.125, 0.0)),
    ("gpt-5.1-codex", p(1.25, 10.0, 0.125, 0.0)),
    ("gpt-5.1-codex-mini", p(0.25, 2.0, 0.025, 0.0)),
    ("gpt-5.2", p(1.75, 14.0, 0.175, 0.0)),
    ("gpt-5.2-codex", p(1.75, 14.0, 0.175, 0.0)),
    ("gpt-5.5", p(1.75, 14.0, 0.175, 0.0)),
    ("gpt-4.1", p(2.0, 8.0, 0.5, 0.0)),
    ("gpt-4o", p(2.5, 10.0, 1.25, 0.0)),
    ("o3", p(2.0, 8.0, 0.5, 0.0)),
    ("o4-mini", p(1.1, 4.4, 0.275, 0.0)),
    ("gemini-2.5-pro", p(1.25, 10.0, 0.31, 0.0)),
    ("gemini-2.5-flash", p(0.3, 2.5, 0.075, 0.0)),
    ("gemini-2.5-flash-lite", p(0.1, 0.4, 0.025, 0.0)),
    ("gemini-3-pro-preview", p(2.0, 12.0, 0.2, 0.0)),
    ("gemini-3-flash-preview", p(0.5, 3.0, 0.05, 0.0)),
    ("gemini-3.1-pro-preview", p(2.0, 12.0, 0.2, 0.0)),
    ("gemini-3.5-flash-lite", p(0.1, 0.4, 0.01, 0.0)),
    ("gemini-3.8-flash", p(0.5, 3.0, 0.05, 0.0)),
    ("claude-opus-4-1", p(15.0, 75.0, 1.5, 18.75)),
    ("claude-opus-4-5", p(5.0, 25.0, 0.5, 6.25)),
    // The model Claude Code 2.1.328 uses by default in the recorded fixtures; its list price was
    // not published when they were recorded, so Opus 4.5's is assumed (and every cost from it is
    // marked estimated). Claude Code reports its own cost, which wins: it said $0.0177 for the
    // recorded request (1,234 input, 42 output, 8,192 cache-read, 2,048 cache-write tokens) for
    // which this gives $0.0241.
    ("claude-opus-5-5", p(5.0, 25.0, 0.5, 6.25)),
    ("claude-sonnet-4", p(3.0, 15.0, 0.3, 3.75)),
    ("claude-sonnet-4-5", p(3.0, 15.0, 0.3, 3.75)),
    ("claude-haiku-4-5", p(1.0, 5.0, 0.1, 1.25)),
    ("claude-3-5-haiku", p(0.8, 4.0, 0.08, 1.0)),
    // Copilot CLI spells Anthropic models with dots.
    ("claude-opus-4.5", p(5.0, 25.0, 0.5, 6.25)),
    ("claude-sonnet-4.5", p(3.0, 15.0, 0.3, 3.75)),
    ("claude-haiku-4.5", p(1.0, 5.0, 0.1, 1.25)),
];

const fn p(input: f64, output: f64, cache_read: f64, cache_write: f64) -> ModelPrice {
    ModelPrice {
        input,
        output,
        cache_read,
        cache_write,
    }
}

impl Default for Prices {
    fn default() -> Self {
        Prices {
            models: DEFAULTS
                .iter()
                .map(|(m, p)| ((*m).to_owned(), *p))
                .collect(),
        }
    }
}

impl Prices {
    /// The defaults with `overrides` added or replacing entries.
    pub fn with_overrides(overrides: &BTreeMap<String, ModelPrice>) -> Self {
        let mut prices = Prices::default();
        for (model, price) in overrides {
            prices.models.insert(model.to_ascii_lowercase(), *price);
        }
        prices
    }

    /// The price of a model: an exact match, else the longest table entry the name starts with
    /// (so `claude-sonnet-4-5-20250929` and `models/gemini-2.5-pro` find their family), after
    /// dropping a `provider/` prefix.
    pub fn lookup(&self, model: &str) -> Option<&ModelPrice> {
        let model = model.trim().to_ascii_lowercase();
        let model = model.rsplit('/').next().unwrap_or(&model);
        if let Some(p) = self.models.get(model) {
            return Some(p);
        }
        self.models
            .iter()
            .filter(|(name, _)| {
                model.starts_with(name.as_str()) && model[name.len()..].starts_with(['-', '@', ':'])
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| p)
    }

    /// The cost of a request, or `None` when the model is not in the table.
    pub fn cost(&self, model: &str, tokens: &Tokens) -> Option<f64> {
        let p = self.lookup(model)?;
        let per = |n: u64, price: f64| n as f64 * price / 1_000_000.0;
        Some(
            per(tokens.input, p.input)
                + per(tokens.output, p.output)
                + per(tokens.cache_read, p.cache_read)
                + per(tokens.cache_write, p.cache_write),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_models_have_unknown_cost_and_families_match_by_prefix() {
        let prices = Prices::default();
        let t = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            cache_read: 0,
            cache_write: 0,
        };
        assert_eq!(prices.cost("no-such-model", &t), None);
        assert_eq!(prices.cost("gpt-5", &t), Some(11.25));
        // A dated snapshot finds its family; a longer family wins over a shorter one.
        assert_eq!(prices.cost("claude-sonnet-4-5-20250929", &t), Some(18.0));
        assert_eq!(prices.cost("gpt-5-mini-2025-08-07", &t), Some(2.25));
        assert_eq!(prices.cost("models/gemini-2.5-pro", &t), Some(11.25));
        // A different model that merely shares leading characters is not a match.
        assert_eq!(prices.lookup("gpt-50"), None);
        // A dot is a different version, not a snapshot of the shorter name.
        assert_eq!(prices.lookup("gpt-5.9"), None);
    }

    #[test]
    fn overrides_replace_defaults() {
        let mut o = BTreeMap::new();
        o.insert("GPT-5".to_owned(), p(1.0, 1.0, 0.0, 0.0));
        let prices = Prices::with_overrides(&o);
        assert_eq!(prices.lookup("gpt-5").map(|p| p.input), Some(1.0));
    }
}
