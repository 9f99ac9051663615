//! The `status` payload: the plain strings `online` and `offline`.

/// Whether a bay's edge is connected. Plain strings on the wire, so that any MQTT client
/// (`mosquitto_pub -r -m offline`) can announce or retire a bay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Online,
    Offline,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Offline => "offline",
        }
    }

    /// Reads a payload; surrounding white space is ignored.
    pub fn parse(payload: &[u8]) -> Option<Status> {
        match payload.trim_ascii() {
            b"online" => Some(Status::Online),
            b"offline" => Some(Status::Offline),
            _ => None,
        }
    }
}
