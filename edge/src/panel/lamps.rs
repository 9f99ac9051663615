//! What the bay's stack light shows, as pure functions: which mode each lamp is in for a state,
//! and whether it is lit at an instant (blinks and the short blink per count).

use std::time::Duration;

use baycount_protocol::{LampMode, Lamps, Phase};

use crate::panel::gpio::Lamp;

/// A fault lamp blinks on for this long, then off for as long.
pub const BLINK_HALF_PERIOD: Duration = Duration::from_millis(500);
/// The green lamp goes dark this long when a count is made.
pub const COUNT_BLINK: Duration = Duration::from_millis(200);

/// The lamps' modes: a fault (camera or detector down) blinks red and overrides the phase; else
/// green while loading, red while idle; amber, on top, while the link to the relay is down.
pub fn modes(phase: Phase, link_up: bool, fault: bool) -> Lamps {
    let (green, red) = match (fault, phase) {
        (true, _) => (LampMode::Off, LampMode::Blink),
        (false, Phase::Loading) => (LampMode::On, LampMode::Off),
        (false, Phase::Idle) => (LampMode::Off, LampMode::On),
    };
    Lamps {
        green,
        amber: if link_up { LampMode::Off } else { LampMode::On },
        red,
    }
}

/// Whether `lamp` is lit, `since_blink_start` into its mode and `since_count` after the latest
/// count (if any).
pub fn lit(
    lamps: &Lamps,
    lamp: Lamp,
    since_blink_start: Duration,
    since_count: Option<Duration>,
) -> bool {
    let mode = match lamp {
        Lamp::Green => lamps.green,
        Lamp::Amber => lamps.amber,
        Lamp::Red => lamps.red,
    };
    match mode {
        LampMode::Off => false,
        LampMode::Blink => {
            (since_blink_start.as_millis() / BLINK_HALF_PERIOD.as_millis()).is_multiple_of(2)
        }
        LampMode::On => !(lamp == Lamp::Green && since_count.is_some_and(|d| d < COUNT_BLINK)),
    }
}

/// A log line: `green on, amber off, red blink`.
pub fn describe(lamps: &Lamps) -> String {
    let word = |m: LampMode| match m {
        LampMode::Off => "off",
        LampMode::On => "on",
        LampMode::Blink => "blink",
    };
    format!(
        "green {}, amber {}, red {}",
        word(lamps.green),
        word(lamps.amber),
        word(lamps.red)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_the_issue() {
        let m = modes(Phase::Idle, true, false);
        assert_eq!(
            (m.green, m.amber, m.red),
            (LampMode::Off, LampMode::Off, LampMode::On)
        );
        let m = modes(Phase::Loading, true, false);
        assert_eq!(
            (m.green, m.amber, m.red),
            (LampMode::On, LampMode::Off, LampMode::Off)
        );
        let m = modes(Phase::Loading, false, false);
        assert_eq!(
            (m.green, m.amber, m.red),
            (LampMode::On, LampMode::On, LampMode::Off)
        );
        let m = modes(Phase::Loading, false, true);
        assert_eq!(
            (m.green, m.amber, m.red),
            (LampMode::Off, LampMode::On, LampMode::Blink)
        );
    }

    #[test]
    fn blinking_and_the_count_blink() {
        let fault = modes(Phase::Idle, true, true);
        let ms = Duration::from_millis;
        assert!(lit(&fault, Lamp::Red, ms(0), None));
        assert!(lit(&fault, Lamp::Red, ms(499), None));
        assert!(!lit(&fault, Lamp::Red, ms(500), None));
        assert!(lit(&fault, Lamp::Red, ms(1000), None));
        let loading = modes(Phase::Loading, true, false);
        assert!(lit(&loading, Lamp::Green, ms(0), None));
        assert!(!lit(&loading, Lamp::Green, ms(0), Some(ms(50))));
        assert!(lit(&loading, Lamp::Green, ms(0), Some(ms(200))));
        assert!(!lit(&loading, Lamp::Amber, ms(0), None));
    }
}
