//! The control message's life: rendered from the bay's live state, sent once per chat and then
//! edited in place (throttled), following sessions started and stopped anywhere.

use std::time::Duration;

use baycount_protocol::{BayId, Phase, SessionId};
use chrono::Utc;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use tokio::time::Instant;

use super::chats::{Chat, Shown, View};
use super::render::Screen;
use super::stop_photo::StopPhoto;
use super::telegram::{Sent, send};
use crate::history::SessionDetail;

use super::*;

impl Inner {
    /// Ends the control message with the session's summary; the plate menu comes back below.
    /// The stop's photo follows the summary, on its own task (see [`StopPhoto`]).
    pub(super) async fn finish(&self, chat: &mut Chat, finished: &render::Finished) {
        let screen = render::stopped(finished, self.tz);
        self.put(chat, screen.clone()).await;
        if let (Some(summary), Some(shown)) = (chat.message, chat.sent.as_ref())
            && *shown == screen
        {
            let photo = StopPhoto {
                bot: self.bot.clone(),
                history: self.deps.history.clone(),
                chat: chat.id,
                summary,
                summary_text: screen.text,
                session: finished.session,
                caption: render::stop_caption(finished, self.tz),
            };
            let shutdown = self.shutdown.clone();
            self.tasks.spawn(async move {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    () = photo.send() => {}
                }
            });
        }
        chat.note = None;
        chat.view = View::Plates;
        chat.new_message();
        self.show(chat).await;
    }

    /// Brings the chat's view of `bay` up to date with the bay: a session started elsewhere
    /// shows, one that ended shows its summary; the count is followed.
    pub(super) async fn follow(&self, chat: &mut Chat, bay: &BayId) {
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
                session: ended.id,
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
    pub(super) async fn stored_session(&self, id: SessionId) -> Option<SessionDetail> {
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
    pub(super) async fn render(&self, chat: &Chat) -> Screen {
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
    pub(super) async fn show(&self, chat: &mut Chat) {
        let screen = self.render(chat).await;
        self.put(chat, screen).await;
    }

    pub(super) async fn put(&self, chat: &mut Chat, screen: Screen) {
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

fn keyboard(screen: &Screen) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(screen.buttons.iter().map(|row| {
        row.iter()
            .map(|(label, data)| InlineKeyboardButton::callback(label.clone(), data.clone()))
            .collect::<Vec<_>>()
    }))
}
