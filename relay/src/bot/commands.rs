//! The bot's text commands: `/menu` (`/start`), `/status`, `/history`, `/evidence`, `/help`,
//! and plates typed for the menu.

use baycount_protocol::Plate;
use teloxide::prelude::*;

use super::chats::View;
use crate::history::SessionFilter;

use super::*;

impl Inner {
    pub(super) async fn on_message(&self, m: Message) {
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
        if command.as_deref() == Some("evidence") {
            // Not under the chat's lock: the albums take a while, and the watcher waits on it.
            let bay = chat.lock().await.bay.clone();
            self.evidence(m.chat.id, bay, arg).await;
            return;
        }
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
}
