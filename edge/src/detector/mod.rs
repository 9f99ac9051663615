//! Object detection behind one trait: models in the formats users bring, decoded into
//! [`Detection`]s; and a model-free blob detector for synthetic scenes.

pub mod blob;
pub mod decode;
pub mod labels;
pub mod litert;
pub mod model;
pub mod modelfile;
pub mod tensor;

use std::time::Duration;

use crate::camera::Frame;
use crate::geometry::BBox;

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
}
