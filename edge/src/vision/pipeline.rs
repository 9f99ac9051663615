//! The counting pipeline for one frame: detector → tracker → counting line, timing each stage;
//! and why a pipeline stops (its camera or its detector failed).

use std::time::Instant;

use crate::vision::camera::{CameraError, Frame};
use crate::vision::counting_line::{Counter, CounterConfig, Crossing};
use crate::vision::detector::{Detector, DetectorError, Stages};
use crate::vision::tracker::{TrackedObject, Tracker, TrackerConfig};
use crate::vision::windows::Windows;

/// Why a pipeline did not start, or stopped: its camera or its detector failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Camera(#[from] CameraError),
    #[error(transparent)]
    Detector(#[from] DetectorError),
}

/// How many frames the detector looks at one of while nothing is near the line.
pub const IDLE_STRIDE: u64 = 2;

/// How long after the camera last dropped a frame (the pipeline did not keep up) the detector
/// looks at each frame in one window, not in the band's windows: an edge too slow for the
/// windows at the camera's rate keeps its rate, which counts better (the validation scenes at
/// 5 frames a second in windows: 21 wrong; at 10 in one look: 14). Then windows are tried again.
pub const BEHIND_SECONDS: f64 = 10.0;

/// A detector with its tracker and counter (and, for `eval`, more counters on other lines of the
/// same tracks).
pub struct Pipeline {
    detector: Box<dyn Detector>,
    tracker: Tracker,
    /// The bay's counter first.
    counters: Vec<Counter>,
    /// Time per stage, summed over every frame processed.
    pub stages: Stages,
    /// Frames processed.
    pub frames: u64,
    /// While no counter is watching a track (see [`Counter::is_watching`]), the detector looks
    /// at one frame in this many: the tracker and counter work in seconds, so the frames between
    /// are as if dropped. 1 looks at every frame.
    pub idle_stride: u64,
    /// Frames not looked at, by `idle_stride` or while resting.
    pub skipped: u64,
    since_look: u64,
    /// While the bay is not loading, the detector looks at a frame at most once in this many
    /// seconds (see [`Pipeline::rest`]).
    resting: Option<f64>,
    /// The time of the last frame the detector looked at.
    last_look: Option<f64>,
    /// The tracks as of that frame.
    tracks: Vec<TrackedObject>,
    /// Whether the detector looks in one window or in windows.
    windows: Windows,
    /// The index of the last frame processed.
    last_index: Option<u64>,
    /// The time of the last frame that came after dropped ones (see [`BEHIND_SECONDS`]).
    behind: Option<f64>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("detector", &self.detector.describe())
            .field("frames", &self.frames)
            .finish()
    }
}

impl Pipeline {
    pub fn new(
        detector: Box<dyn Detector>,
        tracker: TrackerConfig,
        counter: CounterConfig,
    ) -> Self {
        Self {
            detector,
            tracker: Tracker::new(tracker),
            counters: vec![Counter::new(counter)],
            stages: Stages::default(),
            frames: 0,
            idle_stride: IDLE_STRIDE,
            skipped: 0,
            since_look: 0,
            resting: None,
            last_look: None,
            tracks: vec![],
            windows: Windows::default(),
            last_index: None,
            behind: None,
        }
    }

    /// While `Some(seconds)`, the detector looks at a frame at most once in that many seconds of
    /// footage: for a bay that is not loading, whose crossings count for nothing, so the edge
    /// keeps its tracks alive at little cost. `None` looks at every frame again from the next.
    pub fn rest(&mut self, seconds: Option<f64>) {
        self.resting = seconds.filter(|s| *s > 0.0);
    }

    /// Counts another line on the same tracks; returns its index for [`Pipeline::process_all`].
    pub fn add_counter(&mut self, config: CounterConfig) -> usize {
        self.counters.push(Counter::new(config));
        self.counters.len() - 1
    }

    /// Processes one frame; returns the crossings it completed.
    pub fn process(&mut self, frame: &Frame) -> Result<Vec<Crossing>, DetectorError> {
        Ok(self.process_all(frame)?.swap_remove(0))
    }

    /// Processes one frame; returns the crossings it completed on each counter's line.
    pub fn process_all(&mut self, frame: &Frame) -> Result<Vec<Vec<Crossing>>, DetectorError> {
        self.frames += 1;
        self.since_look += 1;
        if self.last_index.is_some_and(|last| frame.index > last + 1) {
            if self.behind.is_none() {
                log::info!(
                    "frames dropped: the detector looks at each frame in one window for {BEHIND_SECONDS} s"
                );
            }
            self.behind = Some(frame.time);
        }
        self.last_index = Some(frame.index);
        // A source whose clock went back (a file played again) starts afresh.
        self.behind = self
            .behind
            .filter(|t| frame.time >= *t && frame.time - t < BEHIND_SECONDS);
        let rested = match (self.resting, self.last_look) {
            (Some(every), Some(last)) => frame.time - last < every && frame.time >= last,
            _ => false,
        };
        // The least height of the tracks the counters watch (infinite: they watch none).
        let smallest = self
            .counters
            .iter()
            .flat_map(|c| c.watched(frame.time))
            .fold(f32::INFINITY, f32::min);
        let watching = smallest.is_finite();
        if rested || (self.resting.is_none() && !watching && self.since_look < self.idle_stride) {
            self.skipped += 1;
            return Ok(vec![vec![]; self.counters.len()]);
        }
        self.since_look = 0;
        self.last_look = Some(frame.time);
        // Someone near the line of a loading bay may be looked at closely (the smallest of them
        // decides); a resting bay's crossings count for nothing.
        let near = (watching && self.resting.is_none()).then_some(smallest);
        let detections = if self.behind.is_some() {
            self.stages.behind_frames += 1;
            self.windows
                .one_look(self.detector.as_mut(), frame, &mut self.stages)?
        } else {
            self.windows
                .detect(self.detector.as_mut(), frame, &mut self.stages, near)?
        };
        let t = Instant::now();
        self.tracks = self.tracker.update(&detections, frame.time);
        let crossings = self
            .counters
            .iter_mut()
            .map(|c| {
                c.set_view(frame.region);
                c.update(&self.tracks, frame.index, frame.time)
            })
            .collect();
        self.stages.track += t.elapsed();
        Ok(crossings)
    }

    /// The source has ended: crossings not settled yet count (see [`Counter::finish`]), per
    /// counter.
    pub fn finish(&mut self) -> Vec<Vec<Crossing>> {
        self.counters.iter_mut().map(Counter::finish).collect()
    }

    /// The tracks as of the last frame the detector looked at.
    pub fn tracks(&self) -> &[TrackedObject] {
        &self.tracks
    }

    /// The lines counted.
    pub fn lines(&self) -> impl Iterator<Item = crate::vision::counting_line::Line> + '_ {
        self.counters.iter().map(|c| c.config().line)
    }

    /// The bay's counter.
    pub fn counter(&self) -> &Counter {
        &self.counters[0]
    }

    pub fn counters(&self) -> &[Counter] {
        &self.counters
    }

    pub fn detector(&self) -> &dyn Detector {
        self.detector.as_ref()
    }

    pub fn detector_mut(&mut self) -> &mut dyn Detector {
        self.detector.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::camera::synthetic::Scene;
    use crate::vision::camera::{FrameSource, OpenOptions, SyntheticSource};
    use crate::vision::detector::Detection;
    use crate::vision::detector::blob::BlobDetector;
    use crate::vision::geometry::BBox;

    #[test]
    fn counts_the_synthetic_scene_exactly() {
        let scene = Scene {
            frames: Some(300),
            ..Scene::default()
        };
        let options = OpenOptions {
            width: 160,
            height: 120,
            realtime: false,
            region: Default::default(),
        };
        let mut src = SyntheticSource::new(&options, scene.clone());
        let line = "0,0.5,1,0.5".parse().expect("line");
        let mut p = Pipeline::new(
            Box::new(BlobDetector::new(160, 120)),
            TrackerConfig::default(),
            CounterConfig::new(line),
        );
        let mut last_time = 0.0;
        while let Some(f) = src.next_frame().expect("frame") {
            p.process(&f).expect("detect");
            last_time = f.time;
        }
        p.finish();
        assert_eq!(p.frames, 300);
        assert_eq!(p.counter().count_in(), scene.crossed_by(last_time));
        assert_eq!(p.counter().count_out(), 0);
        assert!(p.counter().count_in() >= 14);
    }

    /// Sees nothing: what matters here is which frames it is asked about.
    struct Empty;

    impl Detector for Empty {
        fn input_size(&self) -> (u32, u32) {
            (16, 16)
        }
        fn detect(&mut self, _: &Frame, _: &mut Stages) -> Result<Vec<Detection>, DetectorError> {
            Ok(vec![])
        }
        fn describe(&self) -> String {
            "empty".into()
        }
    }

    /// Sees one person `tall` (of the picture) standing on the line, in one look or in the band's
    /// windows alike, and notes the width of each frame it is shown.
    struct Standing {
        tall: f32,
        shown: Shown,
    }

    impl Detector for Standing {
        fn input_size(&self) -> (u32, u32) {
            (16, 16)
        }
        fn detect(&mut self, f: &Frame, _: &mut Stages) -> Result<Vec<Detection>, DetectorError> {
            self.shown.lock().expect("not poisoned").push(f.width);
            Ok(vec![Detection {
                class: 0,
                score: 0.9,
                bbox: BBox::new(0.45, 0.5 - self.tall, 0.55, 0.5),
            }])
        }
        fn describe(&self) -> String {
            "standing".into()
        }
    }

    /// The widths of the frames a detector was shown.
    type Shown = std::sync::Arc<std::sync::Mutex<Vec<u32>>>;

    /// A pipeline of a long line across the picture, where `Standing` sees someone `tall`, and
    /// the widths of the frames it is shown.
    fn standing(tall: f32) -> (Pipeline, Shown) {
        let seen = Shown::default();
        let p = Pipeline::new(
            Box::new(Standing {
                tall,
                shown: seen.clone(),
            }),
            TrackerConfig::default(),
            CounterConfig::new("0,0.5,1,0.5".parse().expect("line")),
        );
        (p, seen)
    }

    /// Frame `index` of a source that hands over the band along the line, 40 px wide.
    fn frame(index: u64) -> Frame {
        Frame {
            index,
            time: index as f64 / 10.0,
            windows: Some(Box::new(Frame {
                region: BBox::new(0.0, 0.25, 1.0, 0.75),
                ..Frame::grey(40, 16, 0)
            })),
            ..Frame::grey(16, 16, 0)
        }
    }

    #[test]
    fn someone_big_near_the_line_is_looked_at_in_one_look() {
        // Two fifths of the picture tall: over a third of the one look, as big to the model as
        // windows would make them.
        let (mut p, seen) = standing(0.4);
        for i in 0..10 {
            p.process(&frame(i)).expect("frame");
        }
        let shown = seen.lock().expect("not poisoned");
        assert!(p.counter().is_watching(0.9), "near the line");
        assert!(
            shown.len() >= 9 && shown.iter().all(|w| *w == 16),
            "{shown:?}"
        );
        assert_eq!(p.stages.near_frames, 0);
    }

    #[test]
    fn an_edge_that_drops_frames_looks_in_one_window_for_a_while() {
        let (mut p, seen) = standing(0.2);
        let shown = |from: usize| seen.lock().expect("not poisoned")[from..].to_vec();
        for i in 0..10 {
            p.process(&frame(i)).expect("frame");
        }
        assert!(
            shown(0).ends_with(&[40; 3]),
            "in windows, someone small on the line: {:?}",
            shown(0)
        );
        // Frame 10 was dropped (the pipeline did not keep up): one window a frame from 11 on,
        // for ten seconds of footage, though the person is still on the line.
        let before = seen.lock().expect("not poisoned").len();
        for i in 11..=108 {
            p.process(&frame(i)).expect("frame");
        }
        assert_eq!(shown(before), [16; 98]);
        assert_eq!(p.stages.behind_frames, 98);
        // No frame dropped since: windows again.
        for i in 109..=112 {
            p.process(&frame(i)).expect("frame");
        }
        let before = seen.lock().expect("not poisoned").len();
        for i in 113..=115 {
            p.process(&frame(i)).expect("frame");
        }
        assert_eq!(shown(before), [40; 3]);
        assert_eq!(p.stages.behind_frames, 100);
        // Behind again (frame 116 dropped); then a file played again from its start is not.
        p.process(&frame(117)).expect("frame");
        let before = seen.lock().expect("not poisoned").len();
        for i in 0..3 {
            p.process(&frame(i)).expect("frame");
        }
        assert_eq!(shown(before - 1), [16, 40, 40, 40]);
        assert_eq!(p.stages.behind_frames, 101);
    }

    #[test]
    fn someone_near_the_line_of_a_loading_bay_is_looked_at_in_the_bands_windows() {
        let (mut p, seen) = standing(0.2);
        for i in 0..10 {
            p.process(&frame(i)).expect("frame");
        }
        let shown = std::mem::take(&mut *seen.lock().expect("not poisoned"));
        // One look until the tracker reports the person on the line, then the band (three
        // windows' width) in every frame.
        let windows = shown.iter().position(|w| *w == 40).expect("in windows");
        assert!(windows <= 5, "{shown:?}");
        assert!(shown[..windows].iter().all(|w| *w == 16), "{shown:?}");
        assert!(shown[windows..].iter().all(|w| *w == 40), "{shown:?}");
        assert_eq!(
            p.stages.near_frames as usize,
            shown.len() - windows,
            "{shown:?}"
        );
        // A resting bay's crossings count for nothing: one look now and then, never windows.
        p.rest(Some(0.5));
        for i in 10..30 {
            p.process(&frame(i)).expect("frame");
        }
        let near = p.stages.near_frames;
        let shown = seen.lock().expect("not poisoned");
        assert!(
            (3..=4).contains(&shown.len()) && shown.iter().all(|w| *w == 16),
            "{shown:?}"
        );
        assert_eq!(p.stages.near_frames, near);
    }

    #[test]
    fn a_resting_bay_looks_at_a_frame_per_interval_and_every_frame_again_once_woken() {
        let mut p = Pipeline::new(
            Box::new(Empty),
            TrackerConfig::default(),
            CounterConfig::new("0,0.5,1,0.5".parse().expect("line")),
        );
        p.idle_stride = 1;
        let frame = |index: u64| Frame {
            index,
            time: index as f64 / 10.0,
            captured: chrono::Utc::now(),
            width: 16,
            height: 16,
            rgb: vec![0; 16 * 16 * 3],
            region: BBox::FULL,
            windows: None,
        };
        p.rest(Some(0.5));
        for i in 0..20 {
            p.process(&frame(i)).expect("frame");
        }
        assert_eq!(p.skipped, 16, "2 s at 10 fps, looked at every 0.5 s");
        p.rest(None);
        for i in 20..30 {
            p.process(&frame(i)).expect("frame");
        }
        assert_eq!(p.skipped, 16, "every frame once loading");
        // A source that starts again (its clock back at 0) is looked at straight away.
        p.rest(Some(0.5));
        p.process(&frame(0)).expect("frame");
        assert_eq!(p.skipped, 16);
        p.rest(Some(0.0));
        p.process(&frame(1)).expect("frame");
        assert_eq!(p.skipped, 16, "0 s of rest is no rest");
    }
}
