//! The pictures of a bay's events (each session's start and stop, every counted crossing), kept
//! in a directory beside the journal until the relay confirms them, within a budget of their
//! own: when it is full the oldest pictures give way to word that they were dropped, so the
//! relay still learns of them, and a count never waits for or loses anything to a picture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use baycount_protocol::{Evidence, SessionId};

/// Why the evidence directory could not be used; the count goes on regardless.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("evidence directory {path}: {source}; check the edge's disk")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The default budget, in bytes.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// Pictures waiting for the relay, one file per event holding the payload as published:
/// `<session>-<seq>.ev` for a picture, `<session>-<seq>.dropped` for word of one dropped.
/// Cheap to clone; one operation at a time across clones.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    dir: PathBuf,
    max_bytes: u64,
    busy: Arc<Mutex<()>>,
}

const PICTURE: &str = "ev";
const DROPPED: &str = "dropped";

/// A file's name for an event.
fn name(session: SessionId, seq: u64, dropped: bool) -> String {
    format!(
        "{session}-{seq:010}.{}",
        if dropped { DROPPED } else { PICTURE }
    )
}

/// The event a file's name says, and whether it is word of a dropped picture, if it is ours.
fn parse(name: &str) -> Option<(SessionId, u64, bool)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let dropped = match ext {
        PICTURE => false,
        DROPPED => true,
        _ => return None,
    };
    let (session, seq) = stem.rsplit_once('-')?;
    Some((session.parse().ok()?, seq.parse().ok()?, dropped))
}

/// One of the store's files.
struct File {
    session: SessionId,
    seq: u64,
    dropped: bool,
    path: PathBuf,
    len: u64,
}

impl EvidenceStore {
    /// The directory beside `journal` (`<journal>.evidence`), made if missing.
    pub fn beside(journal: &Path, max_bytes: u64) -> Result<Self, EvidenceError> {
        let mut dir = journal.as_os_str().to_owned();
        dir.push(".evidence");
        Self::open(Path::new(&dir), max_bytes)
    }

    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, EvidenceError> {
        std::fs::create_dir_all(dir).map_err(|source| EvidenceError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            busy: Arc::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.busy.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn io(&self, source: std::io::Error) -> EvidenceError {
        EvidenceError::Io {
            path: self.dir.clone(),
            source,
        }
    }

    /// Our files, oldest event first (session ids are UUIDv7: in the order sessions started).
    fn files(&self) -> Result<Vec<File>, EvidenceError> {
        let mut files = vec![];
        for entry in std::fs::read_dir(&self.dir).map_err(|e| self.io(e))? {
            let Ok(entry) = entry else { continue };
            let file_name = entry.file_name();
            let Some((session, seq, dropped)) = file_name.to_str().and_then(parse) else {
                continue;
            };
            // Gone since the listing (another clone's work): skipped.
            let Ok(meta) = entry.metadata() else { continue };
            files.push(File {
                session,
                seq,
                dropped,
                path: entry.path(),
                len: meta.len(),
            });
        }
        files.sort_by_key(|f| (f.session, f.seq));
        Ok(files)
    }

    /// Writes `evidence` whole under its name, then renames it into place.
    fn write(&self, evidence: &Evidence) -> Result<u64, EvidenceError> {
        let h = &evidence.header;
        let path = self.dir.join(name(h.session, h.seq, h.dropped));
        let partial = path.with_extension("part");
        let bytes = evidence.encode();
        std::fs::write(&partial, &bytes).map_err(|e| self.io(e))?;
        std::fs::rename(&partial, &path).map_err(|e| self.io(e))?;
        Ok(bytes.len() as u64)
    }

    /// Keeps a picture (or word of one dropped), then makes room: past the budget the oldest
    /// pictures become word that they were dropped, and if that is not enough the oldest such
    /// words go too (the relay then never hears of them: logged). Returns how many pictures
    /// were dropped.
    pub fn put(&self, evidence: &Evidence) -> Result<u64, EvidenceError> {
        let _busy = self.lock();
        self.write(evidence)?;
        self.make_room()
    }

    fn make_room(&self) -> Result<u64, EvidenceError> {
        let files = self.files()?;
        let mut total: u64 = files.iter().map(|f| f.len).sum();
        let mut dropped = 0;
        for f in files.iter().filter(|f| !f.dropped) {
            if total <= self.max_bytes {
                return Ok(dropped);
            }
            let read = std::fs::read(&f.path).ok();
            if let Some(mut e) = read.and_then(|b| Evidence::decode(&b).ok()) {
                e.header.dropped = true;
                e.jpeg.clear();
                total += self.write(&e)?;
                dropped += 1;
            }
            // Unreadable files have nothing to tell the relay: they just go.
            std::fs::remove_file(&f.path).map_err(|e| self.io(e))?;
            total -= f.len;
        }
        let mut forgotten = 0;
        for f in self.files()?.iter().filter(|f| f.dropped) {
            if total <= self.max_bytes {
                break;
            }
            std::fs::remove_file(&f.path).map_err(|e| self.io(e))?;
            total -= f.len;
            forgotten += 1;
        }
        if forgotten > 0 {
            log::warn!(
                "evidence budget full of words of dropped pictures: the {forgotten} oldest are forgotten unsent"
            );
        }
        Ok(dropped)
    }

    /// Every picture (or word of one dropped) the relay has not confirmed, oldest first; at
    /// most `limit`.
    pub fn unconfirmed(&self, limit: usize) -> Result<Vec<Evidence>, EvidenceError> {
        let _busy = self.lock();
        Ok(self
            .files()?
            .into_iter()
            .filter_map(|f| Evidence::decode(&std::fs::read(f.path).ok()?).ok())
            .take(limit)
            .collect())
    }

    /// Forgets what the relay has stored: each session's events up to its cursor.
    pub fn confirm(&self, stored: &BTreeMap<SessionId, u64>) -> Result<u64, EvidenceError> {
        let _busy = self.lock();
        let mut forgotten = 0;
        for f in self.files()? {
            if stored.get(&f.session).is_some_and(|&upto| f.seq <= upto) {
                std::fs::remove_file(&f.path).map_err(|e| self.io(e))?;
                forgotten += 1;
            }
        }
        Ok(forgotten)
    }
}

#[cfg(test)]
mod tests {
    use baycount_protocol::{Direction, EvidenceHeader, EvidenceKind};
    use chrono::Utc;

    use super::*;

    fn picture(session: SessionId, seq: u64, bytes: usize) -> Evidence {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF];
        jpeg.resize(bytes, 7);
        Evidence {
            header: EvidenceHeader {
                session,
                seq,
                kind: EvidenceKind::Crossing,
                at: Utc::now(),
                direction: Some(Direction::In),
                track: Some(seq),
                dropped: false,
            },
            jpeg,
        }
    }

    #[test]
    fn keeps_pictures_until_the_relay_has_them() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = EvidenceStore::beside(&dir.path().join("j.db"), 1 << 20).expect("opens");
        assert!(dir.path().join("j.db.evidence").is_dir());
        let (a, b) = (SessionId::new(), SessionId::new());
        for (s, seq) in [(a, 1), (a, 2), (a, 3), (b, 1)] {
            assert_eq!(store.put(&picture(s, seq, 1000)).expect("put"), 0);
        }
        let all = store.unconfirmed(usize::MAX).expect("reads");
        let order: Vec<_> = all
            .iter()
            .map(|e| (e.header.session, e.header.seq))
            .collect();
        assert_eq!(order, [(a, 1), (a, 2), (a, 3), (b, 1)]);
        let mut first = picture(a, 1, 1000);
        first.header.at = all[0].header.at;
        assert_eq!(all[0], first, "read back as written");
        assert_eq!(store.confirm(&[(a, 2)].into()).expect("confirms"), 2);
        let left: Vec<_> = store
            .unconfirmed(usize::MAX)
            .expect("reads")
            .iter()
            .map(|e| (e.header.session, e.header.seq))
            .collect();
        assert_eq!(left, [(a, 3), (b, 1)]);
        // Files that are not ours are left alone.
        std::fs::write(dir.path().join("j.db.evidence/notes.txt"), "x").expect("write");
        assert_eq!(store.unconfirmed(usize::MAX).expect("reads").len(), 2);
    }

    #[test]
    fn a_full_budget_drops_the_oldest_pictures_and_says_so() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = EvidenceStore::open(dir.path(), 10_000).expect("opens");
        let s = SessionId::new();
        let mut dropped = 0;
        for seq in 1..=5 {
            dropped += store.put(&picture(s, seq, 3000)).expect("put");
        }
        // 5 x ~3.2 KB in 10 KB: the two oldest give way.
        assert_eq!(dropped, 2);
        let kept = store.unconfirmed(usize::MAX).expect("reads");
        assert_eq!(
            kept.len(),
            5,
            "every event still has its evidence or its word"
        );
        for e in &kept {
            let gone = e.header.seq <= 2;
            assert_eq!(e.header.dropped, gone, "{:?}", e.header);
            assert_eq!(e.jpeg.is_empty(), gone);
        }
        // Nothing more goes once the pictures fit.
        assert_eq!(store.put(&picture(s, 6, 100)).expect("put"), 0);
        assert_eq!(
            store.unconfirmed(3).expect("reads").len(),
            3,
            "as many as asked"
        );
    }

    #[test]
    fn words_of_dropped_pictures_go_last_and_only_when_they_alone_are_too_many() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = EvidenceStore::open(dir.path(), 1_000).expect("opens");
        let s = SessionId::new();
        for seq in 1..=20 {
            store.put(&picture(s, seq, 2_000)).expect("put");
        }
        let kept = store.unconfirmed(usize::MAX).expect("reads");
        let size: usize = kept.iter().map(|e| e.encode().len()).sum();
        assert!(size <= 1_000, "{size} bytes kept");
        assert!(
            kept.iter().all(|e| e.header.dropped),
            "no picture fits 1 KB"
        );
        assert_eq!(
            kept.last().map(|e| e.header.seq),
            Some(20),
            "the newest words stay"
        );
    }

    #[test]
    fn an_unusable_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").expect("write");
        let e = EvidenceStore::open(&file.join("below"), 1000).expect_err("not a directory");
        assert!(e.to_string().contains("check the edge's disk"), "{e}");
    }
}
