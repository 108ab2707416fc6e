//! Failed credentials, counted per client: after [`MAX_FAILURES`] within [`WINDOW`], the client
//! is refused (429) for [`BLOCK`] whatever it presents. Pairing codes are ten characters of a
//! 32-letter alphabet (50 bits) and live ten minutes: at ten guesses per five minutes, guessing
//! one is out of reach.

use std::collections::HashMap;

pub const MAX_FAILURES: usize = 10;
pub const WINDOW_NS: i64 = 300 * 1_000_000_000;
pub const BLOCK_NS: i64 = 300 * 1_000_000_000;
/// Clients remembered at most; the quietest are forgotten first.
const MAX_CLIENTS: usize = 4096;

#[derive(Default)]
pub struct Limiter {
    clients: HashMap<String, Client>,
}

#[derive(Default)]
struct Client {
    failures: Vec<i64>,
    blocked_until: i64,
}

/// What a failure did.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    /// Counted; the client may try again.
    Counted,
    /// This failure blocked the client, until the given time.
    Blocked(i64),
}

impl Limiter {
    /// When `client` may try again, if it is blocked now.
    pub fn blocked_until(&self, client: &str, now: i64) -> Option<i64> {
        self.clients
            .get(client)
            .map(|c| c.blocked_until)
            .filter(|until| *until > now)
    }

    pub fn fail(&mut self, client: &str, now: i64) -> Failed {
        if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(client) {
            self.forget_quietest();
        }
        let c = self.clients.entry(client.to_owned()).or_default();
        c.failures.retain(|t| now - *t < WINDOW_NS);
        c.failures.push(now);
        if c.failures.len() >= MAX_FAILURES {
            c.failures.clear();
            c.blocked_until = now + BLOCK_NS;
            Failed::Blocked(c.blocked_until)
        } else {
            Failed::Counted
        }
    }

    fn forget_quietest(&mut self) {
        let last = |c: &Client| c.failures.last().copied().unwrap_or(0).max(c.blocked_until);
        if let Some(k) = self
            .clients
            .iter()
            .min_by_key(|(_, c)| last(c))
            .map(|(k, _)| k.clone())
        {
            self.clients.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_in_the_window_block_the_client_for_a_while() {
        let mut l = Limiter::default();
        let s = 1_000_000_000;
        for i in 0..(MAX_FAILURES as i64 - 1) {
            assert_eq!(l.fail("a", i * s), Failed::Counted);
        }
        assert_eq!(l.blocked_until("a", 9 * s), None);
        assert_eq!(l.fail("a", 10 * s), Failed::Blocked(10 * s + BLOCK_NS));
        assert!(l.blocked_until("a", 11 * s).is_some());
        assert_eq!(l.blocked_until("b", 11 * s), None, "per client");
        assert_eq!(l.blocked_until("a", 10 * s + BLOCK_NS), None, "it ends");
        // Failures spread wider than the window never block.
        let mut l = Limiter::default();
        for i in 0..30 {
            assert_eq!(l.fail("a", i * WINDOW_NS / 5), Failed::Counted);
        }
    }
}
