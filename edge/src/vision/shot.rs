//! The picture of a counted crossing as the counting thread saw it when the count was decided:
//! the frame is handed over as it is, and drawn, cropped and encoded later, off the count's way.

use crate::vision::camera::Frame;
use crate::vision::counting_line::Line;
use crate::vision::geometry::{BBox, Point};
use crate::vision::live_view::MAX_SIDE;
use crate::vision::picture::{self, Jpeg, Marks, PictureError};
use crate::vision::tracker::TrackedObject;

/// Around the object, this share of its size on each side.
const MARGIN: f32 = 0.6;
/// A crossing's picture is at most this big.
pub const MAX_BYTES: usize = 32 * 1024;

/// A counted object, the frame it was counted on and the way it came.
#[derive(Debug, Clone, PartialEq)]
pub struct Shot {
    pub frame: Frame,
    /// The camera's own picture size, for the frame's true aspect.
    pub native: (u32, u32),
    pub track: u64,
    /// The object's last box (whole-picture coordinates).
    pub bbox: BBox,
    /// Its anchor's recent path.
    pub path: Vec<Point>,
    pub lines: Vec<Line>,
}

impl Shot {
    /// The object cut out of the frame with the line, its box and its path drawn, as a JPEG of
    /// at most [`MAX_BYTES`]. Takes milliseconds: call it off the counting thread and the loop.
    pub fn jpeg(&self) -> Result<Jpeg, PictureError> {
        let object = [TrackedObject {
            id: self.track,
            class: 0,
            score: 1.0,
            bbox: self.bbox,
        }];
        let marks = Marks {
            tracks: &object,
            lines: &self.lines,
            caption: None,
            path: &self.path,
        };
        let drawn = picture::render(&self.frame, self.native, &marks, MAX_SIDE)?;
        let cut = picture::crop(&drawn, &self.frame.region, &self.bbox, MARGIN)?;
        picture::jpeg_within(&cut, MAX_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::camera::v4l::decode_mjpeg;

    #[test]
    fn the_picture_is_the_object_with_room_around_it_and_small() {
        let frame = Frame {
            index: 7,
            time: 0.7,
            captured: chrono::Utc::now(),
            width: 300,
            height: 300,
            rgb: (0..300 * 300 * 3).map(|i| (i % 251) as u8).collect(),
            region: BBox::FULL,
            windows: None,
        };
        let shot = Shot {
            frame,
            native: (768, 576),
            track: 4,
            bbox: BBox::new(0.4, 0.3, 0.5, 0.7),
            path: vec![Point::new(0.3, 0.7), Point::new(0.45, 0.7)],
            lines: vec!["0.5,0.1,0.5,0.9".parse().expect("line")],
        };
        let jpeg = shot.jpeg().expect("a picture");
        assert!(jpeg.bytes.len() <= MAX_BYTES);
        let (_, w, h) = decode_mjpeg(&jpeg.bytes).expect("decodes");
        // 640x480 drawn; the box is 64x192 px, with 60 % of it on each side: 141x422, cut at
        // the picture's bottom edge.
        assert_eq!((w, h), (jpeg.width, jpeg.height));
        assert!(
            (139..=143).contains(&w) && (360..=425).contains(&h),
            "{w}x{h}"
        );
        let broken = Shot {
            frame: Frame {
                rgb: vec![1, 2, 3],
                ..shot.frame.clone()
            },
            ..shot
        };
        assert!(broken.jpeg().is_err());
    }
}
