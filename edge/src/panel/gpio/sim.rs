//! Simulated GPIO: lamps kept in memory (the state message and the log show them), a button
//! that tests hold down and let go.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Gpio, GpioError, Lamp};

/// Shared with the test or demo that watches it.
#[derive(Debug, Clone, Default)]
pub struct SimGpio {
    lamps: Arc<Mutex<[bool; 3]>>,
    button: Arc<AtomicBool>,
}

impl SimGpio {
    /// Whether a lamp is lit now.
    pub fn lit(&self, lamp: Lamp) -> bool {
        self.lamps.lock().unwrap_or_else(|p| p.into_inner())[lamp as usize]
    }

    /// Holds the button down (`true`) or lets it go.
    pub fn hold(&self, down: bool) {
        self.button.store(down, Ordering::Relaxed);
    }
}

impl Gpio for SimGpio {
    fn set_lamp(&mut self, lamp: Lamp, on: bool) -> Result<(), GpioError> {
        self.lamps.lock().unwrap_or_else(|p| p.into_inner())[lamp as usize] = on;
        Ok(())
    }

    fn button(&mut self) -> Result<bool, GpioError> {
        Ok(self.button.load(Ordering::Relaxed))
    }

    fn describe(&self) -> String {
        "simulated GPIO".into()
    }
}
