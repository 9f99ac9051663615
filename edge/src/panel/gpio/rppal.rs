//! Raspberry Pi GPIO through `rppal` (BCM pin numbers). The crate is no longer maintained, so it
//! stays behind the [`Gpio`] trait; `cdev` drives the same pins through the kernel's interface.

use rppal::gpio::{InputPin, OutputPin};

use super::{Gpio, GpioConfig, GpioError, Lamp};

#[derive(Debug)]
pub struct RppalGpio {
    lamps: [OutputPin; 3],
    button: InputPin,
    lamps_active_low: bool,
    button_active_low: bool,
}

fn open_err(e: impl std::fmt::Display) -> GpioError {
    GpioError::Open {
        backend: "rppal",
        reason: e.to_string(),
    }
}

impl RppalGpio {
    pub fn open(c: &GpioConfig) -> Result<Self, GpioError> {
        let gpio = rppal::gpio::Gpio::new().map_err(open_err)?;
        let pin = |n: u32| {
            let n = u8::try_from(n).map_err(|_| open_err(format!("pin {n} is not a BCM pin")))?;
            gpio.get(n).map_err(|e| open_err(format!("pin {n}: {e}")))
        };
        let off = |p: rppal::gpio::Pin| {
            if c.lamps_active_low {
                p.into_output_high()
            } else {
                p.into_output_low()
            }
        };
        let button = pin(c.button)?;
        Ok(Self {
            lamps: [off(pin(c.green)?), off(pin(c.amber)?), off(pin(c.red)?)],
            button: if c.button_active_low {
                button.into_input_pullup()
            } else {
                button.into_input_pulldown()
            },
            lamps_active_low: c.lamps_active_low,
            button_active_low: c.button_active_low,
        })
    }
}

impl Gpio for RppalGpio {
    fn set_lamp(&mut self, lamp: Lamp, on: bool) -> Result<(), GpioError> {
        let pin = &mut self.lamps[lamp as usize];
        if on != self.lamps_active_low {
            pin.set_high();
        } else {
            pin.set_low();
        }
        Ok(())
    }

    fn button(&mut self) -> Result<bool, GpioError> {
        Ok(self.button.is_low() == self.button_active_low)
    }

    fn describe(&self) -> String {
        "Raspberry Pi GPIO (rppal)".into()
    }
}
