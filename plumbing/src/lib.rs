//! What the edge and the relay both need that is not the contract: one copy of the plumbing
//! (how each reaches the broker, retries, opens its database, reads its config and keeps its
//! secrets), so that the two binaries cannot drift apart and `baycount-protocol` stays the MQTT
//! contract only.
//!
//! # Layout
//! - [`mqtt`]: the MQTT client both run (options, reconnecting, goodbye); [`mqtt_url`]: where
//!   the broker is, as both ends are told; [`mqtt_tls`]: how the link is encrypted (rustls with
//!   ring), and the certificates of the relay's embedded broker.
//! - [`secret_file`]: files that hold secrets stay private to their owner; [`config_file`]: a
//!   TOML config file read, its keys checked, its secrets kept private.
//! - [`backoff`]: the waits between retries (of a broker, a camera, a database, the Bot API).
//! - [`sqlite`]: the edge's journal and the relay's history opened the same way.

pub mod backoff;
pub mod config_file;
pub mod mqtt;
pub mod mqtt_tls;
pub mod mqtt_url;
pub mod secret_file;
pub mod sqlite;
