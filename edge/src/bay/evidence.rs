//! The pictures of a bay's events (each session's start and stop, every counted crossing), kept
//! in a directory beside the journal until the relay confirms them, within a budget of their
//! own: when it is full the oldest pictures give way to word that they were dropped, so the
//! relay still learns of them, and a count never waits for or loses anything to a picture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// Pictures waiting for the relay, one file per event: `<session>-<seq>.ev`, holding the payload
/// as published.
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    dir: PathBuf,
    max_bytes: u64,
}

/// A file's name for an event.
fn name(session: SessionId, seq: u64) -> String {
    format!("{session}-{seq:010}.ev")
}

/// The event a file's name says, if it is one of ours.
fn parse(name: &str) -> Option<(SessionId, u64)> {
    let stem = name.strip_suffix(".ev")?;
    let (session, seq) = stem.rsplit_once('-')?;
    Some((session.parse().ok()?, seq.parse().ok()?))
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
        })
    }

    fn io(&self, source: std::io::Error) -> EvidenceError {
        EvidenceError::Io {
            path: self.dir.clone(),
            source,
        }
    }

    /// Our files, oldest event first within a session, with their sizes.
    fn files(&self) -> Result<Vec<(SessionId, u64, PathBuf, u64)>, EvidenceError> {
        let mut files = vec![];
        for entry in std::fs::read_dir(&self.dir).map_err(|e| self.io(e))? {
            let entry = entry.map_err(|e| self.io(e))?;
            let file_name = entry.file_name();
            let Some((session, seq)) = file_name.to_str().and_then(parse) else {
                continue;
            };
            let len = entry.metadata().map_err(|e| self.io(e))?.len();
            files.push((session, seq, entry.path(), len));
        }
        // Session ids are UUIDv7: in the order sessions started.
        files.sort_by_key(|(session, seq, ..)| (*session, *seq));
        Ok(files)
    }

    /// Keeps a picture (written whole, then renamed into place), then makes room: the oldest
    /// pictures beyond the budget are replaced by word that they were dropped. Returns how
    /// many were dropped.
    pub fn put(&self, evidence: &Evidence) -> Result<u64, EvidenceError> {
        let h = &evidence.header;
        let path = self.dir.join(name(h.session, h.seq));
        let partial = path.with_extension("part");
        std::fs::write(&partial, evidence.encode()).map_err(|e| self.io(e))?;
        std::fs::rename(&partial, &path).map_err(|e| self.io(e))?;
        self.make_room()
    }

    fn make_room(&self) -> Result<u64, EvidenceError> {
        let files = self.files()?;
        let mut total: u64 = files.iter().map(|f| f.3).sum();
        let mut dropped = 0;
        for (_, _, path, len) in files {
            if total <= self.max_bytes {
                break;
            }
            let read = std::fs::read(&path).ok();
            let Some(mut e) = read.and_then(|b| Evidence::decode(&b).ok()) else {
                // Not readable as evidence: nothing to tell the relay; it goes.
                std::fs::remove_file(&path).map_err(|e| self.io(e))?;
                total -= len;
                continue;
            };
            if e.header.dropped {
                continue;
            }
            e.header.dropped = true;
            e.jpeg.clear();
            let word = e.encode();
            let partial = path.with_extension("part");
            std::fs::write(&partial, &word).map_err(|e| self.io(e))?;
            std::fs::rename(&partial, &path).map_err(|e| self.io(e))?;
            total = total - len + word.len() as u64;
            dropped += 1;
        }
        Ok(dropped)
    }

    /// Every picture (or word of one dropped) the relay has not confirmed, oldest first.
    pub fn unconfirmed(&self) -> Result<Vec<Evidence>, EvidenceError> {
        Ok(self
            .files()?
            .into_iter()
            .filter_map(|(.., path, _)| Evidence::decode(&std::fs::read(path).ok()?).ok())
            .collect())
    }

    /// Forgets what the relay has stored: each session's events up to its cursor.
    pub fn confirm(&self, stored: &BTreeMap<SessionId, u64>) -> Result<u64, EvidenceError> {
        let mut forgotten = 0;
        for (session, seq, path, _) in self.files()? {
            if stored.get(&session).is_some_and(|&upto| seq <= upto) {
                std::fs::remove_file(&path).map_err(|e| self.io(e))?;
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
        let all = store.unconfirmed().expect("reads");
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
            .unconfirmed()
            .expect("reads")
            .iter()
            .map(|e| (e.header.session, e.header.seq))
            .collect();
        assert_eq!(left, [(a, 3), (b, 1)]);
        // Files that are not ours are left alone.
        std::fs::write(dir.path().join("j.db.evidence/notes.txt"), "x").expect("write");
        assert_eq!(store.unconfirmed().expect("reads").len(), 2);
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
        let kept = store.unconfirmed().expect("reads");
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
