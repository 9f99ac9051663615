//! Waits between retries: a first delay, doubling after each failure up to a cap.

use std::time::Duration;

/// The delays between attempts of something that fails until it does not (a broker, a camera,
/// a database). Each user keeps its own first delay and cap, named where it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `first`; every [`next`](Self::next) doubles the wait, never past `cap`.
    pub const fn new(first: Duration, cap: Duration) -> Self {
        Self {
            first,
            cap,
            current: first,
        }
    }

    /// The wait before the next attempt, as [`next`](Self::next) will return it.
    pub fn peek(&self) -> Duration {
        self.current
    }

    /// The wait before the next attempt; the one after it is twice as long, up to the cap.
    #[expect(
        clippy::should_implement_trait,
        reason = "the waits never end: as an Iterator every caller would unwrap a Some"
    )]
    pub fn next(&mut self) -> Duration {
        let now = self.current;
        self.current = now.saturating_mul(2).min(self.cap);
        now
    }

    /// After a success: the next failure waits the first delay again.
    pub fn reset(&mut self) {
        self.current = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(ms(200), ms(1000));
        let waits: Vec<_> = (0..6).map(|_| b.next()).collect();
        assert_eq!(
            waits,
            [ms(200), ms(400), ms(800), ms(1000), ms(1000), ms(1000)]
        );
        b.reset();
        assert_eq!((b.peek(), b.next(), b.next()), (ms(200), ms(200), ms(400)));
    }

    #[test]
    fn the_first_delay_is_kept_even_past_the_cap_and_nothing_overflows() {
        let mut b = Backoff::new(ms(500), ms(100));
        assert_eq!((b.next(), b.next()), (ms(500), ms(100)));
        let mut b = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!((b.next(), b.next()), (Duration::MAX, Duration::MAX));
    }
}
