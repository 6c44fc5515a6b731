//! Fixed-window rate limits per customer and per user. The worker keeps one customer's counters in that
//! customer's Durable Object (`Counter` below), which handles its requests one at a time, so the counts are
//! exact across isolates and one customer's traffic never touches another's counters.

use std::collections::HashMap;

use super::customer::Customer;
use super::EdgeError;

/// Window length.
pub const WINDOW_SECONDS: u64 = 60;

/// The start of the window `now` falls in, and the seconds until the next one.
pub fn window(now: u64) -> (u64, u64) {
    let start = now - now % WINDOW_SECONDS;
    (start, start + WINDOW_SECONDS - now)
}

/// One customer's counts in the current window: the customer's total and each of its users'.
#[derive(Debug, Default)]
pub struct Counter {
    window: u64,
    customer: u64,
    users: HashMap<String, u64>,
}

impl Counter {
    /// Counts one request of `user` at `now` (seconds) and returns (customer count, user count), this request
    /// included. A new window starts from zero, so the map holds only this minute's users.
    pub fn hit(&mut self, user: &str, now: u64) -> (u64, u64) {
        let (start, _) = window(now);
        if start != self.window {
            self.window = start;
            self.customer = 0;
            self.users.clear();
        }
        self.customer += 1;
        let u = self.users.entry(user.to_string()).or_insert(0);
        *u += 1;
        (self.customer, *u)
    }
}

/// Counter keys: the customer, and the user within the customer (user ids are unique per customer only).
pub fn keys(customer_id: &str, user_id: &str) -> (String, String) {
    (
        format!("c:{customer_id}"),
        format!("u:{customer_id}:{user_id}"),
    )
}

/// Effective limits: the customer's own, else the deployment defaults.
pub fn limits(customer: &Customer, default_customer: u32, default_user: u32) -> (u32, u32) {
    let rl = customer.rate_limit.unwrap_or(super::customer::RateLimit {
        per_minute: None,
        per_user_per_minute: None,
    });
    (
        rl.per_minute.unwrap_or(default_customer),
        rl.per_user_per_minute.unwrap_or(default_user),
    )
}

/// Refuses when either counter (already including this request) is over its limit.
pub fn check(
    customer_count: u64,
    user_count: u64,
    limits: (u32, u32),
    now: u64,
) -> Result<(), EdgeError> {
    let (_, retry) = window(now);
    if customer_count > limits.0 as u64 {
        return Err(EdgeError::new(
            429,
            "rate_limited",
            "Too many token requests for your organisation; slow down.",
        )
        .retry_after(retry));
    }
    if user_count > limits.1 as u64 {
        return Err(EdgeError::new(
            429,
            "rate_limited",
            "Too many token requests for this user; slow down.",
        )
        .retry_after(retry));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_retry_after() {
        assert_eq!(window(120), (120, 60));
        assert_eq!(window(179), (120, 1));
        assert_eq!(
            keys("contoso", "alice"),
            ("c:contoso".into(), "u:contoso:alice".into())
        );
        assert!(check(10, 5, (10, 5), 130).is_ok());
        let e = check(11, 1, (10, 5), 130).unwrap_err();
        assert_eq!((e.status, e.retry_after), (429, Some(50)));
        let e = check(1, 6, (10, 5), 179).unwrap_err();
        assert_eq!((e.status, e.retry_after), (429, Some(1)));
        assert!(e.message.contains("user"));
    }

    #[test]
    fn counter_counts_per_window_and_user() {
        let mut c = Counter::default();
        assert_eq!(c.hit("alice", 120), (1, 1));
        assert_eq!(c.hit("bob", 130), (2, 1));
        assert_eq!(c.hit("alice", 179), (3, 2));
        // next window: both counts start again
        assert_eq!(c.hit("alice", 180), (1, 1));
        assert_eq!(c.users.len(), 1);
    }
}
