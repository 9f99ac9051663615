//! A synthetic scene: light boxes moving down across a dark frame, for demos and tests without a
//! camera. Every box crosses a horizontal line in the middle exactly once.

use std::time::{Duration, Instant};

use super::{CameraError, Frame, FrameSource, OpenOptions};
use crate::vision::geometry::BBox;

/// What the synthetic scene shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub fps: f64,
    /// A new box enters every this many seconds.
    pub every_seconds: f64,
    /// Seconds a box takes from the top edge to the bottom edge.
    pub travel_seconds: f64,
    /// Stop after this many frames (`None`: never).
    pub frames: Option<u64>,
}

impl Default for Scene {
    fn default() -> Self {
        Self {
            fps: 10.0,
            every_seconds: 2.0,
            travel_seconds: 4.0,
            frames: None,
        }
    }
}

impl Scene {
    /// Boxes visible at time `t`, as (x1, y1, x2, y2) normalised.
    pub fn boxes(&self, t: f64) -> Vec<[f32; 4]> {
        let mut out = Vec::new();
        let first = ((t - self.travel_seconds) / self.every_seconds)
            .floor()
            .max(0.0) as u64;
        let last = (t / self.every_seconds).floor() as u64;
        for k in first..=last {
            let born = k as f64 * self.every_seconds;
            let progress = ((t - born) / self.travel_seconds) as f32;
            if !(0.0..=1.0).contains(&progress) {
                continue;
            }
            // Lanes alternate so that neighbours never overlap.
            let x = 0.2 + 0.3 * (k % 3) as f32;
            let (w, h) = (0.12, 0.16);
            let cy = -h / 2.0 + progress * (1.0 + h);
            out.push([x - w / 2.0, cy - h / 2.0, x + w / 2.0, cy + h / 2.0]);
        }
        out
    }

    /// How many boxes have crossed the middle (y = 0.5, box bottom) by time `t`.
    pub fn crossed_by(&self, t: f64) -> u64 {
        let h = 0.16;
        // The bottom reaches 0.5 when progress * (1 + h) = 0.5.
        let at = self.travel_seconds * (0.5 / (1.0 + h));
        if t < at {
            0
        } else {
            ((t - at) / self.every_seconds).floor() as u64 + 1
        }
    }
}

/// Frames of a [`Scene`].
#[derive(Debug)]
pub struct SyntheticSource {
    scene: Scene,
    options: OpenOptions,
    index: u64,
    started: Instant,
}

impl SyntheticSource {
    pub fn new(options: &OpenOptions, scene: Scene) -> Self {
        Self {
            scene,
            options: options.clone(),
            index: 0,
            started: Instant::now(),
        }
    }
}

impl FrameSource for SyntheticSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError> {
        if self.scene.frames.is_some_and(|n| self.index >= n) {
            return Ok(None);
        }
        let time = self.index as f64 / self.scene.fps;
        if self.options.realtime {
            let due = self.started + Duration::from_secs_f64(time);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let (w, h) = (self.options.width as usize, self.options.height as usize);
        let mut rgb = vec![40u8; w * h * 3];
        let region = self.options.region.resolve(
            (self.options.width, self.options.height),
            (self.options.width, self.options.height),
        );
        for [x1, y1, x2, y2] in self.scene.boxes(time) {
            let BBox { x1, y1, x2, y2 } = BBox::new(x1, y1, x2, y2).in_region(&region);
            let px = |v: f32, n: usize| ((v.clamp(0.0, 1.0) * n as f32) as usize).min(n);
            for y in px(y1, h)..px(y2, h) {
                let row = &mut rgb[(y * w + px(x1, w)) * 3..(y * w + px(x2, w)) * 3];
                row.fill(220);
            }
        }
        let frame = Frame {
            index: self.index,
            captured: chrono::Utc::now(),
            time,
            width: w as u32,
            height: h as u32,
            rgb,
            region,
            // Its boxes never fill a model: no crowd to look at in windows.
            windows: None,
        };
        self.index += 1;
        Ok(Some(frame))
    }

    fn fps(&self) -> Option<f64> {
        Some(self.scene.fps)
    }

    fn native_size(&self) -> (u32, u32) {
        (self.options.width, self.options.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_the_scene_boxes() {
        let options = OpenOptions {
            width: 100,
            height: 100,
            realtime: false,
            region: Default::default(),
        };
        let scene = Scene {
            frames: Some(50),
            ..Scene::default()
        };
        let mut src = SyntheticSource::new(&options, scene.clone());
        let mut n = 0;
        while let Some(f) = src.next_frame().expect("frame") {
            for [x1, y1, x2, y2] in scene.boxes(f.time) {
                let (cx, cy) = (
                    ((x1 + x2) / 2.0 * 100.0) as usize,
                    ((y1 + y2) / 2.0 * 100.0) as usize,
                );
                if y1 >= 0.0 && y2 <= 1.0 {
                    assert_eq!(
                        f.rgb[(cy * 100 + cx) * 3],
                        220,
                        "box centre is lit at t={}",
                        f.time
                    );
                }
            }
            n += 1;
        }
        assert_eq!(n, 50);
        assert_eq!(scene.crossed_by(0.0), 0);
        assert_eq!(scene.crossed_by(4.9), 2);
    }
}
