//! Running figures for the live view: money burnt (USD/min over the last 5 minutes, USD/hour,
//! today, a 30-day projection at the last hour's rate) and tool latency percentiles per tool
//! name over a window. Fed by the commit stage with every committed batch; pure apart from the
//! time passed in, so it is tested with a fixed clock.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use crate::proto::store::Event;

const MINUTE: i64 = 60 * 1_000_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

pub struct Figures {
    /// (time, USD) of each priced api request in the last hour.
    costs: VecDeque<(i64, f64)>,
    /// Spend since the start of the current UTC day, and that day's start.
    today: f64,
    day_start: i64,
    /// (time, tool, ms) of each finished tool call inside `tool_window`.
    tools: VecDeque<(i64, String, f64)>,
    tool_window: i64,
}

impl Figures {
    pub fn new(tool_window_secs: u64) -> Figures {
        Figures {
            costs: VecDeque::new(),
            today: 0.0,
            day_start: 0,
            tools: VecDeque::new(),
            tool_window: i64::try_from(tool_window_secs).unwrap_or(i64::MAX / 2) * 1_000_000_000,
        }
    }

    /// Takes in committed events (api requests' cost, finished tools' durations).
    pub fn add(&mut self, events: &[Event], now: i64) {
        self.roll(now);
        for e in events {
            let t = if e.time_unix_nano > 0 {
                e.time_unix_nano
            } else {
                now
            };
            match e.kind.as_str() {
                "api_request" => {
                    if let Some(usd) = e.cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
                        if t > now - HOUR {
                            self.costs.push_back((t, usd));
                        }
                        if t >= self.day_start {
                            self.today += usd;
                        }
                    }
                }
                "tool_finished" => {
                    let ms = e.duration_ms.filter(|d| d.is_finite() && *d >= 0.0);
                    if let Some(ms) = ms.filter(|_| t > now - self.tool_window) {
                        self.tools.push_back((t, e.tool_name.clone(), ms));
                    }
                }
                _ => {}
            }
        }
    }

    /// Drops what fell out of the windows and starts a new day at UTC midnight.
    fn roll(&mut self, now: i64) {
        let day_start = now - now.rem_euclid(DAY);
        if day_start != self.day_start {
            self.day_start = day_start;
            self.today = self
                .costs
                .iter()
                .filter(|(t, _)| *t >= day_start)
                .map(|(_, c)| c)
                .sum();
        }
        while self.costs.front().is_some_and(|(t, _)| *t <= now - HOUR) {
            self.costs.pop_front();
        }
        while self
            .tools
            .front()
            .is_some_and(|(t, _, _)| *t <= now - self.tool_window)
        {
            self.tools.pop_front();
        }
    }

    /// Spend since the start of the current UTC day, in USD.
    pub fn today(&mut self, now: i64) -> f64 {
        self.roll(now);
        self.today
    }

    /// The burn figures, in USD.
    pub fn burn(&mut self, now: i64) -> Value {
        self.roll(now);
        let last = |window: i64| -> f64 {
            self.costs
                .iter()
                .filter(|(t, _)| *t > now - window)
                .map(|(_, c)| c)
                .sum()
        };
        let per_hour = last(HOUR);
        json!({
            "usd_per_min": round(last(5 * MINUTE) / 5.0),
            "usd_per_hour": round(per_hour),
            "usd_today": round(self.today),
            "usd_projected_month": round(per_hour * 24.0 * 30.0),
        })
    }

    /// P50/P95/P99 duration per tool name over the window.
    pub fn tool_latency(&mut self, now: i64) -> Value {
        self.roll(now);
        let mut by_tool: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for (_, tool, ms) in &self.tools {
            by_tool.entry(tool.as_str()).or_default().push(*ms);
        }
        let tools: Vec<Value> = by_tool
            .into_iter()
            .map(|(tool, mut ms)| {
                ms.sort_by(f64::total_cmp);
                json!({
                    "tool": tool,
                    "count": ms.len(),
                    "p50_ms": percentile(&ms, 0.50),
                    "p95_ms": percentile(&ms, 0.95),
                    "p99_ms": percentile(&ms, 0.99),
                })
            })
            .collect();
        json!({ "window_secs": self.tool_window / 1_000_000_000, "tools": tools })
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(usd: f64) -> f64 {
    (usd * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(t: i64, usd: f64) -> Event {
        Event {
            kind: "api_request".into(),
            time_unix_nano: t,
            cost_usd: Some(usd),
            ..Event::default()
        }
    }

    fn tool(t: i64, name: &str, ms: f64) -> Event {
        Event {
            kind: "tool_finished".into(),
            time_unix_nano: t,
            tool_name: name.into(),
            duration_ms: Some(ms),
            ..Event::default()
        }
    }

    #[test]
    fn burn_windows_and_the_day_roll_over() {
        let day = 20_000 * DAY;
        let now = day + 2 * HOUR;
        let mut f = Figures::new(900);
        f.add(
            &[
                api(now - 2 * MINUTE, 1.0),
                api(now - 30 * MINUTE, 2.0),
                api(now - 3 * HOUR, 4.0),
                api(now, 0.5),
            ],
            now,
        );
        let b = f.burn(now);
        assert_eq!(b["usd_per_min"], 0.3); // (1.0 + 0.5) / 5 min
        assert_eq!(b["usd_per_hour"], 3.5);
        assert_eq!(
            b["usd_today"], 3.5,
            "3 h ago, before UTC midnight, is yesterday"
        );
        assert_eq!(b["usd_projected_month"], 3.5 * 24.0 * 30.0);
        // 59 minutes on, the 5-minute window is empty and the hour holds only the last request.
        let b = f.burn(now + HOUR - MINUTE);
        assert_eq!(b["usd_per_min"], 0.0);
        assert_eq!(b["usd_per_hour"], 0.5);
        assert_eq!(b["usd_today"], 3.5, "the day's total stays");
        // A new UTC day starts from zero.
        let b = f.burn(day + DAY + MINUTE);
        assert_eq!(b["usd_today"], 0.0);
    }

    #[test]
    fn tool_latency_percentiles_per_tool_within_the_window() {
        let now = 1_000 * DAY;
        let mut f = Figures::new(60);
        let mut events: Vec<Event> = (1..=100)
            .map(|i| tool(now - 1_000_000, "Bash", f64::from(i)))
            .collect();
        events.push(tool(now, "Read", 5.0));
        events.push(tool(now - 2 * MINUTE, "Read", 500.0)); // outside the window
        f.add(&events, now);
        let v = f.tool_latency(now);
        let tools = v["tools"].as_array().expect("tools");
        assert_eq!(tools[0]["tool"], "Bash");
        assert_eq!(
            (
                tools[0]["p50_ms"].as_f64(),
                tools[0]["p95_ms"].as_f64(),
                tools[0]["p99_ms"].as_f64()
            ),
            (Some(50.0), Some(95.0), Some(99.0))
        );
        assert_eq!(tools[1]["tool"], "Read");
        assert_eq!(tools[1]["count"], 1);
        assert_eq!(tools[1]["p99_ms"], 5.0);
    }
}
