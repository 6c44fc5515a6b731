//! Bounded retries with jitter inside an overall deadline, and `Retry-After`.
//!
//! [`Exchange`] is the loop every driver runs: ask it for the attempt's timeout, send, hand it the
//! outcome, and it answers with the 2xx response, a wait, or the final [`Failure`].

use crate::failure::Failure;
use crate::Response;

/// Bounded retries with jitter inside an overall deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_ms: u64,
    pub cap_ms: u64,
    /// Everything (all attempts and waits) must finish within this many ms of the first attempt.
    pub deadline_ms: u64,
    pub attempt_timeout_ms: u64,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Status(u16),
    Timeout,
    Network,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this many ms, then try again.
    RetryIn(u64),
    GiveUp,
}

/// Smallest useful remaining time for one more attempt.
const MIN_ATTEMPT_MS: u64 = 50;

impl RetryPolicy {
    /// Whether an outcome may be retried at all. 429 and 503 are the service asking to come back later;
    /// 502/504 and network errors are transient; a timeout is retried when a full attempt still fits.
    pub fn retryable(a: Attempt) -> bool {
        matches!(
            a,
            Attempt::Status(429 | 502 | 503 | 504) | Attempt::Network | Attempt::Timeout
        )
    }

    /// The timeout for the next attempt, `None` when the deadline leaves no room.
    pub fn attempt_timeout(&self, elapsed_ms: u64) -> Option<u64> {
        let left = self.deadline_ms.saturating_sub(elapsed_ms);
        (left >= MIN_ATTEMPT_MS).then(|| left.min(self.attempt_timeout_ms))
    }

    /// Decides what to do after attempt number `attempt` (1-based) ended with `outcome`.
    /// `retry_after_ms` is the server's `Retry-After`; `rand` is a uniform random number (jitter).
    pub fn next(
        &self,
        attempt: u32,
        outcome: Attempt,
        retry_after_ms: Option<u64>,
        elapsed_ms: u64,
        rand: u32,
    ) -> Next {
        if !Self::retryable(outcome) || attempt >= self.max_attempts {
            return Next::GiveUp;
        }
        let exp = self
            .base_ms
            .saturating_mul(1u64 << (attempt - 1).min(20))
            .min(self.cap_ms)
            .max(1);
        // Equal jitter: half fixed, half random, so concurrent clients spread out.
        let backoff = exp / 2 + (rand as u64) % (exp / 2 + 1);
        let wait = match retry_after_ms {
            // Honour the server, plus a little jitter so a herd does not return in the same millisecond.
            Some(ra) => ra + (rand as u64) % (self.base_ms.min(ra / 10 + 1) + 1),
            None => backoff,
        };
        let needed = if outcome == Attempt::Timeout {
            self.attempt_timeout_ms.min(1_000)
        } else {
            MIN_ATTEMPT_MS
        };
        if elapsed_ms + wait + needed > self.deadline_ms {
            return Next::GiveUp;
        }
        Next::RetryIn(wait)
    }
}

/// `Retry-After` as delta-seconds or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), in ms from `now_ms`.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = parse_imf_fixdate(v)?;
    Some((at * 1000).saturating_sub(now_ms))
}

fn parse_imf_fixdate(s: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = s.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    if parts.len() != 5 || parts[4] != "GMT" {
        return None;
    }
    let day: u64 = parts[0].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[1])? as u64
        + 1;
    let year: u64 = parts[2].parse().ok()?;
    let hms: Vec<u64> = parts[3]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    if hms.len() != 3
        || !(1..=31).contains(&day)
        || year < 1970
        || hms[0] > 23
        || hms[1] > 59
        || hms[2] > 60
    {
        return None;
    }
    // From 1970 (checked above), so the day count is not negative.
    let days = crate::time::days_from_civil(year as i64, month as i64, day as i64) as u64;
    Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

/// How one attempt ended, as the driver saw it.
#[derive(Debug)]
pub enum Outcome {
    Answer(Response),
    Timeout,
    Network,
}

/// What the driver does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// A 2xx answer.
    Done(Response),
    /// Wait this many ms, then send the same request again.
    Wait(u64),
    /// Final: retries exhausted or the outcome is not retryable.
    Fail(Failure),
}

/// The retry state of one request. Times are ms since the request's deadline clock started.
#[derive(Debug, Clone)]
pub struct Exchange {
    policy: RetryPolicy,
    attempts: u32,
}

impl Exchange {
    pub fn new(policy: RetryPolicy) -> Self {
        Exchange {
            policy,
            attempts: 0,
        }
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Timeout for the next attempt; `None` means the deadline is spent (the driver reports a timeout).
    pub fn next_timeout(&self, elapsed_ms: u64) -> Option<u64> {
        self.policy.attempt_timeout(elapsed_ms)
    }

    /// Reads one attempt's outcome. `now_unix_ms` resolves a dated `Retry-After`; `rand` is jitter.
    pub fn on_outcome(
        &mut self,
        outcome: Outcome,
        elapsed_ms: u64,
        now_unix_ms: u64,
        rand: u32,
    ) -> Step {
        self.attempts += 1;
        let (kind, retry_after_ms, failure) = match outcome {
            Outcome::Answer(a) if a.ok() => return Step::Done(a),
            Outcome::Answer(a) => {
                let ra = a
                    .retry_after
                    .as_deref()
                    .and_then(|v| parse_retry_after(v, now_unix_ms));
                (
                    Attempt::Status(a.status),
                    ra,
                    Failure::Status {
                        status: a.status,
                        body: a.body,
                        retry_after_ms: ra,
                    },
                )
            }
            Outcome::Timeout => (Attempt::Timeout, None, Failure::Timeout),
            Outcome::Network => (Attempt::Network, None, Failure::Network),
        };
        match self
            .policy
            .next(self.attempts, kind, retry_after_ms, elapsed_ms, rand)
        {
            Next::RetryIn(ms) => Step::Wait(ms),
            Next::GiveUp => Step::Fail(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Response;

    const P: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base_ms: 200,
        cap_ms: 2000,
        deadline_ms: 8000,
        attempt_timeout_ms: 3000,
    };

    #[test]
    fn retries_only_transient_outcomes_and_stops() {
        assert_eq!(P.next(1, Attempt::Status(400), None, 0, 0), Next::GiveUp);
        assert_eq!(P.next(1, Attempt::Status(401), None, 0, 0), Next::GiveUp);
        assert_eq!(P.next(1, Attempt::Status(500), None, 0, 0), Next::GiveUp);
        assert!(matches!(
            P.next(1, Attempt::Status(429), None, 0, 0),
            Next::RetryIn(_)
        ));
        assert!(matches!(
            P.next(1, Attempt::Status(503), None, 0, 0),
            Next::RetryIn(_)
        ));
        assert!(matches!(
            P.next(2, Attempt::Network, None, 0, 0),
            Next::RetryIn(_)
        ));
        assert_eq!(
            P.next(3, Attempt::Status(503), None, 0, 0),
            Next::GiveUp,
            "bounded"
        );
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let waits: Vec<u64> = (0..50)
            .map(
                |r| match P.next(1, Attempt::Status(503), None, 0, r * 7919) {
                    Next::RetryIn(w) => w,
                    Next::GiveUp => panic!(),
                },
            )
            .collect();
        assert!(waits.iter().all(|w| (100..=200).contains(w)), "{waits:?}");
        assert!(waits.iter().any(|w| *w != waits[0]), "jittered");
        let p = RetryPolicy {
            max_attempts: 10,
            ..P
        };
        for r in [0, u32::MAX] {
            if let Next::RetryIn(w) = p.next(9, Attempt::Network, None, 0, r) {
                assert!(w <= 2000, "capped: {w}");
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_within_the_deadline() {
        match P.next(1, Attempt::Status(429), Some(1000), 0, 12345) {
            Next::RetryIn(w) => assert!((1000..=1200).contains(&w), "{w}"),
            Next::GiveUp => panic!(),
        }
        // A Retry-After beyond the deadline: give up now and pass it on.
        assert_eq!(
            P.next(1, Attempt::Status(429), Some(30_000), 0, 0),
            Next::GiveUp
        );
        assert_eq!(
            P.next(1, Attempt::Status(503), Some(1000), 7_500, 0),
            Next::GiveUp
        );
        // A timeout is retried only when a meaningful attempt still fits.
        assert!(matches!(
            P.next(1, Attempt::Timeout, None, 3000, 0),
            Next::RetryIn(_)
        ));
        assert_eq!(P.next(1, Attempt::Timeout, None, 7000, 0), Next::GiveUp);
    }

    #[test]
    fn attempt_timeouts_shrink_to_the_deadline() {
        assert_eq!(P.attempt_timeout(0), Some(3000));
        assert_eq!(P.attempt_timeout(6000), Some(2000));
        assert_eq!(P.attempt_timeout(7990), None);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2", 0), Some(2000));
        assert_eq!(parse_retry_after(" 0 ", 0), Some(0));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_770_000),
            Some(7_000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_780_000),
            Some(0),
            "past dates mean now"
        );
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-1", 0), None);
    }

    #[test]
    fn exchange_retries_then_gives_up_with_the_last_failure() {
        let mut x = Exchange::new(P);
        let throttled = || {
            Outcome::Answer(Response {
                status: 429,
                retry_after: Some("1".into()),
                body: "{}".into(),
            })
        };
        assert_eq!(x.next_timeout(0), Some(3000));
        assert!(
            matches!(x.on_outcome(throttled(), 10, 0, 0), Step::Wait(w) if (1000..=1200).contains(&w))
        );
        assert!(matches!(
            x.on_outcome(throttled(), 1200, 0, 0),
            Step::Wait(_)
        ));
        match x.on_outcome(throttled(), 2400, 0, 0) {
            Step::Fail(Failure::Status {
                status: 429,
                retry_after_ms: Some(1000),
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(x.attempts(), 3);
        let mut x = Exchange::new(P);
        let ok = Response {
            status: 201,
            retry_after: None,
            body: "x".into(),
        };
        assert_eq!(
            x.on_outcome(Outcome::Answer(ok.clone()), 0, 0, 0),
            Step::Done(ok)
        );
        let mut x = Exchange::new(P);
        assert_eq!(
            x.on_outcome(
                Outcome::Answer(Response {
                    status: 400,
                    ..Default::default()
                }),
                0,
                0,
                0
            ),
            Step::Fail(Failure::Status {
                status: 400,
                body: String::new(),
                retry_after_ms: None
            })
        );
        assert_eq!(x.next_timeout(7990), None);
    }
}
