//! Looks at a frame wider than the model's input as overlapping windows of the input's size,
//! side by side, and merges what they find: people near a long counting line are then as big to
//! the model as near a short one, at one invoke per window.

use crate::vision::camera::Frame;
use crate::vision::detector::{Detection, Detector, DetectorError, Stages};
use crate::vision::geometry::BBox;

/// How much of a window its neighbour sees too.
pub const OVERLAP: f32 = 0.25;

/// How wide a frame of `n` windows of width `w` is.
pub fn frame_width(w: u32, n: u32) -> u32 {
    let n = n.max(1) as f32;
    (w as f32 * (n - (n - 1.0) * OVERLAP)).round() as u32
}

/// How many overlapping windows fill a band `across` windows' widths wide (at least one).
pub fn filling(across: f32) -> u32 {
    (((across - OVERLAP) / (1.0 - OVERLAP)).round() as u32).max(1)
}

/// How many windows of width `w` a frame `width` wide holds (see [`frame_width`]).
pub fn windows(width: u32, w: u32) -> u32 {
    if width <= w || w == 0 {
        return 1;
    }
    filling(width as f32 / w as f32).max(2)
}

/// A detector over windows of its input's size.
pub struct Tiled {
    inner: Box<dyn Detector>,
}

impl std::fmt::Debug for Tiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tiled")
            .field("inner", &self.inner.describe())
            .finish()
    }
}

impl Tiled {
    pub fn new(inner: Box<dyn Detector>) -> Self {
        Self { inner }
    }
}

/// A detection from window `window`, whose box reaches the window's side towards a neighbour:
/// part of the object may be in the neighbour's view only.
struct Seen {
    d: Detection,
    window: u32,
    cut: bool,
}

impl Detector for Tiled {
    fn input_size(&self) -> (u32, u32) {
        self.inner.input_size()
    }

    fn most(&self) -> Option<usize> {
        self.inner.most()
    }

    fn detect(
        &mut self,
        frame: &Frame,
        stages: &mut Stages,
    ) -> Result<Vec<Detection>, DetectorError> {
        let (w, _) = self.inner.input_size();
        let n = windows(frame.width, w);
        if n == 1 {
            return self.inner.detect(frame, stages);
        }
        let (fw, h) = (frame.width as usize, frame.height as usize);
        let step = (fw - w as usize) as f32 / (n - 1) as f32;
        let mut seen = vec![];
        for k in 0..n {
            let x = (k as f32 * step).round() as usize;
            let mut rgb = Vec::with_capacity(w as usize * h * 3);
            for row in frame.rgb.chunks_exact(fw * 3) {
                rgb.extend_from_slice(&row[x * 3..(x + w as usize) * 3]);
            }
            let window = Frame {
                index: frame.index,
                time: frame.time,
                captured: frame.captured,
                width: w,
                height: frame.height,
                rgb,
                region: BBox::FULL,
                windows: None,
            };
            let part = BBox::new(
                x as f32 / fw as f32,
                0.0,
                (x + w as usize) as f32 / fw as f32,
                1.0,
            );
            for d in self.inner.detect(&window, stages)? {
                // Within a hundredth of a side that has a neighbour.
                let cut = (k > 0 && d.bbox.x1 < 0.01) || (k + 1 < n && d.bbox.x2 > 0.99);
                let bbox = d.bbox.out_of(&part);
                seen.push(Seen {
                    d: Detection { bbox, ..d },
                    window: k,
                    cut,
                });
            }
        }
        Ok(merge(seen))
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// One object seen from two windows is one: of two boxes of the same class from different
/// windows, mostly covering each other (the smaller at least 60 % inside the larger), a box
/// cut by its window's side gives way to a whole one; two cut boxes become the box around both.
fn merge(mut seen: Vec<Seen>) -> Vec<Detection> {
    seen.sort_by(|a, b| b.d.score.total_cmp(&a.d.score));
    let mut kept: Vec<Seen> = vec![];
    for s in seen {
        let same = kept.iter_mut().find(|k| {
            let (a, b) = (&k.d.bbox, &s.d.bbox);
            k.window != s.window
                && k.d.class == s.d.class
                && a.overlap(b) >= 0.6 * a.area().min(b.area())
        });
        match same {
            None => kept.push(s),
            Some(k) => match (k.cut, s.cut) {
                (true, true) => {
                    let (a, b) = (k.d.bbox, s.d.bbox);
                    k.d.bbox = BBox::new(
                        a.x1.min(b.x1),
                        a.y1.min(b.y1),
                        a.x2.max(b.x2),
                        a.y2.max(b.y2),
                    );
                }
                (true, false) => *k = s,
                _ => {}
            },
        }
    }
    kept.into_iter().map(|k| k.d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_of_n_windows_holds_n() {
        assert_eq!(frame_width(300, 1), 300);
        assert_eq!(frame_width(300, 2), 525);
        assert_eq!(frame_width(300, 4), 975);
        for n in 1..=8 {
            assert_eq!(windows(frame_width(300, n), 300), n);
        }
        assert_eq!(windows(300, 300), 1);
        assert_eq!(windows(200, 300), 1);
        assert_eq!(
            windows(320, 300),
            2,
            "any frame wider than a window needs two"
        );
    }

    /// Finds the white columns' boxes in each window it is shown, as the model would, and
    /// remembers the windows it was shown.
    struct Columns {
        shown: std::sync::Arc<std::sync::Mutex<Vec<(u32, u32)>>>,
    }

    impl Detector for Columns {
        fn input_size(&self) -> (u32, u32) {
            (10, 10)
        }

        fn detect(
            &mut self,
            frame: &Frame,
            _: &mut Stages,
        ) -> Result<Vec<Detection>, DetectorError> {
            self.shown
                .lock()
                .expect("not poisoned")
                .push((frame.width, frame.height));
            let (w, h) = (frame.width as usize, frame.height as usize);
            let white = |x: usize| (0..h).any(|y| frame.rgb[(y * w + x) * 3] == 255);
            let mut found = vec![];
            let mut x = 0;
            while x < w {
                if white(x) {
                    let start = x;
                    while x < w && white(x) {
                        x += 1;
                    }
                    found.push(Detection {
                        class: 0,
                        score: 0.9 - 0.1 * found.len() as f32,
                        bbox: BBox::new(start as f32 / w as f32, 0.2, x as f32 / w as f32, 0.8),
                    });
                }
                x += 1;
            }
            Ok(found)
        }

        fn describe(&self) -> String {
            "columns".into()
        }
    }

    fn frame(width: u32, columns: &[(usize, usize)]) -> Frame {
        let (w, h) = (width as usize, 10usize);
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..h {
            for &(a, b) in columns {
                for x in a..b {
                    rgb[(y * w + x) * 3] = 255;
                }
            }
        }
        Frame {
            index: 0,
            time: 0.0,
            captured: chrono::Utc::now(),
            width,
            height: 10,
            rgb,
            region: BBox::FULL,
            windows: None,
        }
    }

    #[test]
    fn a_wide_frame_is_looked_at_as_windows_and_one_object_in_two_of_them_is_found_once() {
        let shown = std::sync::Arc::default();
        let mut tiled = Tiled::new(Box::new(Columns {
            shown: std::sync::Arc::clone(&shown),
        }));
        let mut stages = Stages::default();
        // 17 px: two 10-px windows, at 0 and at 7. A column in the first only, one inside the
        // overlap (whole in both), one in the second only.
        let boxes = |got: Vec<Detection>| {
            let mut xs: Vec<(f32, f32)> = got
                .iter()
                .map(|d| ((d.bbox.x1 * 17.0).round(), (d.bbox.x2 * 17.0).round()))
                .collect();
            xs.sort_by(|a, b| a.0.total_cmp(&b.0));
            xs
        };
        let got = tiled
            .detect(&frame(17, &[(1, 3), (8, 9), (15, 16)]), &mut stages)
            .expect("detect");
        assert_eq!(boxes(got), vec![(1.0, 3.0), (8.0, 9.0), (15.0, 16.0)]);
        // One cut by the first window's side and whole in the second: the whole one.
        let got = tiled
            .detect(&frame(17, &[(8, 12)]), &mut stages)
            .expect("detect");
        assert_eq!(boxes(got), vec![(8.0, 12.0)]);
        // A frame the size of the input is one look.
        let got = tiled
            .detect(&frame(10, &[(2, 4)]), &mut stages)
            .expect("detect");
        assert_eq!(got.len(), 1);
        assert_eq!(*shown.lock().expect("not poisoned"), vec![(10, 10); 5]);
    }

    #[test]
    fn one_object_cut_by_both_windows_is_the_box_around_both_parts() {
        let cut = |x1: f32, x2: f32, window: u32| Seen {
            d: Detection {
                class: 0,
                score: 0.5,
                bbox: BBox::new(x1, 0.2, x2, 0.8),
            },
            window,
            cut: true,
        };
        let whole = |x1: f32, x2: f32, window: u32, class: u32| Seen {
            d: Detection {
                class,
                score: 0.4,
                bbox: BBox::new(x1, 0.2, x2, 0.8),
            },
            window,
            cut: false,
        };
        // Someone wider than the overlap: each window sees a part of them.
        let got = merge(vec![cut(0.40, 0.58, 0), cut(0.42, 0.62, 1)]);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].bbox.x1, got[0].bbox.x2), (0.40, 0.62));
        // A whole box wins over a cut one of higher score.
        let got = merge(vec![cut(0.40, 0.58, 0), whole(0.40, 0.60, 1, 0)]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].bbox.x2, 0.60);
        // Two people side by side in one window, or two classes, stay two.
        assert_eq!(
            merge(vec![whole(0.40, 0.5, 0, 0), whole(0.41, 0.51, 0, 0)]).len(),
            2
        );
        assert_eq!(
            merge(vec![whole(0.40, 0.5, 0, 0), whole(0.40, 0.5, 1, 1)]).len(),
            2
        );
    }
}
