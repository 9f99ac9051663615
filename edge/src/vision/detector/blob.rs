//! A model-free detector of light blobs on a dark background: what the synthetic scene draws.
//! It lets the whole pipeline run (and be tested) without a camera or a model.

use super::{Detection, Detector, DetectorError, Stages};
use crate::vision::camera::Frame;
use crate::vision::geometry::BBox;

/// Finds connected regions of bright pixels, on a coarse grid.
#[derive(Debug, Clone)]
pub struct BlobDetector {
    size: (u32, u32),
    /// Grid cell size in pixels.
    cell: usize,
    /// Brightness (0-255, green channel) above which a pixel is part of a blob.
    threshold: u8,
    /// Smallest blob kept, in cells.
    min_cells: usize,
}

impl BlobDetector {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            size: (width, height),
            cell: 4,
            threshold: 128,
            min_cells: 4,
        }
    }
}

impl Detector for BlobDetector {
    fn input_size(&self) -> (u32, u32) {
        self.size
    }

    fn detect(
        &mut self,
        frame: &Frame,
        stages: &mut Stages,
    ) -> Result<Vec<Detection>, DetectorError> {
        let t = std::time::Instant::now();
        let (w, h, c) = (frame.width as usize, frame.height as usize, self.cell);
        let (gw, gh) = (w.div_ceil(c), h.div_ceil(c));
        let mut lit = vec![false; gw * gh];
        for gy in 0..gh {
            let y = (gy * c + c / 2).min(h - 1);
            for gx in 0..gw {
                let x = (gx * c + c / 2).min(w - 1);
                lit[gy * gw + gx] = frame.rgb[(y * w + x) * 3 + 1] > self.threshold;
            }
        }
        let mut seen = vec![false; gw * gh];
        let mut out = Vec::new();
        let mut stack = Vec::new();
        for start in 0..lit.len() {
            if !lit[start] || seen[start] {
                continue;
            }
            let (mut x1, mut y1, mut x2, mut y2, mut n) = (gw, gh, 0, 0, 0);
            seen[start] = true;
            stack.push(start);
            while let Some(i) = stack.pop() {
                let (x, y) = (i % gw, i / gw);
                (x1, y1, x2, y2, n) = (x1.min(x), y1.min(y), x2.max(x), y2.max(y), n + 1);
                let neighbours = [
                    (x > 0).then(|| i - 1),
                    (x + 1 < gw).then(|| i + 1),
                    (y > 0).then(|| i - gw),
                    (y + 1 < gh).then(|| i + gw),
                ];
                for j in neighbours.into_iter().flatten() {
                    if lit[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            if n >= self.min_cells {
                let bbox = BBox::new(
                    x1 as f32 / gw as f32,
                    y1 as f32 / gh as f32,
                    (x2 + 1) as f32 / gw as f32,
                    (y2 + 1) as f32 / gh as f32,
                );
                out.push(Detection {
                    class: 0,
                    score: 1.0,
                    bbox,
                });
            }
        }
        stages.infer += t.elapsed();
        Ok(out)
    }

    fn describe(&self) -> String {
        "blob detector (synthetic scenes)".into()
    }
}
