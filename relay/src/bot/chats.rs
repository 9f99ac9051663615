//! What the bot remembers per chat: the bay and plate chosen, which screen its control message
//! shows, that message and its nonce, and what was last sent (so edits are throttled and never
//! repeat themselves). Kept in memory: after a restart, old buttons are refused as stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use baycount_protocol::{BayId, Plate, SessionId};
use chrono::{DateTime, Utc};
use teloxide::types::{ChatId, MessageId};
use tokio::time::Instant;

use super::callback;
use super::render::Screen;

/// Which screen the chat's control message shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Bays,
    Plates,
    AskPlate,
    Control,
}

/// The session a control message shows, to tell its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub id: SessionId,
    pub plate: Plate,
    pub started_at: DateTime<Utc>,
    /// The latest count seen.
    pub count: u64,
}

#[derive(Debug)]
pub struct Chat {
    pub id: ChatId,
    pub bay: Option<BayId>,
    pub plate: Option<Plate>,
    pub view: View,
    /// The control message, edited in place.
    pub message: Option<MessageId>,
    /// Its buttons carry this; others are stale.
    pub nonce: String,
    /// What the message shows now.
    pub sent: Option<Screen>,
    pub last_edit: Option<Instant>,
    /// A newer rendering waits for the edit throttle.
    pub dirty: bool,
    /// A line about the last attempt (not responding, offline...).
    pub note: Option<String>,
    pub session: Option<Shown>,
}

impl Chat {
    fn new(id: ChatId) -> Self {
        Self {
            id,
            bay: None,
            plate: None,
            view: View::Plates,
            message: None,
            nonce: callback::nonce(),
            sent: None,
            last_edit: None,
            dirty: false,
            note: None,
            session: None,
        }
    }

    /// The next screen goes into a new message (below what the operator typed).
    pub fn new_message(&mut self) {
        self.message = None;
        self.sent = None;
        self.nonce = callback::nonce();
    }
}

/// Every chat the bot has talked to.
#[derive(Debug, Default)]
pub struct Chats(Mutex<HashMap<ChatId, Arc<tokio::sync::Mutex<Chat>>>>);

impl Chats {
    pub fn get(&self, id: ChatId) -> Arc<tokio::sync::Mutex<Chat>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Chat::new(id))))
            .clone()
    }

    pub fn all(&self) -> Vec<Arc<tokio::sync::Mutex<Chat>>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
