//! The operators' Telegram bot (teloxide, long polling): bay and plate menus, one control
//! message per chat edited in place as the loading goes, START and STOP through the same
//! control path as the API, the stop's photo, `/status`, `/history` and `/evidence`; only
//! allow-listed users act, and every refusal is in the audit log.
//!
//! # Layout
//! - this file: the bot's settings, what it works with, and what every handler shares (the
//!   allow-list, the audit of refusals, answering);
//! - `poller`: long polling of the Bot API; `watcher`: following the bays;
//! - `commands`: text commands; `buttons`: button presses, START and STOP;
//! - `control_message`: each chat's control message, rendered and edited in place;
//! - `stop_photo`: the stop's picture after a session's summary; `evidence`: `/evidence`, a
//!   session's crossing pictures as albums;
//! - [`render`]: what the bot shows, as pure functions; [`callback`]: button data and nonces;
//!   `chats`: what the bot remembers per chat; [`telegram`]: calls under the Bot API's rules.

mod buttons;
pub mod callback;
mod chats;
mod commands;
mod control_message;
mod evidence;
mod poller;
pub mod render;
mod stop_photo;
pub mod telegram;
mod watcher;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use baycount_protocol::{Actor, ActorKind, Plate};
use chrono::Utc;
use chrono_tz::Tz;
use teloxide::prelude::*;
use teloxide::types::{CallbackQuery, UpdateKind};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::chats::Chats;
use self::telegram::send;
use crate::control::Control;
use crate::history::{AuditEntry, History};
use crate::live::{BayView, Live};

/// At most one edit a second per chat (the Bot API's limit), the latest count within 2 s.
const EDIT_EVERY: Duration = Duration::from_secs(1);
/// How often throttled edits are flushed.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Long-polling timeout.
const POLL_SECONDS: u32 = 25;
/// Recent plates in the menu.
const MENU_PLATES: i64 = 8;

/// The bot's settings.
#[derive(Debug, Clone)]
pub struct BotConfig {
    pub token: String,
    /// Another Bot API server (a local one, or a test's); the public one by default.
    pub api_url: Option<url::Url>,
    /// Telegram user ids allowed to control bays.
    pub allow: Vec<u64>,
    pub time_zone: Tz,
}

/// What the bot works with: the relay's own parts.
#[derive(Debug, Clone)]
pub struct Deps {
    pub control: Arc<Control>,
    pub live: Arc<Live>,
    pub history: History,
}

#[derive(Debug)]
struct Inner {
    bot: Bot,
    deps: Deps,
    allow: HashSet<u64>,
    tz: Tz,
    chats: Chats,
    tasks: TaskTracker,
    /// Ends the tasks the handlers start (the stop's photo).
    shutdown: CancellationToken,
}

/// Starts the bot's tasks on `tasks`; they end with `shutdown`.
pub fn start(config: BotConfig, deps: Deps, tasks: &TaskTracker, shutdown: CancellationToken) {
    let mut bot = Bot::new(config.token);
    if let Some(url) = config.api_url {
        bot = bot.set_api_url(url);
    }
    if config.allow.is_empty() {
        log::warn!(
            "telegram: nobody is allowed to control bays; list operators' user ids in BAYCOUNT_TELEGRAM_ALLOW or [telegram] allow"
        );
    }
    let inner = Arc::new(Inner {
        bot,
        deps,
        allow: config.allow.into_iter().collect(),
        tz: config.time_zone,
        chats: Chats::default(),
        tasks: tasks.clone(),
        shutdown: shutdown.clone(),
    });
    tasks.spawn(poller::poll(inner.clone(), shutdown.clone()));
    tasks.spawn(watcher::watch(inner, shutdown));
}

fn actor(user: &teloxide::types::User) -> Actor {
    Actor::new(ActorKind::Telegram, Some(user.id.0.to_string()))
}

impl Inner {
    fn allowed(&self, user: Option<&teloxide::types::User>) -> bool {
        user.is_some_and(|u| self.allow.contains(&u.id.0))
    }

    async fn audit_refusal(&self, user: Option<&teloxide::types::User>, what: &str) {
        let id = user.map_or_else(|| "unknown".to_owned(), |u| u.id.0.to_string());
        let name = user
            .and_then(|u| u.username.clone())
            .map(|n| format!(" (@{n})"))
            .unwrap_or_default();
        log::warn!("telegram: refused user {id}{name}: {what}");
        let entry = AuditEntry {
            at: Utc::now(),
            actor: format!("telegram:{id}"),
            bay: None,
            action: "telegram".into(),
            command: None,
            outcome: "rejected".into(),
            detail: Some(format!("not on the allow-list{name}: {what}")),
        };
        if let Err(e) = self.deps.history.audit(&entry).await {
            log::error!("cannot write the audit log: {e}");
        }
    }

    async fn say(&self, chat: ChatId, text: String) {
        if let Err(e) = send(self.bot.send_message(chat, text), "sendMessage").await {
            log::warn!("telegram: cannot send a message to {chat}: {e}");
        }
    }

    async fn answer(&self, q: &CallbackQuery, text: Option<&str>, alert: bool) {
        let mut req = self.bot.answer_callback_query(q.id.clone());
        if let Some(t) = text {
            req = req.text(t).show_alert(alert);
        }
        if let Err(e) = send(req, "answerCallbackQuery").await {
            log::warn!("telegram: cannot answer a button press: {e}");
        }
    }

    async fn handle(&self, update: UpdateKind) {
        match update {
            UpdateKind::Message(m) => self.on_message(m).await,
            UpdateKind::CallbackQuery(q) => self.on_callback(q).await,
            _ => {}
        }
    }

    async fn bays(&self) -> Vec<BayView> {
        self.deps.live.all()
    }

    async fn plates(&self) -> Vec<Plate> {
        match self.deps.history.plates(MENU_PLATES).await {
            Ok(rows) => rows.into_iter().map(|r| r.plate).collect(),
            Err(e) => {
                log::error!("telegram: cannot read recent plates: {e}");
                vec![]
            }
        }
    }
}
