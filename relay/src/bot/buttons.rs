//! The bot's buttons: bay and plate choices, START and STOP through the relay's one command
//! path, each press answered and old messages' buttons refused.

use baycount_protocol::Actor;
use chrono::Utc;
use teloxide::types::{CallbackQuery, MaybeInaccessibleMessage};

use super::callback::{Action, Callback};
use super::chats::{Chat, Shown, View};

use super::*;

impl Inner {
    pub(super) async fn on_callback(&self, q: CallbackQuery) {
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

    pub(super) async fn start_loading(&self, chat: &mut Chat, by: Actor) {
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

    pub(super) async fn stop_loading(&self, chat: &mut Chat, by: Actor) {
        let Some(bay) = chat.bay.clone() else {
            return;
        };
        match self.deps.control.stop(bay.as_str(), by).await {
            Ok(summary) => {
                chat.session = None;
                let finished = render::Finished {
                    session: summary.id,
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
}
