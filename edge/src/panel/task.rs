//! The panel's task: drives the stack light from the shown state and turns the debounced button
//! into presses, on whichever GPIO backend is configured.

use std::time::Duration;

use baycount_protocol::{BayState, Lamps};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::bay::event_loop::Input;
use crate::panel::button::Debouncer;
use crate::panel::gpio::{Gpio, Lamp};
use crate::panel::lamps;

/// How often the button is sampled and the lamps updated.
pub const TICK: Duration = Duration::from_millis(10);

/// Runs until `shutdown`, then puts the lamps out. GPIO errors are logged once per kind and
/// retried: a flaky lamp wire must not stop the counting.
pub async fn run(
    mut gpio: Box<dyn Gpio>,
    debounce: Duration,
    mut shown: watch::Receiver<BayState>,
    presses: mpsc::Sender<Input>,
    shutdown: CancellationToken,
) {
    log::info!("panel on {}", gpio.describe());
    let mut debouncer = Debouncer::new(debounce);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut modes: Option<Lamps> = None;
    let mut mode_since = Instant::now();
    let mut count = shown.borrow().count;
    let mut counted_at: Option<Instant> = None;
    let mut lit: [Option<bool>; 3] = [None; 3];
    let mut failing = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        if shown.has_changed().unwrap_or(false) {
            let state = shown.borrow_and_update();
            if state.count > count {
                counted_at = Some(now);
            }
            count = state.count;
            let new = state.health.lamps.unwrap_or_default();
            if modes != Some(new) {
                log::info!("lamps: {}", lamps::describe(&new));
                modes = Some(new);
                mode_since = now;
            }
        }
        let mut result = Ok(());
        if let Some(m) = &modes {
            for lamp in Lamp::ALL {
                let on = lamps::lit(m, lamp, now - mode_since, counted_at.map(|t| now - t));
                if lit[lamp as usize] != Some(on) {
                    match gpio.set_lamp(lamp, on) {
                        Ok(()) => lit[lamp as usize] = Some(on),
                        Err(e) => result = Err(e),
                    }
                }
            }
        }
        let pressed = match gpio.button() {
            Ok(down) => debouncer.sample(down, now),
            Err(e) => {
                result = Err(e);
                false
            }
        };
        match result {
            Err(e) if !failing => {
                log::error!("{e}");
                failing = true;
            }
            Ok(()) if failing => {
                log::info!("GPIO works again");
                failing = false;
            }
            _ => {}
        }
        if pressed {
            log::info!("button pressed");
            if presses.send(Input::Press).await.is_err() {
                break;
            }
        }
    }
    for lamp in Lamp::ALL {
        let _ = gpio.set_lamp(lamp, false);
    }
}

#[cfg(test)]
mod tests {
    use baycount_protocol::{Phase, SessionId};
    use chrono::Utc;

    use super::*;
    use crate::panel::gpio::sim::SimGpio;

    struct Bench {
        gpio: SimGpio,
        shown: watch::Sender<BayState>,
        presses: mpsc::Receiver<Input>,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    fn start() -> Bench {
        let gpio = SimGpio::default();
        let (shown, rx) = watch::channel(BayState::idle(Utc::now()));
        let (tx, presses) = mpsc::channel(8);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            Box::new(gpio.clone()),
            Duration::from_millis(50),
            rx,
            tx,
            shutdown.clone(),
        ));
        Bench {
            gpio,
            shown,
            presses,
            shutdown,
            task,
        }
    }

    fn show(b: &Bench, phase: Phase, count: u64, link_up: bool, fault: bool) {
        b.shown.send_modify(|s| {
            s.phase = phase;
            s.count = count;
            s.session = (phase == Phase::Loading).then(SessionId::new);
            s.health.lamps = Some(lamps::modes(phase, link_up, fault));
        });
    }

    async fn after(ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    fn lit(b: &Bench) -> [bool; 3] {
        Lamp::ALL.map(|l| b.gpio.lit(l))
    }

    #[tokio::test(start_paused = true)]
    async fn lamps_follow_the_state_with_a_blink_per_count() {
        let b = start();
        show(&b, Phase::Idle, 0, true, false);
        after(20).await;
        assert_eq!(lit(&b), [false, false, true], "idle: red");
        show(&b, Phase::Loading, 0, true, false);
        after(20).await;
        assert_eq!(lit(&b), [true, false, false], "loading: green");
        show(&b, Phase::Loading, 1, true, false);
        after(50).await;
        assert!(!b.gpio.lit(Lamp::Green), "dark just after a count");
        after(200).await;
        assert!(b.gpio.lit(Lamp::Green), "lit again 200 ms after it");
        show(&b, Phase::Loading, 1, false, false);
        after(20).await;
        assert_eq!(lit(&b), [true, true, false], "link down: amber too");
        show(&b, Phase::Loading, 1, true, true);
        after(20).await;
        assert_eq!(lit(&b), [false, false, true], "fault: red blinks, on first");
        after(500).await;
        assert_eq!(lit(&b), [false, false, false], "then off");
        after(500).await;
        assert!(b.gpio.lit(Lamp::Red), "then on again");
        b.shutdown.cancel();
        let gpio = b.gpio.clone();
        b.task.await.expect("panel");
        assert_eq!(
            Lamp::ALL.map(|l| gpio.lit(l)),
            [false; 3],
            "all out on shutdown"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_button_is_debounced() {
        let mut b = start();
        // A 30 ms glitch: no press.
        b.gpio.hold(true);
        after(30).await;
        b.gpio.hold(false);
        after(200).await;
        assert!(b.presses.try_recv().is_err());
        // Bouncing, then held for 100 ms: one press, 50 ms after it settled.
        for _ in 0..5 {
            b.gpio.hold(true);
            after(10).await;
            b.gpio.hold(false);
            after(10).await;
        }
        b.gpio.hold(true);
        after(40).await;
        assert!(b.presses.try_recv().is_err(), "not yet: held 40 ms");
        after(30).await;
        assert_eq!(b.presses.try_recv().ok(), Some(Input::Press));
        after(500).await;
        b.gpio.hold(false);
        after(200).await;
        assert!(
            b.presses.try_recv().is_err(),
            "holding and letting go: one press"
        );
        b.shutdown.cancel();
        b.task.await.expect("panel");
    }
}
