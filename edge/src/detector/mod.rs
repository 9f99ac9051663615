//! Object detection: models in the formats users bring, decoded into [`Detection`]s.

pub mod decode;
pub mod tensor;

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
