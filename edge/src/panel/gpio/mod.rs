//! The bay's lamps and button behind one small trait, with three backends: `sim` (tests and
//! demo), `rppal` (Raspberry Pi 4/5) and the Linux GPIO character device (`cdev`: Jetson and any
//! other board).

pub mod cdev;
pub mod rppal;
pub mod sim;

use serde::Deserialize;

/// One lamp of the stack light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lamp {
    Green,
    Amber,
    Red,
}

impl Lamp {
    pub const ALL: [Lamp; 3] = [Lamp::Green, Lamp::Amber, Lamp::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Lamp::Green => "green",
            Lamp::Amber => "amber",
            Lamp::Red => "red",
        }
    }
}

/// Why the GPIO cannot be used. Each says what to check.
#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    #[error(
        "cannot open the GPIO ({backend}): {reason}; check the pins in the [gpio] config, that the service user is in the gpio group, or run with --gpio sim"
    )]
    Open {
        backend: &'static str,
        reason: String,
    },
    #[error("GPIO {what} failed: {reason}")]
    Io { what: String, reason: String },
}

/// Lamps out, button in. Levels are logical: `true` lights a lamp or means pressed, whatever the
/// wiring (active-low is the backend's business).
pub trait Gpio: Send {
    fn set_lamp(&mut self, lamp: Lamp, on: bool) -> Result<(), GpioError>;
    /// Whether the button is held down now (not debounced).
    fn button(&mut self) -> Result<bool, GpioError>;
    /// What it is, for the log.
    fn describe(&self) -> String;
}

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// No hardware: lamp states go to the log and the state message.
    #[default]
    Sim,
    /// Raspberry Pi GPIO through `rppal`.
    Rppal,
    /// The Linux GPIO character device (`/dev/gpiochipN`) through `gpiocdev`.
    Cdev,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sim" => Ok(Backend::Sim),
            "rppal" => Ok(Backend::Rppal),
            "cdev" => Ok(Backend::Cdev),
            _ => Err(format!("--gpio must be sim, rppal or cdev, not {s:?}")),
        }
    }
}

/// Pins (BCM numbers for `rppal`, line offsets on `chip` for `cdev`) and wiring.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpioConfig {
    pub backend: Backend,
    /// The character device for `cdev`.
    pub chip: String,
    pub green: u32,
    pub amber: u32,
    pub red: u32,
    pub button: u32,
    /// Lamps light when their pin is low (relay boards that sink current).
    pub lamps_active_low: bool,
    /// The button pulls its pin low when pressed (wired to ground, internal pull-up): the usual.
    pub button_active_low: bool,
    /// A press must hold this long to count.
    pub debounce_ms: u64,
}

impl Default for GpioConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Sim,
            chip: "/dev/gpiochip0".into(),
            green: 17,
            amber: 27,
            red: 22,
            button: 23,
            lamps_active_low: false,
            button_active_low: true,
            debounce_ms: 50,
        }
    }
}

/// Opens the configured backend.
pub fn open(config: &GpioConfig) -> Result<Box<dyn Gpio>, GpioError> {
    Ok(match config.backend {
        Backend::Sim => Box::new(sim::SimGpio::default()),
        Backend::Rppal => Box::new(rppal::RppalGpio::open(config)?),
        Backend::Cdev => Box::new(cdev::CdevGpio::open(config)?),
    })
}
