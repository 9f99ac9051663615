//! The data behind the bot's buttons: what the button does, the nonce of the control message
//! it belongs to (so a button of an old message cannot act on a newer session), and an
//! argument; always within the Bot API's 64 bytes.

use baycount_protocol::{BayId, Plate};

/// The Bot API's limit on callback data.
pub const MAX_LEN: usize = 64;

/// What a button does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Picks a bay (bay menu).
    Bay(BayId),
    /// Picks a plate (plate menu).
    Plate(Plate),
    /// Asks for a new plate to be typed.
    NewPlate,
    /// Back to the bay or plate menu.
    Menu,
    Start,
    Stop,
}

/// A button's callback: the action and its message's nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub nonce: String,
    pub action: Action,
}

impl Callback {
    pub fn new(nonce: &str, action: Action) -> Self {
        Self {
            nonce: nonce.to_owned(),
            action,
        }
    }

    /// `kind:nonce[:argument]`; bay ids (32) and plates (16) keep it far under 64 bytes.
    pub fn encode(&self) -> String {
        let (kind, arg) = match &self.action {
            Action::Bay(b) => ("b", Some(b.as_str())),
            Action::Plate(p) => ("p", Some(p.as_str())),
            Action::NewPlate => ("n", None),
            Action::Menu => ("m", None),
            Action::Start => ("s", None),
            Action::Stop => ("x", None),
        };
        let data = match arg {
            Some(a) => format!("{kind}:{}:{a}", self.nonce),
            None => format!("{kind}:{}", self.nonce),
        };
        debug_assert!(data.len() <= MAX_LEN, "{data}");
        data
    }

    /// `None` for data the bot never made (or made by an older version of it).
    pub fn decode(data: &str) -> Option<Self> {
        if data.len() > MAX_LEN {
            return None;
        }
        let mut parts = data.splitn(3, ':');
        let kind = parts.next()?;
        let nonce = parts.next().filter(|n| !n.is_empty())?.to_owned();
        let arg = parts.next();
        let action = match (kind, arg) {
            ("b", Some(a)) => Action::Bay(BayId::parse(a).ok()?),
            ("p", Some(a)) => Action::Plate(Plate::parse(a).ok()?),
            ("n", None) => Action::NewPlate,
            ("m", None) => Action::Menu,
            ("s", None) => Action::Start,
            ("x", None) => Action::Stop,
            _ => return None,
        };
        Some(Self { nonce, action })
    }
}

/// A fresh nonce for a new control message.
pub fn nonce() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("{:08x}", (n & 0xffff_ffff) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_64_bytes() {
        let longest_bay = BayId::parse(&"b".repeat(baycount_protocol::bay::MAX_LEN)).expect("bay");
        let longest_plate = Plate::parse("ABCD 1234 EFGHIJ").expect("plate");
        for action in [
            Action::Bay(longest_bay),
            Action::Plate(longest_plate),
            Action::NewPlate,
            Action::Menu,
            Action::Start,
            Action::Stop,
        ] {
            let c = Callback::new(&nonce(), action);
            let data = c.encode();
            assert!(data.len() <= MAX_LEN, "{data}");
            assert_eq!(Callback::decode(&data), Some(c));
        }
    }

    #[test]
    fn foreign_data_is_not_ours() {
        for junk in [
            "",
            "s",
            "s:",
            "q:abc",
            "b:abc",
            "b:abc:not a bay!",
            "p:abc:???",
            &"x".repeat(65),
        ] {
            assert_eq!(Callback::decode(junk), None, "{junk}");
        }
    }
}
