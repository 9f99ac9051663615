//! Object detection: the [`Detection`] every model format is decoded into.

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
