//! The stop's picture after a session's summary: sent as a photo once the bay's evidence is
//! stored, waited for a few seconds at most off the chat's lock, and said when it is not coming,
//! so the summary is never held back and a chat gets one photo or one word, never both.

use std::time::Duration;

use baycount_protocol::SessionId;
use teloxide::prelude::*;
use teloxide::types::{InputFile, MessageId, ReplyParameters};
use tokio::time::Instant;

use super::render::{self, NoStopPhoto};
use super::telegram::send;
use crate::history::{EvidenceId, History, Picture};

/// How long the stop's picture is waited for: it comes on its own topic just after the stop
/// event, made off the count's way.
pub const WAIT: Duration = Duration::from_secs(5);
/// How often the history is asked meanwhile.
const POLL: Duration = Duration::from_millis(100);

/// A stopped session's photo to send to a chat, under its summary.
#[derive(Debug)]
pub(super) struct StopPhoto {
    pub bot: Bot,
    pub history: History,
    pub chat: ChatId,
    /// The summary message, and what it says (a line is added when no photo follows).
    pub summary: MessageId,
    pub summary_text: String,
    pub session: SessionId,
    pub caption: String,
}

impl StopPhoto {
    /// Sends the photo when its picture is stored within [`WAIT`]; otherwise adds to the summary
    /// why there is none.
    pub async fn send(self) {
        let (error, what) = match stop_picture(&self.history, self.session).await {
            Ok((id, jpeg)) => {
                let photo = InputFile::memory(jpeg).file_name(format!("{id}.jpg"));
                let request = self
                    .bot
                    .send_photo(self.chat, photo)
                    .caption(self.caption.clone())
                    .reply_parameters(ReplyParameters::new(self.summary));
                match send(request, "sendPhoto").await {
                    Ok(_) => return,
                    Err(e) => (e, "send the stop's photo"),
                }
            }
            Err(why) => {
                let text = render::without_stop_photo(&self.summary_text, why);
                let request = self.bot.edit_message_text(self.chat, self.summary, text);
                match send(request, "editMessageText").await {
                    Ok(_) => return,
                    Err(e) => (e, "say the stop has no photo"),
                }
            }
        };
        log::warn!(
            "telegram: cannot {what} of session {} in chat {}: {error}",
            self.session,
            self.chat
        );
    }
}

/// The stop's picture of `session` once stored, or why there is none within [`WAIT`].
async fn stop_picture(
    history: &History,
    session: SessionId,
) -> Result<(EvidenceId, Vec<u8>), NoStopPhoto> {
    let deadline = Instant::now() + WAIT;
    let mut stop: Option<EvidenceId> = None;
    loop {
        if stop.is_none() {
            // The stop's seq, once the recorder has stored the stop.
            match history.session(session).await {
                Ok(detail) => {
                    stop = detail
                        .and_then(|d| d.events.into_iter().rfind(|e| e.kind == "stopped"))
                        .map(|e| EvidenceId {
                            session,
                            seq: e.seq as u64,
                        });
                }
                Err(e) => log::warn!("telegram: cannot read session {session}: {e}"),
            }
        }
        if let Some(id) = stop {
            match history.evidence_picture(id).await {
                Ok(Some(Picture::Jpeg(jpeg))) => return Ok((id, jpeg)),
                Ok(Some(Picture::Dropped)) => return Err(NoStopPhoto::Dropped),
                Ok(Some(Picture::Pruned { .. })) => return Err(NoStopPhoto::Pruned),
                Ok(None) => {}
                Err(e) => log::warn!("telegram: cannot read the picture {id}: {e}"),
            }
        }
        if Instant::now() >= deadline {
            return Err(NoStopPhoto::NotCome);
        }
        tokio::time::sleep(POLL).await;
    }
}
