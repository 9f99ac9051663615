//! Object detection behind one trait: models in the formats users bring, decoded into
//! [`Detection`]s; a model-free blob detector for synthetic scenes; and detections found before,
//! played back.

pub mod anchors;
pub mod blob;
pub mod decode;
pub mod labels;
#[cfg(feature = "litert")]
pub mod litert;
pub mod model;
#[cfg(feature = "litert")]
pub mod model_pages;
pub mod modelfile;
pub mod packed;
pub mod replayed;
pub mod runtime;
pub mod tensor;
#[cfg(feature = "tflite")]
pub mod tflite;
pub mod tiles;

use std::time::Duration;

use crate::vision::camera::Frame;
use crate::vision::geometry::BBox;

/// One detected object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Label id in the model's labels file.
    pub class: u32,
    pub score: f32,
    /// Normalised to the frame, clamped to it.
    pub bbox: BBox,
}

/// Time spent per stage, accumulated over frames.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stages {
    /// Getting a decoded frame from the source.
    pub decode: Duration,
    /// Turning the frame into the model's input tensor.
    pub preprocess: Duration,
    /// The model itself.
    pub infer: Duration,
    /// Decoding outputs and NMS.
    pub postprocess: Duration,
    /// Tracking and counting.
    pub track: Duration,
    /// Times the model looked (each window of a frame in windows is a look).
    pub looks: u64,
    /// Looks in which the model returned as many boxes as it can, all of them confident: more
    /// objects were in view than it reports, and some were not found (see [`decode::is_full`]).
    pub full_looks: u64,
    /// Full looks whose boxes were not kept: their frame was looked at again in windows (see
    /// [`crate::vision::windows`]).
    pub relooked: u64,
    /// Frames looked at in windows because a look at them, or at one before them, came back
    /// full.
    pub crowd_frames: u64,
    /// Frames looked at in windows because someone small to the model was near the line.
    pub near_frames: u64,
    /// Frames looked at in one window because the camera had dropped frames lately (see
    /// [`crate::vision::pipeline::BEHIND_SECONDS`]).
    pub behind_frames: u64,
}

impl Stages {
    /// Full looks whose boxes were kept: objects were missed there.
    pub fn missed_looks(&self) -> u64 {
        self.full_looks.saturating_sub(self.relooked)
    }
}

/// What it means that the model came back full (see [`Stages::full_looks`]) in `how_often` of
/// its looks ("3 of 10 looks", "most looks"), and what to do.
pub fn full_warning(how_often: &str) -> String {
    format!(
        "the model returned as many boxes as it can in {how_often}: more objects were in view than it reports, and some were not found; a long line can be looked at in windows side by side all the time (--region lines:4, up to lines:8, or region = \"lines:4\" under [detector])"
    )
}

/// The same for a count of looks, `full` of `looks`; none when none was full.
pub fn full_looks_warning(full: u64, looks: u64) -> Option<String> {
    (full > 0).then(|| full_warning(&format!("{full} of {looks} looks")))
}

/// Why detection failed. Each says what to check.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    #[error("cannot load model {path}: {reason}")]
    Load { path: String, reason: String },
    #[error(transparent)]
    Format(#[from] decode::FormatError),
    #[error("labels file {path}: {reason}")]
    Labels { path: String, reason: String },
    #[error("unknown class {0:?} in --classes; the labels file has no such label")]
    UnknownClass(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

/// Finds objects in frames of its input size.
pub trait Detector: Send {
    /// The frame size this detector wants (the model's input).
    fn input_size(&self) -> (u32, u32);
    /// Detections in `frame`, adding the time taken to `stages`.
    fn detect(
        &mut self,
        frame: &Frame,
        stages: &mut Stages,
    ) -> Result<Vec<Detection>, DetectorError>;
    /// What it is, for logs.
    fn describe(&self) -> String;
    /// The most boxes one look returns, of every class, when the model returns a fixed number
    /// (see [`Stages::full_looks`]); none when it is not capped.
    fn most(&self) -> Option<usize> {
        None
    }
}

/// Which detector to run.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelChoice {
    /// The default model (SSD MobileNet v2 COCO), counting `person` unless told otherwise.
    Default,
    /// A `.tflite` file.
    File(std::path::PathBuf),
    /// The model-free blob detector (synthetic scenes).
    Blob,
}

impl std::str::FromStr for ModelChoice {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "blob" => ModelChoice::Blob,
            "default" => ModelChoice::Default,
            path => ModelChoice::File(path.into()),
        })
    }
}

impl ModelChoice {
    /// The model asked for (`--model`, `[detector] model`), else the default for `source`: the
    /// blob detector for the synthetic scene, the default model for anything real.
    pub fn for_source(asked: Option<&str>, source: &crate::vision::camera::SourceSpec) -> Self {
        match asked {
            Some(m) => m.parse().unwrap_or(ModelChoice::Default),
            None if *source == crate::vision::camera::SourceSpec::Synthetic => ModelChoice::Blob,
            None => ModelChoice::Default,
        }
    }
}

/// The detector's CPU threads: those asked for, else one per core up to four.
pub fn threads_or_default(asked: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    asked.unwrap_or(cores).max(1)
}

/// Everything needed to build a detector.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorOptions {
    pub model: ModelChoice,
    pub labels: Option<std::path::PathBuf>,
    /// Class names to count; empty means `person` for the default model, all for others.
    pub classes: Vec<String>,
    pub score_threshold: f32,
    pub iou_threshold: f32,
    pub threads: usize,
    pub runtime: runtime::RuntimeKind,
    /// The part of the picture the detector looks at (by default around the counting lines).
    pub region: crate::vision::camera::Region,
}

impl Default for DetectorOptions {
    /// The default model counting people, with the command line's defaults and one thread.
    fn default() -> Self {
        Self {
            model: ModelChoice::Default,
            labels: None,
            classes: vec![],
            score_threshold: 0.2,
            iou_threshold: 0.5,
            threads: 1,
            runtime: runtime::RuntimeKind::default(),
            region: crate::vision::camera::Region::lines(),
        }
    }
}

/// Builds the chosen detector.
pub fn build(o: &DetectorOptions) -> Result<Box<dyn Detector>, DetectorError> {
    let Some(options) = model_options(o)? else {
        return Ok(Box::new(blob::BlobDetector::new(320, 240)));
    };
    Ok(Box::new(tiles::Tiled::new(Box::new(
        model::ModelDetector::open(&options)?,
    ))))
}

/// The model the options choose, with its labels and classes (the default model's when none is
/// given), or `None` for the model-free blob detector.
pub fn model_options(o: &DetectorOptions) -> Result<Option<model::ModelOptions>, DetectorError> {
    let (path, labels, classes) = match &o.model {
        ModelChoice::Blob => return Ok(None),
        ModelChoice::File(path) => (path.clone(), o.labels.clone(), o.classes.clone()),
        ModelChoice::Default => {
            let (model, labels) = model::default_model(o.runtime)?;
            let classes = if o.classes.is_empty() {
                vec!["person".to_owned()]
            } else {
                o.classes.clone()
            };
            (model, Some(o.labels.clone().unwrap_or(labels)), classes)
        }
    };
    Ok(Some(model::ModelOptions {
        path,
        labels,
        classes,
        score_threshold: o.score_threshold,
        iou_threshold: o.iou_threshold,
        threads: o.threads,
        runtime: o.runtime,
    }))
}
