//! Ground-truth files for recorded footage (which crossings really happened, made by eye or by
//! construction): what `eval` and the accuracy tests compare a count with.
//!
//! The format is described in `edge/tests/data/validation/README.md`; the training set's older
//! layout (top-level `L1`, `L2` with `segment_norm` and compass directions) is read too.

use std::path::{Path, PathBuf};

use baycount_protocol::Direction;
use serde::Deserialize;

use crate::vision::counting_line::Line;

/// One true crossing.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthEvent {
    /// 0-based frame at which the anchor is on the line.
    pub frame: u64,
    pub direction: Direction,
    /// The annotator could not be sure; errors on it are reported apart.
    pub ambiguous: bool,
}

/// One counting line of a truth file, with its crossings in frame order.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthLine {
    pub name: String,
    pub line: Line,
    /// The hard case the line tests (`runner`, `stand`, ...), for the per-kind table.
    pub kind: Option<String>,
    pub events: Vec<TruthEvent>,
}

impl TruthLine {
    pub fn count(&self, direction: Direction) -> u64 {
        self.events
            .iter()
            .filter(|e| e.direction == direction)
            .count() as u64
    }
}

/// A truth file: its footage and its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthFile {
    pub path: PathBuf,
    /// The footage, as the file names it.
    pub source: Option<PathBuf>,
    /// The footage's frames a second, as the file gives them.
    pub fps: Option<f64>,
    pub lines: Vec<TruthLine>,
}

impl TruthFile {
    /// The footage as an existing file: a relative `source` is looked up from the truth file's
    /// directory, then from each directory above it.
    pub fn footage(&self) -> Result<Option<PathBuf>, TruthError> {
        let Some(source) = &self.source else {
            return Ok(None);
        };
        resolve(&self.path, source)
            .map(Some)
            .ok_or_else(|| TruthError::Invalid {
                path: self.path.clone(),
                reason: format!(
                    "its source {} is not found next to it or in any directory above it; \
                     fetch it (scripts/fetch-assets.sh) or give --source",
                    source.display()
                ),
            })
    }

    /// The line called `name`.
    pub fn line(&self, name: &str) -> Option<&TruthLine> {
        self.lines.iter().find(|l| l.name == name)
    }
}

/// Why a truth file cannot be used; each names the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("cannot read truth file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("truth file {path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("truth file {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Deserialize)]
struct FileJson {
    source: Option<PathBuf>,
    fps: Option<f64>,
    lines: Vec<LineJson>,
}

#[derive(Deserialize)]
struct LineJson {
    name: String,
    line: String,
    kind: Option<String>,
    #[serde(default)]
    events: Vec<EventJson>,
}

#[derive(Deserialize)]
struct EventJson {
    frame: u64,
    direction: String,
    #[serde(default)]
    ambiguous: bool,
}

/// The truth files named: each file as it is, each directory as its `.json` files in name order.
pub fn files(named: &[PathBuf]) -> Result<Vec<PathBuf>, TruthError> {
    let mut files = vec![];
    for path in named {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let read = |error| TruthError::Read {
            path: path.clone(),
            error,
        };
        let mut found = vec![];
        for entry in std::fs::read_dir(path).map_err(read)? {
            let p = entry.map_err(read)?.path();
            if p.extension().is_some_and(|x| x == "json") {
                found.push(p);
            }
        }
        if found.is_empty() {
            return Err(TruthError::Invalid {
                path: path.clone(),
                reason: "the directory has no .json truth files".into(),
            });
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Reads a truth file of either layout.
pub fn load(path: &Path) -> Result<TruthFile, TruthError> {
    let text = std::fs::read_to_string(path).map_err(|error| TruthError::Read {
        path: path.to_owned(),
        error,
    })?;
    let json = |source| TruthError::Json {
        path: path.to_owned(),
        source,
    };
    let invalid = |reason: String| TruthError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(json)?;
    let (source, fps, lines) = if value.get("lines").is_some() {
        let file: FileJson = serde_json::from_value(value).map_err(|e| {
            invalid(format!(
                "{e} (the layout is in edge/tests/data/validation/README.md)"
            ))
        })?;
        let lines = file
            .lines
            .into_iter()
            .map(|l| current_line(l).map_err(invalid))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(fps) = file.fps.filter(|f| !(f.is_finite() && *f > 0.0)) {
            return Err(invalid(format!(
                "\"fps\" is {fps}: give the footage's frames a second, e.g. 10"
            )));
        }
        (file.source, file.fps, lines)
    } else {
        (None, None, legacy_lines(&value).map_err(invalid)?)
    };
    if lines.is_empty() {
        return Err(invalid("no lines: add a \"lines\" array".into()));
    }
    for (i, l) in lines.iter().enumerate() {
        if lines[..i].iter().any(|o| o.name == l.name) {
            return Err(invalid(format!("two lines are called {:?}", l.name)));
        }
    }
    Ok(TruthFile {
        path: path.to_owned(),
        source,
        fps,
        lines,
    })
}

fn current_line(l: LineJson) -> Result<TruthLine, String> {
    let name = l.name;
    let line = l.line.parse::<Line>().map_err(|e| format!("{name}: {e}"))?;
    let mut events = l
        .events
        .into_iter()
        .map(|e| {
            let direction = match e.direction.as_str() {
                "in" => Direction::In,
                "out" => Direction::Out,
                other => {
                    return Err(format!(
                        "{name}: the event at frame {} has direction {other:?}; use \"in\" or \"out\"",
                        e.frame
                    ));
                }
            };
            Ok(TruthEvent {
                frame: e.frame,
                direction,
                ambiguous: e.ambiguous,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    events.sort_by_key(|e| e.frame);
    Ok(TruthLine {
        name,
        line,
        kind: l.kind,
        events,
    })
}

/// The training file's layout: each top-level object with `segment_norm` is a line; east and
/// south are on the line's right (`in`), as its lines are drawn.
fn legacy_lines(value: &serde_json::Value) -> Result<Vec<TruthLine>, String> {
    let Some(map) = value.as_object() else {
        return Err("expected a JSON object".into());
    };
    let mut lines = vec![];
    for (name, l) in map.iter().filter(|(_, l)| l.get("segment_norm").is_some()) {
        let s = &l["segment_norm"];
        let line = format!("{},{},{},{}", s[0][0], s[0][1], s[1][0], s[1][1])
            .parse::<Line>()
            .map_err(|e| format!("{name}: {e}"))?;
        let mut events = vec![];
        for e in l["events"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let frame = e["frame"]
                .as_u64()
                .ok_or_else(|| format!("{name}: an event without a frame"))?;
            let direction = match e["direction"].as_str() {
                Some("east" | "south" | "in") => Direction::In,
                Some("west" | "north" | "out") => Direction::Out,
                other => return Err(format!("{name}: frame {frame}: direction {other:?}")),
            };
            events.push(TruthEvent {
                frame,
                direction,
                ambiguous: false,
            });
        }
        events.sort_by_key(|e| e.frame);
        lines.push(TruthLine {
            name: name.clone(),
            line,
            kind: None,
            events,
        });
    }
    Ok(lines)
}

/// A relative `source` from the truth file's directory, then from each directory above it.
fn resolve(truth: &Path, source: &Path) -> Option<PathBuf> {
    if source.is_absolute() {
        return source.exists().then(|| source.to_owned());
    }
    let start = truth.parent().map(Path::to_owned).unwrap_or_default();
    let start = std::path::absolute(&start).unwrap_or(start);
    start
        .ancestors()
        .map(|dir| dir.join(source))
        .find(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn reads_the_current_layout_and_finds_the_source_above_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a/b")).expect("dirs");
        std::fs::create_dir_all(dir.path().join("footage")).expect("dirs");
        std::fs::write(dir.path().join("footage/x.avi"), b"").expect("footage");
        let p = write(
            &dir.path().join("a/b"),
            "t.json",
            r#"{"source": "footage/x.avi", "provenance": "by eye", "lines": [
                {"name": "V1", "line": "0,0.5,1,0.5", "kind": "stream", "events": [
                    {"frame": 30, "direction": "out", "note": "second"},
                    {"frame": 12, "direction": "in", "ambiguous": true}]},
                {"name": "V2", "line": "0.5,0,0.5,1"}]}"#,
        );
        let t = load(&p).expect("loads");
        assert_eq!(
            t.footage().expect("found"),
            Some(dir.path().join("footage/x.avi"))
        );
        let v1 = t.line("V1").expect("V1");
        assert_eq!(v1.kind.as_deref(), Some("stream"));
        assert_eq!(
            v1.events,
            vec![
                TruthEvent {
                    frame: 12,
                    direction: Direction::In,
                    ambiguous: true
                },
                TruthEvent {
                    frame: 30,
                    direction: Direction::Out,
                    ambiguous: false
                }
            ],
            "sorted by frame"
        );
        assert_eq!((v1.count(Direction::In), v1.count(Direction::Out)), (1, 1));
        assert!(t.line("V2").expect("V2").events.is_empty());
    }

    #[test]
    fn reads_the_training_layout() {
        let p = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vtest_ground_truth.json"
        ));
        let t = load(&p).expect("loads");
        assert_eq!(t.lines.len(), 2);
        assert_eq!(t.source, None);
        let l1 = t.line("L1").expect("L1");
        assert_eq!(l1.events.len(), 28);
        assert_eq!(l1.events[0].frame, 22);
        assert_eq!(l1.events[0].direction, Direction::In, "east on L1 is in");
    }

    #[test]
    fn bad_files_say_what_to_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            ("{", "not valid JSON"),
            (r#"{"lines": []}"#, "no lines"),
            (
                r#"{"lines": [{"name": "A", "line": "0,0,2,0"}]}"#,
                "A: a line is four numbers",
            ),
            (
                r#"{"lines": [{"name": "A", "line": "0,0,1,0", "events": [{"frame": 3, "direction": "east"}]}]}"#,
                "use \"in\" or \"out\"",
            ),
            (
                r#"{"lines": [{"name": "A", "line": "0,0,1,0"}, {"name": "A", "line": "0,1,1,1"}]}"#,
                "two lines are called \"A\"",
            ),
            (
                r#"{"lines": [{"name": "A", "line": "0,0,1,0", "events": [{"frame": -1, "direction": "in"}]}]}"#,
                "invalid value: integer `-1`",
            ),
        ];
        for (text, want) in cases {
            let p = write(dir.path(), "bad.json", text);
            let e = load(&p).expect_err(text).to_string();
            assert!(e.contains(want), "{text}: {e}");
            assert!(e.contains("bad.json"), "names the file: {e}");
        }
        let p = write(
            dir.path(),
            "bad.json",
            r#"{"source": "nowhere/x.avi", "lines": [{"name": "A", "line": "0,0,1,0"}]}"#,
        );
        let e = load(&p).expect("loads").footage().expect_err("no footage");
        assert!(e.to_string().contains("give --source"), "{e}");
        let e = load(&dir.path().join("missing.json")).expect_err("missing");
        assert!(e.to_string().contains("cannot read truth file"), "{e}");
    }
}
