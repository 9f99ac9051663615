//! What the bay counts, changed from the relay (`configure`, the dashboard's line editor): the
//! settings are checked before they are taken, kept beside the journal over a restart, and given
//! to the counting thread. The config file stays the starting point: a remote change wins until
//! the file's own settings change.

use std::path::{Path, PathBuf};

use baycount_protocol::{Actor, Counting, CountingChange};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::vision::counting_line::{Anchor, Line};
use crate::vision::detector::ModelChoice;
use crate::vision::pipeline_setup::PipelineSpec;

/// Why settings were not taken, in words for whoever changed them.
#[derive(Debug, thiserror::Error)]
pub enum CountingError {
    #[error("{0}")]
    Invalid(String),
    #[error("the bay is loading: stop its session, then change what it counts")]
    Loading,
    #[error("the detector does not take these settings: {0}")]
    Detector(String),
    #[error("cannot keep the settings in {path}: {reason}; check that the directory is writable")]
    Keep { path: String, reason: String },
}

/// The settings `spec` counts with.
pub fn of_spec(spec: &PipelineSpec) -> Counting {
    let c = &spec.counter;
    let classes = match (&spec.detector.model, spec.detector.classes.is_empty()) {
        (ModelChoice::Default, true) => vec!["person".to_owned()],
        _ => spec.detector.classes.clone(),
    };
    Counting {
        line: c.line.to_string(),
        classes,
        band: c.band,
        anchor: c.anchor.as_str().to_owned(),
    }
}

/// `spec` counting with `settings`, if they make sense (the model's classes are checked by
/// building its detector: see [`Control::configure`]).
pub fn with_settings(
    spec: &PipelineSpec,
    settings: &Counting,
) -> Result<PipelineSpec, CountingError> {
    let invalid = |m: String| CountingError::Invalid(m);
    // What any bay takes (the relay checks the same), then what this one makes of it.
    CountingChange {
        line: Some(settings.line.clone()),
        // None: a model counting every class it has.
        classes: (!settings.classes.is_empty()).then(|| settings.classes.clone()),
        band: Some(settings.band),
        anchor: Some(settings.anchor.clone()),
    }
    .check()
    .map_err(invalid)?;
    let line: Line = settings.line.parse().map_err(|e| invalid(format!("{e}")))?;
    let anchor: Anchor = settings.anchor.parse().map_err(invalid)?;
    let mut new = spec.clone();
    new.counter.line = line;
    new.counter.band = settings.band;
    new.counter.anchor = anchor;
    new.detector.classes = settings.classes.clone();
    Ok(new)
}

/// What is kept on disk: the remote settings and the file's settings they replaced.
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    /// The config file's settings when the change was made: when they differ from the file's
    /// today, the file has changed since and wins.
    base: Counting,
    counting: Counting,
    by: Actor,
    at: DateTime<Utc>,
}

/// The bay's counting settings and where a remote change is kept.
#[derive(Debug)]
pub struct Control {
    path: PathBuf,
    /// The settings from the config file and command line.
    base: Counting,
    /// The spec the counting thread runs; changed here.
    spec: watch::Sender<PipelineSpec>,
}

impl Control {
    /// Settings kept at `<journal>.counting.json`, over the config file's `spec`: the starting
    /// spec is the kept one when it was made on the same file settings. A kept file that
    /// cannot be read or no longer makes sense is logged and left for the file's settings.
    pub fn beside(journal: &Path, spec: PipelineSpec) -> (Self, watch::Receiver<PipelineSpec>) {
        let mut path = journal.as_os_str().to_owned();
        path.push(".counting.json");
        let path = PathBuf::from(path);
        let base = of_spec(&spec);
        let start = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => spec,
            Err(e) => {
                log::warn!(
                    "cannot read {}: {e}; counting as the config file says",
                    path.display()
                );
                spec
            }
            Ok(bytes) => match serde_json::from_slice::<Kept>(&bytes) {
                Err(e) => {
                    log::warn!(
                        "{} is not counting settings ({e}); counting as the config file says",
                        path.display()
                    );
                    spec
                }
                Ok(kept) if kept.base != base => {
                    log::info!(
                        "the config file's counting settings changed since {} changed them at {}; the file's win",
                        kept.by,
                        kept.at.to_rfc3339()
                    );
                    spec
                }
                Ok(kept) => match with_settings(&spec, &kept.counting) {
                    Ok(s) => {
                        log::info!(
                            "counting as {} set at {}: line {}",
                            kept.by,
                            kept.at.to_rfc3339(),
                            kept.counting.line
                        );
                        s
                    }
                    Err(e) => {
                        log::warn!(
                            "the kept counting settings are refused ({e}); counting as the config file says"
                        );
                        spec
                    }
                },
            },
        };
        let (tx, rx) = watch::channel(start);
        (
            Self {
                path,
                base,
                spec: tx,
            },
            rx,
        )
    }

    /// The settings counted with now.
    pub fn current(&self) -> Counting {
        of_spec(&self.spec.borrow())
    }

    /// Checks `change` (the detector is built with it, off the loop's thread), keeps it and
    /// gives it to the counting thread; returns the settings now counted with. The caller
    /// refuses it while loading.
    pub async fn configure(
        &self,
        change: &CountingChange,
        by: &Actor,
    ) -> Result<Counting, CountingError> {
        let settings = change.applied_to(&self.current());
        let spec = with_settings(&self.spec.borrow(), &settings)?;
        let built = spec.clone();
        tokio::task::spawn_blocking(move || built.build().map(drop))
            .await
            .map_err(|e| CountingError::Detector(e.to_string()))?
            .map_err(|e| CountingError::Detector(e.to_string()))?;
        let kept = Kept {
            base: self.base.clone(),
            counting: settings.clone(),
            by: by.clone(),
            at: Utc::now(),
        };
        self.keep(&kept)?;
        self.spec.send_replace(spec);
        Ok(settings)
    }

    /// Writes `kept` whole or not at all (a temporary file renamed over the old one).
    fn keep(&self, kept: &Kept) -> Result<(), CountingError> {
        let fail = |e: &dyn std::fmt::Display| CountingError::Keep {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        };
        let text = serde_json::to_vec_pretty(kept).map_err(|e| fail(&e))?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".new");
        let tmp = PathBuf::from(tmp);
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| fail(&e))
    }
}

#[cfg(test)]
mod tests {
    use baycount_protocol::ActorKind;

    use super::*;
    use crate::vision::camera::SourceSpec;
    use crate::vision::counting_line::CounterConfig;
    use crate::vision::detector::DetectorOptions;

    fn spec(line: &str) -> PipelineSpec {
        PipelineSpec {
            source: SourceSpec::Synthetic,
            detector: DetectorOptions {
                model: ModelChoice::Blob,
                ..DetectorOptions::default()
            },
            counter: CounterConfig::new(line.parse().expect("line")),
            realtime: false,
        }
    }

    fn by() -> Actor {
        Actor::new(ActorKind::Dashboard, Some("ana".into()))
    }

    fn change(line: &str) -> CountingChange {
        CountingChange {
            line: Some(line.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_change_is_counted_with_and_kept_over_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = dir.path().join("journal");
        let (control, mut rx) = Control::beside(&journal, spec("0,0.5,1,0.5"));
        let now = control
            .configure(&change("0.5,0,0.5,1"), &by())
            .await
            .expect("taken");
        assert_eq!(now.line, "0.5,0,0.5,1");
        assert!(rx.has_changed().expect("open"));
        assert_eq!(
            rx.borrow_and_update().counter.line.to_string(),
            "0.5,0,0.5,1"
        );
        assert!(dir.path().join("journal.counting.json").exists());
        // Restarted with the same config file: the change stays.
        let (again, rx) = Control::beside(&journal, spec("0,0.5,1,0.5"));
        assert_eq!(again.current().line, "0.5,0,0.5,1");
        assert_eq!(rx.borrow().counter.line.to_string(), "0.5,0,0.5,1");
        // The file's line changed since: the file wins.
        let (edited, _) = Control::beside(&journal, spec("0,0.7,1,0.7"));
        assert_eq!(edited.current().line, "0,0.7,1,0.7");
    }

    #[tokio::test]
    async fn bad_settings_are_refused_with_a_reason_and_change_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (control, rx) = Control::beside(&dir.path().join("journal"), spec("0,0.5,1,0.5"));
        let bad = [
            (change("0,0.5,1"), "four numbers"),
            (change("0.5,0.5,0.5,0.5"), "same point"),
            (
                CountingChange {
                    band: Some(0.5),
                    ..Default::default()
                },
                "band must be",
            ),
            (
                CountingChange {
                    anchor: Some("feet".into()),
                    ..Default::default()
                },
                "anchor must be",
            ),
            (
                CountingChange {
                    classes: Some(vec![" ".into()]),
                    ..Default::default()
                },
                "label name",
            ),
        ];
        for (c, why) in bad {
            let e = control.configure(&c, &by()).await.expect_err("refused");
            assert!(e.to_string().contains(why), "{e}");
        }
        assert!(!rx.has_changed().expect("open"));
        assert_eq!(control.current().line, "0,0.5,1,0.5");
        assert!(!dir.path().join("journal.counting.json").exists());
    }

    #[tokio::test]
    async fn a_kept_file_that_is_not_settings_leaves_the_config_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("journal.counting.json"), "{").expect("write");
        let (control, _) = Control::beside(&dir.path().join("journal"), spec("0,0.5,1,0.5"));
        assert_eq!(control.current().line, "0,0.5,1,0.5");
    }

    #[tokio::test]
    async fn a_directory_that_cannot_be_written_refuses_with_where_and_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (control, rx) = Control::beside(&dir.path().join("gone/journal"), spec("0,0.5,1,0.5"));
        let e = control
            .configure(&change("0.5,0,0.5,1"), &by())
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("writable"), "{e}");
        assert!(!rx.has_changed().expect("open"));
    }
}
