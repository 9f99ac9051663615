//! The operators' Telegram bot (teloxide, long polling): bay and plate menus, one control
//! message per chat edited in place as the loading goes, START and STOP through the same
//! control path as the API, `/status` and `/history`; only allow-listed users act, and every
//! refusal is in the audit log.

pub mod callback;
mod chats;
pub mod render;
pub mod telegram;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use baycount_plumbing::backoff::Backoff;
use baycount_protocol::{Actor, ActorKind, BayId, Phase, Plate, SessionId};
use chrono::Utc;
use chrono_tz::Tz;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{
    AllowedUpdate, BotCommand, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup,
    MaybeInaccessibleMessage, UpdateKind,
};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::callback::{Action, Callback};
use self::chats::{Chat, Chats, Shown, View};
use self::render::Screen;
use self::telegram::{Sent, send};
use crate::control::Control;
use crate::history::{AuditEntry, History, SessionDetail, SessionFilter};
use crate::live::{BayView, Live};

/// At most one edit a second per chat (the Bot API's limit), the latest count within 2 s.
const EDIT_EVERY: Duration = Duration::from_secs(1);
/// How often throttled edits are flushed.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Long-polling timeout.
const POLL_SECONDS: u32 = 25;
/// Recent plates in the menu.
const MENU_PLATES: i64 = 8;
/// First and longest wait before asking an unreachable Bot API again.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

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
    });
    tasks.spawn(poll(inner.clone(), shutdown.clone()));
    tasks.spawn(watch(inner, shutdown));
}

/// Long-polls updates and handles each on its own task (a START may wait 5 s for its bay).
async fn poll(inner: Arc<Inner>, shutdown: CancellationToken) {
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    loop {
        let me = tokio::select! {
            _ = shutdown.cancelled() => return,
            me = inner.bot.get_me().send() => me,
        };
        match me {
            Ok(me) => {
                log::info!("telegram: bot @{} is up", me.username());
                break;
            }
            Err(RequestError::Api(e)) => {
                log::error!(
                    "telegram: the Bot API refused the token ({e}); check TELOXIDE_TOKEN. The bot stays off"
                );
                return;
            }
            Err(e) => {
                log::warn!("telegram: cannot reach the Bot API ({e}); retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff.next()) => {}
                }
            }
        }
    }
    let commands = [
        (
            "menu",
            "choose the bay and the plate, start and stop loading",
        ),
        ("status", "every bay now"),
        (
            "history",
            "the latest sessions (of a plate: /history B 1234 XY)",
        ),
        ("help", "what the bot does"),
    ]
    .map(|(c, d)| BotCommand::new(c, d));
    if let Err(e) = send(inner.bot.set_my_commands(commands), "setMyCommands").await {
        log::warn!("telegram: cannot list the commands: {e}");
    }
    let mut offset = 0i32;
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    loop {
        let request = inner
            .bot
            .get_updates()
            .offset(offset)
            .timeout(POLL_SECONDS)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        let updates = tokio::select! {
            _ = shutdown.cancelled() => return,
            u = request.send() => u,
        };
        match updates {
            Ok(updates) => {
                backoff.reset();
                for update in updates {
                    offset = offset.max(update.id.0 as i32 + 1);
                    let inner2 = inner.clone();
                    inner
                        .tasks
                        .spawn(async move { inner2.handle(update.kind).await });
                }
            }
            Err(e) => {
                // The backoff grows on every failure, also when the Bot API names the wait.
                let next = backoff.next();
                let wait = match &e {
                    RequestError::RetryAfter(s) => s.duration(),
                    _ => next,
                };
                log::warn!("telegram: getUpdates failed ({e}); retrying in {wait:?}");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Follows the bays: control messages show sessions started and stopped anywhere, and the count
/// as it goes, within the edit throttle.
async fn watch(inner: Arc<Inner>, shutdown: CancellationToken) {
    let mut changes = inner.deps.live.watch();
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    loop {
        let changed: Option<BayId> = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = flush.tick() => None,
            c = changes.recv() => match c {
                Ok(bay) => Some(bay),
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return,
            },
        };
        for chat in inner.chats.all() {
            let mut chat = chat.lock().await;
            let Some(bay) = chat.bay.clone() else {
                continue;
            };
            if changed.as_ref().is_some_and(|c| *c != bay) {
                continue;
            }
            if changed.is_some() {
                inner.follow(&mut chat, &bay).await;
            }
            if chat.dirty && chat.last_edit.is_none_or(|t| t.elapsed() >= EDIT_EVERY) {
                inner.show(&mut chat).await;
            }
        }
    }
}

fn keyboard(screen: &Screen) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(screen.buttons.iter().map(|row| {
        row.iter()
            .map(|(label, data)| InlineKeyboardButton::callback(label.clone(), data.clone()))
            .collect::<Vec<_>>()
    }))
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

    async fn on_message(&self, m: Message) {
        let Some(text) = m.text().map(str::trim) else {
            return;
        };
        let user = m.from.as_ref();
        let (command, arg) = match text.strip_prefix('/') {
            Some(rest) => {
                let (c, a) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                // `/status@baycount_bot` in groups.
                let c = c.split('@').next().unwrap_or(c).to_ascii_lowercase();
                (Some(c), a.trim())
            }
            None => (None, text),
        };
        if command.as_deref() == Some("help") {
            let id = user.map(|u| format!("\n\nYour Telegram user id: {}", u.id.0));
            self.say(
                m.chat.id,
                format!("{}{}", render::HELP, id.unwrap_or_default()),
            )
            .await;
            return;
        }
        if !self.allowed(user) {
            self.audit_refusal(user, text).await;
            let id = user.map_or(0, |u| u.id.0);
            self.say(m.chat.id, render::refusal(id)).await;
            return;
        }
        let chat = self.chats.get(m.chat.id);
        let mut chat = chat.lock().await;
        match command.as_deref() {
            Some("start" | "menu") => {
                chat.new_message();
                chat.note = None;
                let bays = self.bays().await;
                match bays.as_slice() {
                    [] => {
                        self.say(
                            m.chat.id,
                            "No bays yet: a bay appears when its edge first connects.".into(),
                        )
                        .await;
                        return;
                    }
                    [only] => {
                        chat.bay = Some(only.bay.clone());
                        chat.view = View::Plates;
                        self.follow(&mut chat, &only.bay.clone()).await;
                    }
                    _ => chat.view = View::Bays,
                }
                self.show(&mut chat).await;
            }
            Some("status") => {
                let text = render::status(&self.bays().await, self.tz);
                self.say(m.chat.id, text).await;
            }
            Some("history") => {
                let plate = if arg.is_empty() {
                    None
                } else {
                    match Plate::parse(arg) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            self.say(m.chat.id, format!("That is not a plate: {e}"))
                                .await;
                            return;
                        }
                    }
                };
                let filter = SessionFilter {
                    plate: plate.clone(),
                    limit: 10,
                    ..SessionFilter::default()
                };
                let text = match self.deps.history.sessions(&filter).await {
                    Ok(rows) => render::history(&rows, plate.as_ref(), self.tz),
                    Err(e) => {
                        log::error!("telegram: cannot read the history: {e}");
                        "The history cannot be read just now; try again in a moment.".into()
                    }
                };
                self.say(m.chat.id, text).await;
            }
            Some(_) => {
                self.say(m.chat.id, "Unknown command. /help lists them.".into())
                    .await;
            }
            None if chat.view == View::AskPlate => match Plate::parse(arg) {
                Ok(plate) => {
                    chat.plate = Some(plate);
                    chat.view = View::Control;
                    chat.note = None;
                    chat.new_message();
                    self.show(&mut chat).await;
                }
                Err(e) => {
                    self.say(m.chat.id, format!("That is not a valid plate: {e}"))
                        .await;
                    chat.view = View::Plates;
                    chat.new_message();
                    self.show(&mut chat).await;
                }
            },
            None => {
                self.say(
                    m.chat.id,
                    "Use /menu to choose the bay and the plate; /help for more.".into(),
                )
                .await;
            }
        }
    }

    async fn on_callback(&self, q: CallbackQuery) {
        let Some(message) = q.message.as_ref() else {
            self.answer(&q, None, false).await;
            return;
        };
        let chat_id = match message {
            MaybeInaccessibleMessage::Regular(m) => m.chat.id,
            MaybeInaccessibleMessage::Inaccessible(m) => m.chat.id,
        };
        if !self.allowed(Some(&q.from)) {
            let what = format!("button {}", q.data.as_deref().unwrap_or(""));
            self.audit_refusal(Some(&q.from), &what).await;
            self.answer(&q, Some(&render::refusal(q.from.id.0)), true)
                .await;
            return;
        }
        let chat = self.chats.get(chat_id);
        let mut chat = chat.lock().await;
        let callback = q.data.as_deref().and_then(Callback::decode);
        let Some(callback) = callback.filter(|c| c.nonce == chat.nonce) else {
            self.answer(
                &q,
                Some("This message is out of date: use the latest one, or /menu."),
                true,
            )
            .await;
            return;
        };
        match callback.action {
            Action::Bay(bay) => {
                self.answer(&q, None, false).await;
                chat.bay = Some(bay.clone());
                chat.view = View::Plates;
                chat.note = None;
                self.follow(&mut chat, &bay).await;
                self.show(&mut chat).await;
            }
            Action::Plate(plate) => {
                self.answer(&q, None, false).await;
                chat.plate = Some(plate);
                chat.view = View::Control;
                chat.note = None;
                self.show(&mut chat).await;
            }
            Action::NewPlate => {
                self.answer(&q, None, false).await;
                chat.view = View::AskPlate;
                self.show(&mut chat).await;
            }
            Action::Menu => {
                self.answer(&q, None, false).await;
                let several = self.bays().await.len() > 1;
                chat.view = match chat.view {
                    View::Plates if several => View::Bays,
                    _ => View::Plates,
                };
                chat.note = None;
                self.show(&mut chat).await;
            }
            Action::Start => {
                self.answer(&q, Some("Starting…"), false).await;
                self.start_loading(&mut chat, actor(&q.from)).await;
            }
            Action::Stop => {
                self.answer(&q, Some("Stopping…"), false).await;
                self.stop_loading(&mut chat, actor(&q.from)).await;
            }
        }
    }

    async fn start_loading(&self, chat: &mut Chat, by: Actor) {
        let (Some(bay), Some(plate)) = (chat.bay.clone(), chat.plate.clone()) else {
            chat.view = View::Plates;
            self.show(chat).await;
            return;
        };
        match self
            .deps
            .control
            .start(bay.as_str(), plate.as_str(), by.clone())
            .await
        {
            Ok(summary) => {
                chat.note = None;
                chat.session = Some(Shown {
                    id: summary.id,
                    plate: summary.plate,
                    started_at: summary.started_at,
                    count: summary.count,
                });
            }
            Err(e) => chat.note = Some(e.to_string()),
        }
        chat.view = View::Control;
        self.show(chat).await;
    }

    async fn stop_loading(&self, chat: &mut Chat, by: Actor) {
        let Some(bay) = chat.bay.clone() else {
            return;
        };
        match self.deps.control.stop(bay.as_str(), by).await {
            Ok(summary) => {
                chat.session = None;
                let finished = render::Finished {
                    bay: bay.to_string(),
                    plate: summary.plate.to_string(),
                    count: summary.count,
                    started_at: summary.started_at,
                    stopped_at: summary.stopped_at.unwrap_or_else(Utc::now),
                    stopped_by: None,
                };
                self.finish(chat, &finished).await;
            }
            Err(e) => {
                chat.note = Some(e.to_string());
                self.show(chat).await;
            }
        }
    }

    /// Ends the control message with the session's summary; the plate menu comes back below.
    async fn finish(&self, chat: &mut Chat, finished: &render::Finished) {
        let screen = render::stopped(finished, self.tz);
        self.put(chat, screen).await;
        chat.note = None;
        chat.view = View::Plates;
        chat.new_message();
        self.show(chat).await;
    }

    /// Brings the chat's view of `bay` up to date with the bay: a session started elsewhere
    /// shows, one that ended shows its summary; the count is followed.
    async fn follow(&self, chat: &mut Chat, bay: &BayId) {
        let Some(view) = self.deps.live.get(bay) else {
            return;
        };
        let ended = chat
            .session
            .as_ref()
            .filter(|s| view.phase == Phase::Idle || view.session != Some(s.id))
            .cloned();
        if let Some(ended) = ended {
            chat.session = None;
            let stored = self.stored_session(ended.id).await;
            let row = stored.as_ref().map(|d| &d.session);
            let finished = render::Finished {
                bay: bay.to_string(),
                plate: ended.plate.to_string(),
                count: row.map_or(ended.count, |r| r.count.max(0) as u64),
                started_at: ended.started_at,
                stopped_at: row.and_then(|r| r.stopped_at).unwrap_or_else(Utc::now),
                stopped_by: row
                    .and_then(|r| r.stopped_by.as_ref())
                    .map(ToString::to_string),
            };
            self.finish(chat, &finished).await;
        }
        if let (Phase::Loading, Some(id), Some(plate)) =
            (view.phase, view.session, view.plate.clone())
        {
            if chat.session.as_ref().is_none_or(|s| s.id != id) {
                chat.session = Some(Shown {
                    id,
                    plate,
                    started_at: view.started_at.unwrap_or_else(Utc::now),
                    count: view.count,
                });
                chat.note = None;
            }
            // While the bay loads, its chats show the loading, whatever menu they were in.
            chat.view = View::Control;
            if let Some(s) = chat.session.as_mut() {
                s.count = view.count;
            }
        }
        chat.dirty = true;
    }

    /// A stopped session as the history has it; the recorder writes in batches, so this waits a
    /// moment for the stop to be stored.
    async fn stored_session(&self, id: SessionId) -> Option<SessionDetail> {
        for _ in 0..15 {
            match self.deps.history.session(id).await {
                Ok(Some(d)) if d.session.stopped_at.is_some() => return Some(d),
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => {
                    log::error!("telegram: cannot read session {id}: {e}");
                    return None;
                }
            }
        }
        None
    }

    /// The chat's current screen.
    async fn render(&self, chat: &Chat) -> Screen {
        let bays = self.bays().await;
        let view = chat
            .bay
            .as_ref()
            .and_then(|b| render::find(&bays, b))
            .cloned();
        match (&chat.view, view) {
            (View::Bays, _) | (_, None) => render::bay_menu(&bays, &chat.nonce),
            (View::Plates, Some(v)) => {
                render::plate_menu(&v, &self.plates().await, &chat.nonce, bays.len() > 1)
            }
            (View::AskPlate, Some(v)) => render::ask_plate(&v, &chat.nonce, None),
            (View::Control, Some(mut v)) => {
                // Just started here: the bay's state message may not have arrived yet.
                if let (Phase::Idle, Some(s)) = (v.phase, &chat.session) {
                    v.phase = Phase::Loading;
                    v.session = Some(s.id);
                    v.plate = Some(s.plate.clone());
                    v.started_at = Some(s.started_at);
                    v.count = s.count;
                }
                render::control(
                    &v,
                    chat.plate.as_ref(),
                    &chat.nonce,
                    self.tz,
                    chat.note.as_deref(),
                )
            }
        }
    }

    /// Sends or edits the control message to the chat's current screen.
    async fn show(&self, chat: &mut Chat) {
        let screen = self.render(chat).await;
        self.put(chat, screen).await;
    }

    async fn put(&self, chat: &mut Chat, screen: Screen) {
        chat.dirty = false;
        if chat.sent.as_ref() == Some(&screen) {
            return;
        }
        let markup = keyboard(&screen);
        let result = match chat.message {
            Some(id) => {
                let mut req = self.bot.edit_message_text(chat.id, id, screen.text.clone());
                if !screen.buttons.is_empty() {
                    req = req.reply_markup(markup);
                }
                send(req, "editMessageText").await.map(|_| None)
            }
            None => {
                let mut req = self.bot.send_message(chat.id, screen.text.clone());
                if !screen.buttons.is_empty() {
                    req = req.reply_markup(markup);
                }
                send(req, "sendMessage").await.map(|sent| match sent {
                    Sent::Done(m) => Some(m.id),
                    Sent::Unchanged => None,
                })
            }
        };
        chat.last_edit = Some(Instant::now());
        match result {
            Ok(new_id) => {
                if new_id.is_some() {
                    chat.message = new_id;
                }
                chat.sent = Some(screen);
            }
            Err(e) => log::warn!(
                "telegram: cannot update the message in chat {}: {e}",
                chat.id
            ),
        }
    }
}
