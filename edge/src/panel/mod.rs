//! The bay's panel: stack light and push button on GPIO, and the socket that presses it.

pub mod button;
pub mod gpio;
pub mod lamps;
pub mod press_socket;
pub mod task;
