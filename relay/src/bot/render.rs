//! What the bot shows, as plain text and buttons: the bay and plate menus, the control message
//! (edited in place as the loading goes), the stop summary, `/status` and `/history`, with
//! times in the site's time zone. Pure: the same inputs always give the same message.

use baycount_protocol::{BayId, Direction, Phase, Plate, SessionId};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::callback::{Action, Callback};
use crate::history::{EvidenceRow, SessionRow};
use crate::live::BayView;

/// A message: text and rows of `(label, callback data)` buttons.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Screen {
    pub text: String,
    pub buttons: Vec<Vec<(String, String)>>,
}

fn button(label: &str, nonce: &str, action: Action) -> (String, String) {
    (label.to_owned(), Callback::new(nonce, action).encode())
}

pub fn clock(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%H:%M:%S").to_string()
}

/// `1 h 05 min`, `12 min 30 s`, `45 s`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec} s"),
        (0, min, sec) => format!("{min} min {sec:02} s"),
        (h, min, _) => format!("{h} h {min:02} min"),
    }
}

fn bay_title(view: &BayView) -> String {
    match &view.name {
        Some(name) => format!("{} ({name})", view.bay),
        None => view.bay.to_string(),
    }
}

/// The bay picker, for sites with more than one bay.
pub fn bay_menu(bays: &[BayView], nonce: &str) -> Screen {
    Screen {
        text: "Choose the bay:".into(),
        buttons: bays
            .iter()
            .map(|b| {
                let dot = if b.online { "🟢" } else { "⚪" };
                vec![button(
                    &format!("{dot} {}", bay_title(b)),
                    nonce,
                    Action::Bay(b.bay.clone()),
                )]
            })
            .collect(),
    }
}

/// The plate menu: recent plates, a new one, and back to the bays when there are several.
pub fn plate_menu(view: &BayView, plates: &[Plate], nonce: &str, several_bays: bool) -> Screen {
    let mut buttons: Vec<Vec<(String, String)>> = plates
        .chunks(2)
        .map(|row| {
            row.iter()
                .map(|p| button(p.as_str(), nonce, Action::Plate(p.clone())))
                .collect()
        })
        .collect();
    buttons.push(vec![button("➕ New plate", nonce, Action::NewPlate)]);
    if several_bays {
        buttons.push(vec![button("⬅️ Bays", nonce, Action::Menu)]);
    }
    let offline = if view.online {
        ""
    } else {
        "\n⚠️ The bay is offline."
    };
    Screen {
        text: format!(
            "Bay {}: choose the truck's plate.{offline}",
            bay_title(view)
        ),
        buttons,
    }
}

/// Asking for a plate to be typed.
pub fn ask_plate(view: &BayView, nonce: &str, problem: Option<&str>) -> Screen {
    let problem = problem.map(|p| format!("⚠️ {p}\n\n")).unwrap_or_default();
    Screen {
        text: format!(
            "{problem}Bay {}: type the truck's plate, like KT 8899 TEST.",
            bay_title(view)
        ),
        buttons: vec![vec![button("⬅️ Menu", nonce, Action::Menu)]],
    }
}

/// The control message: the bay's state, the count, START or STOP. `plate` is the plate chosen
/// in this chat (shown while idle); `note` a line about the last attempt (not responding...).
pub fn control(
    view: &BayView,
    plate: Option<&Plate>,
    nonce: &str,
    tz: Tz,
    note: Option<&str>,
) -> Screen {
    let note = note.map(|n| format!("\n\n⚠️ {n}")).unwrap_or_default();
    let online = if view.online { "" } else { " (offline)" };
    match (view.phase, view.started_at) {
        (Phase::Loading, started) => {
            let plate = view.plate.as_ref().map_or("?", |p| p.as_str());
            let started = started.map_or_else(|| "?".to_owned(), |t| clock(t, tz));
            let by = view
                .started_by
                .as_ref()
                .map(|a| format!("\nStarted by: {a}"))
                .unwrap_or_default();
            Screen {
                text: format!(
                    "🚀 Started at {started}\nBay: {}{online}\nPlate: {plate}\nState: loading{by}\nCount: {}{note}",
                    bay_title(view),
                    view.count
                ),
                buttons: vec![vec![button("⏹️ STOP LOADING", nonce, Action::Stop)]],
            }
        }
        (Phase::Idle, _) => {
            let plate = plate.map_or("?", |p| p.as_str());
            Screen {
                text: format!(
                    "Bay: {}{online}\nPlate: {plate}\nState: idle\nCount: 0{note}",
                    bay_title(view)
                ),
                buttons: vec![vec![
                    button("▶️ START LOADING", nonce, Action::Start),
                    button("⬅️ Menu", nonce, Action::Menu),
                ]],
            }
        }
    }
}

/// A finished session, as the control message ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub session: SessionId,
    pub bay: String,
    pub plate: String,
    pub count: u64,
    pub started_at: DateTime<Utc>,
    pub stopped_at: DateTime<Utc>,
    /// Who stopped it, when not this chat.
    pub stopped_by: Option<String>,
}

pub fn stopped(f: &Finished, tz: Tz) -> Screen {
    let by = f
        .stopped_by
        .as_ref()
        .map(|b| format!("\nStopped by: {b}"))
        .unwrap_or_default();
    Screen {
        text: format!(
            "🛑 Stopped at {}\nBay: {}\nPlate: {}\nTotal: {}\nDuration: {}{by}",
            clock(f.stopped_at, tz),
            f.bay,
            f.plate,
            f.count,
            duration((f.stopped_at - f.started_at).num_seconds())
        ),
        buttons: vec![],
    }
}

/// The stop photo's caption: `🛑 Stopped at 14:03:27`, then the plate and the total.
pub fn stop_caption(f: &Finished, tz: Tz) -> String {
    format!(
        "🛑 Stopped at {}\n{} · total {}",
        clock(f.stopped_at, tz),
        f.plate,
        f.count
    )
}

/// Why a stopped session's summary is not followed by its photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoStopPhoto {
    /// The bay had no picture to send (its budget was full, or no frame was there).
    Dropped,
    /// The picture was deleted after the retention already.
    Pruned,
    /// The picture did not come within the wait.
    NotCome,
}

/// The summary with a last line saying why no photo follows.
pub fn without_stop_photo(summary: &str, why: NoStopPhoto) -> String {
    let line = match why {
        NoStopPhoto::Dropped => "📷 No picture of the stop: the bay dropped it.",
        NoStopPhoto::Pruned => "📷 The picture of the stop is deleted (the relay's retention).",
        NoStopPhoto::NotCome => "📷 No picture of the stop came from the bay.",
    };
    format!("{summary}\n{line}")
}

/// What became of a session's crossing pictures, for `/evidence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CrossingPictures {
    pub crossings: usize,
    /// Those with a picture at the relay.
    pub pictures: usize,
    /// Dropped on the edge: there never was one here.
    pub dropped: usize,
    /// Deleted after the retention (`evidence_days`).
    pub pruned: usize,
    /// Of the pictures, how many are sent.
    pub sent: usize,
}

/// The start of a session's id that the bot shows and `/evidence` takes.
fn short_id(id: SessionId) -> String {
    id.to_string()[..8].to_owned()
}

/// When a session ran: `26/11 14:00–14:05`, or `26/11 14:00 (loading)`.
fn span(s: &SessionRow, tz: Tz) -> String {
    let when = s.started_at.map_or_else(
        || "?".to_owned(),
        |t| t.with_timezone(&tz).format("%d/%m %H:%M").to_string(),
    );
    let until = match s.stopped_at {
        Some(t) => t.with_timezone(&tz).format("–%H:%M").to_string(),
        None => " (loading)".to_owned(),
    };
    format!("{when}{until}")
}

/// `/evidence`: the session, and what its crossings' pictures came to, before the albums.
pub fn evidence(s: &SessionRow, p: &CrossingPictures, tz: Tz) -> String {
    let mut lines = vec![format!(
        "📷 Session #{} · {} · {} · {}",
        short_id(s.id),
        s.plate.as_ref().map_or("?", |p| p.as_str()),
        s.bay,
        span(s, tz)
    )];
    lines.push(match (p.crossings, p.pictures) {
        (0, _) => "No crossings: there are no pictures to show.".to_owned(),
        (n, 0) => format!("{n} crossings, none with a picture left."),
        (n, k) if n == k => format!("{n} crossings, each with its picture:"),
        (n, k) => format!("{n} crossings, {k} with a picture:"),
    });
    if p.dropped > 0 {
        lines.push(format!(
            "{} dropped by the bay (its picture budget was full, or no frame was there).",
            p.dropped
        ));
    }
    if p.pruned > 0 {
        lines.push(format!(
            "{} deleted after the relay's retention (evidence_days).",
            p.pruned
        ));
    }
    if p.sent < p.pictures {
        lines.push(format!(
            "Here are the first {}; GET /api/sessions/{}/evidence lists them all.",
            p.sent, s.id
        ));
    }
    lines.join("\n")
}

/// A crossing picture's caption: `#3 · 14:03:27 · in`.
pub fn crossing_caption(row: &EvidenceRow, tz: Tz) -> String {
    let direction = row.direction.map_or("?", Direction::as_str);
    format!("#{} · {} · {direction}", row.id.seq, clock(row.at, tz))
}

/// `/evidence` found no such session.
pub fn no_session(asked: &str) -> String {
    if asked.is_empty() {
        "No sessions yet: /evidence shows a session's pictures once one has started.".to_owned()
    } else {
        format!(
            "No session matches \"{asked}\": give a plate (/evidence KT 8899 TEST) or the start of a session's id (/history shows them after #)."
        )
    }
}

/// `/status`: every bay on a line.
pub fn status(bays: &[BayView], tz: Tz) -> String {
    if bays.is_empty() {
        return "No bays yet: an edge appears here when it first connects.".into();
    }
    bays.iter()
        .map(|b| {
            let dot = if b.online { "🟢" } else { "⚪" };
            let what = match (b.online, b.phase) {
                (false, _) => "offline".to_owned(),
                (true, Phase::Idle) => "idle".to_owned(),
                (true, Phase::Loading) => format!(
                    "loading {}, count {}{}",
                    b.plate.as_ref().map_or("?", |p| p.as_str()),
                    b.count,
                    b.started_at
                        .map(|t| format!(" since {}", clock(t, tz)))
                        .unwrap_or_default()
                ),
            };
            format!("{dot} {}: {what}", bay_title(b))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `/history [plate]`: the latest sessions, newest first.
pub fn history(sessions: &[SessionRow], plate: Option<&Plate>, tz: Tz) -> String {
    let title = match plate {
        Some(p) => format!("Last sessions of {p}:"),
        None => "Last sessions:".to_owned(),
    };
    if sessions.is_empty() {
        return format!("{title}\nnone yet.");
    }
    let lines = sessions.iter().map(|s| {
        let corrected = if s.correction != 0 {
            format!(" ({:+} corrected: {})", s.correction, s.corrected_count)
        } else {
            String::new()
        };
        format!(
            "{}  {}  {}  {}{corrected}  #{}",
            span(s, tz),
            s.bay,
            s.plate.as_ref().map_or("?", |p| p.as_str()),
            s.count,
            short_id(s.id)
        )
    });
    std::iter::once(title)
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

pub const HELP: &str = "baycount counts the goods loaded onto trucks at the bays.\n\n\
/start or /menu: choose the bay and the truck's plate, then START LOADING and STOP LOADING.\n\
/status: every bay now.\n\
/history [plate]: the latest sessions (with their ids after #), of one plate if given.\n\
/evidence [plate or session id]: the pictures of a session's crossings (the latest session of this chat's bay, of the plate, or with an id starting so).\n\
/help: this.";

/// The answer to someone who is not on the allow-list.
pub fn refusal(user: u64) -> String {
    format!(
        "Sorry, you may not control the bays. Ask your supervisor to add your Telegram user id {user} to the relay's allow-list."
    )
}

/// The bays a chat may pick from, by id.
pub fn find<'a>(bays: &'a [BayView], id: &BayId) -> Option<&'a BayView> {
    bays.iter().find(|b| &b.bay == id)
}

#[cfg(test)]
mod tests {
    use baycount_protocol::{Actor, ActorKind, SessionId};
    use chrono::TimeZone;

    use super::*;

    fn view(loading: bool) -> BayView {
        let mut v = BayView::new(BayId::parse("bay-1").expect("bay"));
        v.name = Some("Gate 1".into());
        v.online = true;
        if loading {
            v.phase = Phase::Loading;
            v.plate = Some(Plate::parse("KT 8899 TEST").expect("plate"));
            v.count = 42;
            v.session = Some(SessionId::new());
            v.started_at = Some(
                Utc.with_ymd_and_hms(2026, 11, 26, 0, 15, 3)
                    .single()
                    .expect("t"),
            );
            v.started_by = Some(Actor::new(ActorKind::Telegram, Some("42".into())));
        }
        v
    }

    #[test]
    fn control_message_idle_then_loading_in_the_site_zone() {
        let tz: Tz = "Asia/Makassar".parse().expect("zone");
        let plate = Plate::parse("KT 8899 TEST").expect("plate");
        let idle = control(&view(false), Some(&plate), "n1", tz, None);
        assert!(idle.text.contains("Plate: KT 8899 TEST") && idle.text.contains("Count: 0"));
        assert_eq!(idle.buttons[0][0].0, "▶️ START LOADING");
        let loading = control(&view(true), Some(&plate), "n1", tz, None);
        // 00:15:03 UTC is 08:15:03 in Makassar (UTC+8).
        assert!(
            loading.text.starts_with("🚀 Started at 08:15:03"),
            "{}",
            loading.text
        );
        assert!(loading.text.contains("Count: 42"));
        assert_eq!(loading.buttons[0][0].0, "⏹️ STOP LOADING");
    }

    #[test]
    fn the_stop_photo_caption_has_the_site_time_the_plate_and_the_total() {
        let tz: Tz = "Asia/Makassar".parse().expect("zone");
        let at = |h, m, s| {
            Utc.with_ymd_and_hms(2026, 11, 26, h, m, s)
                .single()
                .expect("t")
        };
        let f = Finished {
            session: SessionId::new(),
            bay: "bay-1".into(),
            plate: "KT 8899 TEST".into(),
            count: 37,
            started_at: at(5, 50, 0),
            stopped_at: at(6, 3, 27),
            stopped_by: None,
        };
        assert_eq!(
            stop_caption(&f, tz),
            "🛑 Stopped at 14:03:27\nKT 8899 TEST · total 37"
        );
    }

    #[test]
    fn evidence_counts_what_is_missing_and_what_is_not_sent() {
        let tz: Tz = "Asia/Makassar".parse().expect("zone");
        let v = view(true);
        let row = SessionRow {
            id: v.session.expect("session"),
            bay: v.bay.clone(),
            plate: v.plate.clone(),
            count: 130,
            out: 0,
            correction: 0,
            corrected_count: 130,
            started_at: v.started_at,
            stopped_at: None,
            started_by: None,
            stopped_by: None,
            duration_seconds: None,
            digest: None,
        };
        let counts = CrossingPictures {
            crossings: 130,
            pictures: 120,
            dropped: 7,
            pruned: 3,
            sent: 100,
        };
        let text = evidence(&row, &counts, tz);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].ends_with("· KT 8899 TEST · bay-1 · 26/11 08:15 (loading)"),
            "{text}"
        );
        assert_eq!(lines[1], "130 crossings, 120 with a picture:");
        assert!(lines[2].starts_with("7 dropped by the bay"), "{text}");
        assert!(lines[3].starts_with("3 deleted after"), "{text}");
        assert!(lines[4].starts_with("Here are the first 100;"), "{text}");
        let none = CrossingPictures::default();
        assert!(
            evidence(&row, &none, tz).ends_with("No crossings: there are no pictures to show.")
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(45), "45 s");
        assert_eq!(duration(750), "12 min 30 s");
        assert_eq!(duration(3900), "1 h 05 min");
    }

    #[test]
    fn every_button_fits_the_bot_api() {
        let plates: Vec<Plate> = ["B 1 A", "KT 8899 TEST", "ABCD 1234 EFGH"]
            .iter()
            .map(|p| Plate::parse(p).expect("plate"))
            .collect();
        let menu = plate_menu(&view(false), &plates, "abcdef01", true);
        for (_, data) in menu.buttons.iter().flatten() {
            assert!(data.len() <= super::super::callback::MAX_LEN);
        }
        assert_eq!(
            menu.buttons.last().map(|r| r[0].0.as_str()),
            Some("⬅️ Bays")
        );
    }
}
