//! The one way to set up a pipeline (for `count`, `bench` and the bay): the detector first,
//! whose input size is the frames' size, then the source opened on a capture thread.

use std::time::Duration;

use crate::vision::camera::{self, CameraError, OpenOptions, SourceSpec};
use crate::vision::capture::{Capture, Policy};
use crate::vision::counting_line::CounterConfig;
use crate::vision::detector::{self, DetectorError, DetectorOptions};
use crate::vision::pipeline::Pipeline;
use crate::vision::tracker::TrackerConfig;

/// What a pipeline counts, and from where.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineSpec {
    pub source: SourceSpec,
    /// The model, its labels, the classes counted, the least score, the threads.
    pub detector: DetectorOptions,
    /// The line, the anchor tested against it and the dead band.
    pub counter: CounterConfig,
    /// Play files at their own frame rate and always take the newest frame, like a camera;
    /// otherwise every frame, as fast as the pipeline goes.
    pub realtime: bool,
}

/// A pipeline whose detector is built and whose frames have not started.
#[derive(Debug)]
pub struct BuiltPipeline {
    source: SourceSpec,
    frames: OpenOptions,
    pipeline: Pipeline,
}

impl PipelineSpec {
    /// Builds the detector (loading the model) and the pipeline around it.
    pub fn build(&self) -> Result<BuiltPipeline, DetectorError> {
        let detector = detector::build(&self.detector)?;
        Ok(BuiltPipeline {
            source: self.source.clone(),
            frames: self.frames(detector.input_size()),
            pipeline: Pipeline::new(detector, TrackerConfig::default(), self.counter.clone()),
        })
    }

    /// How the source is opened for a detector whose input is `(width, height)`.
    pub fn frames(&self, (width, height): (u32, u32)) -> OpenOptions {
        OpenOptions {
            width,
            height,
            realtime: self.realtime,
            region: self.detector.region.clone(),
        }
    }
}

impl BuiltPipeline {
    /// How the source is opened: at the detector's input size (the region's lines are added
    /// at the start).
    pub fn frames(&self) -> &OpenOptions {
        &self.frames
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Counts another line on the same tracks (see [`Pipeline::add_counter`]).
    pub fn add_counter(&mut self, config: CounterConfig) -> usize {
        self.pipeline.add_counter(config)
    }

    /// Opens the source on its capture thread. With `reopen`, a source that fails or ends is
    /// opened again after that pause; without, its failure or end is the frames' end.
    pub fn start(self, reopen: Option<Duration>) -> Result<(Capture, Pipeline), CameraError> {
        let policy = if self.frames.realtime {
            Policy::Newest
        } else {
            Policy::EveryFrame
        };
        let (source, mut frames) = (self.source, self.frames);
        // Around every line counted, added since the pipeline was built.
        frames.region = frames.region.with_lines(self.pipeline.lines());
        let capture = Capture::start(
            Box::new(move || camera::open(&source, &frames)),
            policy,
            reopen,
        )?;
        Ok((capture, self.pipeline))
    }
}
