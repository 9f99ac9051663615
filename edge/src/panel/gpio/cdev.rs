//! The Linux GPIO character device through `gpiocdev`: Jetson and any board with
//! `/dev/gpiochipN` (line offsets on that chip; the kernel applies active-low).

use gpiocdev::Request;
use gpiocdev::line::{Bias, Offset, Value};

use super::{Gpio, GpioConfig, GpioError, Lamp};

#[derive(Debug)]
pub struct CdevGpio {
    request: Request,
    lamps: [Offset; 3],
    button: Offset,
    chip: String,
}

impl CdevGpio {
    pub fn open(c: &GpioConfig) -> Result<Self, GpioError> {
        let lamps = [c.green, c.amber, c.red];
        let mut b = Request::builder();
        b.on_chip(&c.chip).with_consumer("baycount-edge");
        b.with_lines(&lamps).as_output(Value::Inactive);
        if c.lamps_active_low {
            b.as_active_low();
        }
        b.with_line(c.button)
            .as_input()
            .with_bias(if c.button_active_low {
                Bias::PullUp
            } else {
                Bias::PullDown
            });
        if c.button_active_low {
            b.as_active_low();
        }
        let request = b.request().map_err(|e| GpioError::Open {
            backend: "cdev",
            reason: format!("{}: {e}", c.chip),
        })?;
        Ok(Self {
            request,
            lamps,
            button: c.button,
            chip: c.chip.clone(),
        })
    }
}

impl Gpio for CdevGpio {
    fn set_lamp(&mut self, lamp: Lamp, on: bool) -> Result<(), GpioError> {
        let value = if on { Value::Active } else { Value::Inactive };
        self.request
            .set_value(self.lamps[lamp as usize], value)
            .map_err(|e| GpioError::Io {
                what: format!("setting the {} lamp", lamp.as_str()),
                reason: e.to_string(),
            })
    }

    fn button(&mut self) -> Result<bool, GpioError> {
        self.request
            .value(self.button)
            .map(|v| v == Value::Active)
            .map_err(|e| GpioError::Io {
                what: "reading the button".into(),
                reason: e.to_string(),
            })
    }

    fn describe(&self) -> String {
        format!("GPIO character device {}", self.chip)
    }
}
