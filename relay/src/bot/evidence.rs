//! `/evidence`: a session's crossing pictures sent as albums of ten (the Bot API's most), with
//! the pictures dropped on the edge or pruned after the retention counted, so an operator can
//! check a count from the chat.

use baycount_protocol::{BayId, EvidenceKind, Plate};
use teloxide::prelude::*;
use teloxide::types::{InputFile, InputMedia, InputMediaPhoto};

use super::render::CrossingPictures;
use super::telegram::send;
use crate::history::{EvidenceRow, HistoryError, Picture, SessionFilter, SessionRow};

use super::*;

/// Photos in one `sendMediaGroup` (the Bot API takes 2 to 10).
const ALBUM: usize = 10;
/// Most pictures sent for one `/evidence`, so a long session does not flood the chat.
const MOST: usize = 100;
/// The shortest start of a session id taken as one.
const MIN_ID_PREFIX: usize = 4;

/// Which session `/evidence` asked for.
enum Lookup {
    Found(Box<SessionRow>),
    Nothing,
    /// Several sessions' ids start so.
    Several,
}

/// The start of a session id, as typed (`#019abc12` as `/history` shows it, or more of it).
fn id_prefix(asked: &str) -> Option<&str> {
    let p = asked.strip_prefix('#').unwrap_or(asked);
    (p.len() >= MIN_ID_PREFIX && p.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then_some(p)
}

impl Inner {
    /// `/evidence [plate or session id]` in `chat`, whose chosen bay is `bay`.
    pub(super) async fn evidence(&self, chat: ChatId, bay: Option<BayId>, asked: &str) {
        let text = match self.lookup(bay, asked).await {
            Ok(Lookup::Found(session)) => return self.send_evidence(chat, &session).await,
            Ok(Lookup::Nothing) => render::no_session(asked),
            Ok(Lookup::Several) => {
                format!("Several sessions have ids starting with \"{asked}\": give more of the id.")
            }
            Err(e) => {
                log::error!("telegram: cannot read the history: {e}");
                "The history cannot be read just now; try again in a moment.".into()
            }
        };
        self.say(chat, text).await;
    }

    /// The latest session of the chat's bay (or of any bay), the session whose id starts with
    /// `asked`, or the latest of the plate `asked`.
    async fn lookup(&self, bay: Option<BayId>, asked: &str) -> Result<Lookup, HistoryError> {
        let history = &self.deps.history;
        if let Some(prefix) = id_prefix(asked) {
            let filter = SessionFilter {
                id_prefix: Some(prefix.to_owned()),
                limit: 2,
                ..SessionFilter::default()
            };
            let mut rows = history.sessions(&filter).await?;
            match rows.len() {
                0 => {}
                1 => return Ok(Lookup::Found(Box::new(rows.remove(0)))),
                _ => return Ok(Lookup::Several),
            }
        }
        let filter = match (asked.is_empty(), Plate::parse(asked)) {
            (true, _) => SessionFilter {
                bay,
                limit: 1,
                ..SessionFilter::default()
            },
            (false, Ok(plate)) => SessionFilter {
                plate: Some(plate),
                limit: 1,
                ..SessionFilter::default()
            },
            (false, Err(_)) => return Ok(Lookup::Nothing),
        };
        let rows = history.sessions(&filter).await?;
        Ok(rows
            .into_iter()
            .next()
            .map_or(Lookup::Nothing, |s| Lookup::Found(Box::new(s))))
    }

    /// What became of the session's crossing pictures, then the first [`MOST`] of them.
    async fn send_evidence(&self, chat: ChatId, session: &SessionRow) {
        let rows = match self.deps.history.session_evidence(session.id).await {
            Ok(rows) => rows.unwrap_or_default(),
            Err(e) => {
                log::error!("telegram: cannot read the evidence of {}: {e}", session.id);
                let text = "The pictures cannot be read just now; try again in a moment.";
                return self.say(chat, text.into()).await;
            }
        };
        let crossings: Vec<EvidenceRow> = rows
            .into_iter()
            .filter(|r| r.kind == EvidenceKind::Crossing)
            .collect();
        let with_picture: Vec<&EvidenceRow> = crossings
            .iter()
            .filter(|r| !r.dropped && !r.pruned)
            .collect();
        let counts = CrossingPictures {
            crossings: crossings.len(),
            pictures: with_picture.len(),
            dropped: crossings.iter().filter(|r| r.dropped).count(),
            pruned: crossings.iter().filter(|r| r.pruned).count(),
            sent: with_picture.len().min(MOST),
        };
        self.say(chat, render::evidence(session, &counts, self.tz))
            .await;
        for album in with_picture[..counts.sent].chunks(ALBUM) {
            self.send_album(chat, album).await;
        }
    }

    /// One album: a photo each, captioned with its time and direction (one alone goes as a
    /// photo, as an album takes two at least).
    async fn send_album(&self, chat: ChatId, rows: &[&EvidenceRow]) {
        let mut photos = Vec::with_capacity(rows.len());
        for row in rows {
            match self.deps.history.evidence_picture(row.id).await {
                Ok(Some(Picture::Jpeg(jpeg))) => photos.push((
                    InputFile::memory(jpeg).file_name(format!("{}.jpg", row.id)),
                    render::crossing_caption(row, self.tz),
                )),
                // Pruned since it was listed.
                Ok(_) => {}
                Err(e) => log::error!("telegram: cannot read the picture {}: {e}", row.id),
            }
        }
        let sent = match <[_; 1]>::try_from(photos) {
            Ok([(photo, caption)]) => {
                let request = self.bot.send_photo(chat, photo).caption(caption);
                send(request, "sendPhoto").await.map(drop)
            }
            Err(photos) if photos.is_empty() => return,
            Err(photos) => {
                let media = photos.into_iter().map(|(photo, caption)| {
                    InputMedia::Photo(InputMediaPhoto::new(photo).caption(caption))
                });
                let request = self.bot.send_media_group(chat, media);
                send(request, "sendMediaGroup").await.map(drop)
            }
        };
        if let Err(e) = sent {
            log::warn!("telegram: cannot send pictures to {chat}: {e}");
        }
    }
}
