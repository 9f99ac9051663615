//! Detections found before, played back by frame index as a detector: for counting cached
//! detections or a scene's true boxes again without running a model.

use std::collections::HashMap;

use super::{Detection, Detector, DetectorError, Stages};
use crate::vision::camera::Frame;

/// Plays back what was found in each frame (in the picture's coordinates): in its one look, and
/// in its band in windows (a frame wider than the detector's input), if those were found apart.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    one: HashMap<u64, Vec<Detection>>,
    windows: Option<HashMap<u64, Vec<Detection>>>,
    most: Option<usize>,
}

impl Replayed {
    /// What was found in each frame, by its index: the same whichever way it is looked at.
    pub fn new(found: impl IntoIterator<Item = (u64, Vec<Detection>)>) -> Self {
        Self {
            one: found.into_iter().collect(),
            ..Self::default()
        }
    }

    /// What was found in each frame's band in windows, apart from its one look.
    pub fn with_windows(mut self, found: impl IntoIterator<Item = (u64, Vec<Detection>)>) -> Self {
        self.windows = Some(found.into_iter().collect());
        self
    }

    /// The most boxes the model behind it returned a look (see [`Detector::most`]): a one look
    /// with that many came back full.
    pub fn with_most(mut self, most: usize) -> Self {
        self.most = Some(most);
        self
    }
}

impl Detector for Replayed {
    fn input_size(&self) -> (u32, u32) {
        (300, 300)
    }

    /// In the frame's coordinates, as a detector gives them.
    fn detect(
        &mut self,
        frame: &Frame,
        stages: &mut Stages,
    ) -> Result<Vec<Detection>, DetectorError> {
        let one = frame.width <= self.input_size().0;
        let found = match &self.windows {
            Some(windows) if !one => windows,
            _ => &self.one,
        };
        let mut found = found.get(&frame.index).cloned().unwrap_or_default();
        stages.looks += 1;
        stages.full_looks += u64::from(one && self.most.is_some_and(|m| found.len() >= m));
        for d in &mut found {
            d.bbox = d.bbox.in_region(&frame.region);
        }
        Ok(found)
    }

    fn describe(&self) -> String {
        "detections played back".into()
    }

    fn most(&self) -> Option<usize> {
        self.most
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::geometry::BBox;

    fn frame(index: u64, width: u32, region: BBox) -> Frame {
        Frame::without_pixels(index, index as f64 / 10.0, (width, 300), region)
    }

    fn person(x1: f32) -> Detection {
        Detection {
            class: 0,
            score: 0.9,
            bbox: BBox::new(x1, 0.5, x1 + 0.1, 0.7),
        }
    }

    #[test]
    fn plays_back_each_frames_boxes_in_the_frames_coordinates() {
        let mut d = Replayed::new([(0, vec![person(0.5)])])
            .with_windows([(0, vec![person(0.5), person(0.7)])])
            .with_most(1);
        let mut stages = Stages::default();
        let one = d
            .detect(&frame(0, 300, BBox::FULL), &mut stages)
            .expect("one");
        assert_eq!(one, vec![person(0.5)]);
        assert_eq!(stages.full_looks, 1, "as many as the model's most: full");
        // The band (the picture's right half) in two windows: its own boxes, in its coordinates.
        let band = d
            .detect(&frame(0, 600, BBox::new(0.5, 0.0, 1.0, 1.0)), &mut stages)
            .expect("band");
        assert_eq!(band.len(), 2);
        assert!((band[1].bbox.x1 - 0.4).abs() < 1e-6, "{band:?}");
        assert_eq!(stages.looks, 2);
        assert!(
            d.detect(&frame(1, 300, BBox::FULL), &mut stages)
                .expect("none")
                .is_empty()
        );
        // Found once for every look: the same in the band.
        let mut d = Replayed::new([(0, vec![person(0.5)])]);
        assert_eq!(
            d.detect(&frame(0, 600, BBox::FULL), &mut stages)
                .expect("band")
                .len(),
            1
        );
    }
}
