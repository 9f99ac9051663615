//! SSD anchors generated the way TensorFlow's Object Detection API (and MediaPipe's
//! SsdAnchorsCalculator) make them, for raw SSD models that do not carry their anchors.

/// The anchor generator's settings; [`SsdAnchorConfig::default`] is TF's SSD MobileNet config.
#[derive(Debug, Clone, PartialEq)]
pub struct SsdAnchorConfig {
    pub min_scale: f32,
    pub max_scale: f32,
    /// Input size divided by each layer's feature-map size.
    pub strides: Vec<u32>,
    pub aspect_ratios: Vec<f32>,
    pub reduce_boxes_in_lowest_layer: bool,
    pub interpolated_scale_aspect_ratio: f32,
    pub offset: f32,
}

impl Default for SsdAnchorConfig {
    fn default() -> Self {
        Self {
            min_scale: 0.2,
            max_scale: 0.95,
            strides: vec![16, 32, 64, 128, 256, 512],
            aspect_ratios: vec![1.0, 2.0, 0.5, 3.0, 1.0 / 3.0],
            reduce_boxes_in_lowest_layer: true,
            interpolated_scale_aspect_ratio: 1.0,
            offset: 0.5,
        }
    }
}

fn scale(c: &SsdAnchorConfig, layer: usize) -> f32 {
    let n = c.strides.len();
    if n == 1 {
        (c.min_scale + c.max_scale) / 2.0
    } else {
        c.min_scale + (c.max_scale - c.min_scale) * layer as f32 / (n - 1) as f32
    }
}

/// Anchors (centre y, centre x, height, width) for an input of `width` x `height`, layer by
/// layer, row by row, column by column, aspect ratio by aspect ratio.
pub fn ssd_anchors(c: &SsdAnchorConfig, width: u32, height: u32) -> Vec<[f32; 4]> {
    let mut out = Vec::new();
    for (layer, &stride) in c.strides.iter().enumerate() {
        let mut shapes: Vec<(f32, f32)> = Vec::new(); // (aspect ratio, scale)
        let s = scale(c, layer);
        if layer == 0 && c.reduce_boxes_in_lowest_layer {
            shapes.extend([(1.0, 0.1), (2.0, s), (0.5, s)]);
        } else {
            shapes.extend(c.aspect_ratios.iter().map(|&ar| (ar, s)));
            if c.interpolated_scale_aspect_ratio > 0.0 {
                let next = if layer + 1 == c.strides.len() {
                    1.0
                } else {
                    scale(c, layer + 1)
                };
                shapes.push((c.interpolated_scale_aspect_ratio, (s * next).sqrt()));
            }
        }
        let (fw, fh) = (width.div_ceil(stride), height.div_ceil(stride));
        for y in 0..fh {
            for x in 0..fw {
                for &(ar, s) in &shapes {
                    let r = ar.sqrt();
                    out.push([
                        (y as f32 + c.offset) / fh as f32,
                        (x as f32 + c.offset) / fw as f32,
                        s / r,
                        s * r,
                    ]);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_gives_tfs_1917_anchors_for_300_pixels() {
        let a = ssd_anchors(&SsdAnchorConfig::default(), 300, 300);
        assert_eq!(a.len(), 1917);
        // First cell of the 19x19 layer: the small square anchor.
        let [y, x, h, w] = a[0];
        assert!(
            (y - 0.5 / 19.0).abs() < 1e-6
                && (x - y).abs() < 1e-6
                && (h - 0.1).abs() < 1e-6
                && (w - 0.1).abs() < 1e-6
        );
        // The last layer is 1x1 and centred.
        assert_eq!(a[1916][0], 0.5);
    }
}
