//! The bay's session: its state machine, durable journal, MQTT link and the loop tying them.

pub mod counting;
pub mod event_loop;
pub mod evidence;
pub mod journal;
pub mod link;
pub mod pictures;
pub mod session;
