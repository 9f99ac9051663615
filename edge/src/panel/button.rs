//! Debouncing of the bay's push button: a press counts once, when the button has been held
//! down for the debounce time; contact bounce and short glitches are ignored.

use std::time::Duration;

use tokio::time::Instant;

/// Turns raw button levels, sampled often, into presses.
#[derive(Debug, Clone)]
pub struct Debouncer {
    hold: Duration,
    /// The level that was last stable, and whether its press was reported.
    stable: bool,
    /// A level different from `stable`, and since when it has been seen.
    changing: Option<(bool, Instant)>,
}

impl Debouncer {
    pub fn new(hold: Duration) -> Self {
        Self {
            hold,
            stable: false,
            changing: None,
        }
    }

    /// Feeds one sample; `true` when it completes a press.
    pub fn sample(&mut self, down: bool, now: Instant) -> bool {
        if down == self.stable {
            self.changing = None;
            return false;
        }
        match self.changing {
            Some((level, since)) if level == down => {
                if now.duration_since(since) >= self.hold {
                    self.stable = down;
                    self.changing = None;
                    return down;
                }
                false
            }
            _ => {
                self.changing = Some((down, now));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounce_is_one_press_and_glitches_none() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut d = Debouncer::new(Duration::from_millis(50));
        // Bouncing contacts for 20 ms, then held: one press, 50 ms after it settled.
        let mut presses = vec![];
        for ms in 0..200 {
            let down = if ms < 20 { ms % 3 == 0 } else { ms < 150 };
            if d.sample(down, at(ms)) {
                presses.push(ms);
            }
        }
        assert_eq!(presses, vec![70]);
        // A 30 ms glitch is no press; nor is letting go.
        let mut d = Debouncer::new(Duration::from_millis(50));
        assert!(!(0..30).any(|ms| d.sample(true, at(ms))));
        assert!(!(30..300).any(|ms| d.sample(false, at(ms))));
    }
}
