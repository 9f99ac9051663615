//! Model output formats, identified from the output tensors (names, then shapes, never by index
//! alone), and decoded into detections with non-maximum suppression where the model has none.

use super::Detection;
use super::tensor::{Output, TensorInfo};
use crate::vision::geometry::BBox;

/// SSD anchors, one per box encoding: centre y, centre x, height, width (normalised).
#[derive(Debug, Clone, PartialEq)]
pub struct Anchors {
    pub boxes: Vec<[f32; 4]>,
    /// Box-coder scales y, x, h, w (10, 10, 5, 5 for TF's SSDs).
    pub scales: [f32; 4],
}

/// How a model's outputs are laid out.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// `TFLite_Detection_PostProcess` outputs (SSD, EfficientDet-Lite): boxes `[N,4]`
    /// (ymin, xmin, ymax, xmax, normalised), classes `[N]`, scores `[N]`, count `[1]`.
    Postprocessed {
        boxes: usize,
        classes: usize,
        scores: usize,
        count: usize,
    },
    /// A raw SSD: box encodings `[A,4]`, class scores `[A,C]` (column 0 is background when
    /// `background`), decoded with the model's anchors.
    RawSsd {
        encodings: usize,
        scores: usize,
        background: bool,
        anchors: Anchors,
    },
    /// Ultralytics YOLOv8/YOLO11 raw output: `[4+nc, N]` (channels first) or `[N, 4+nc]`;
    /// boxes are centre x, centre y, width, height, normalised or in input pixels.
    Yolo {
        output: usize,
        channels_first: bool,
        classes: usize,
    },
    /// End-to-end `[K,6]`: x1, y1, x2, y2, score, class (NMS done in the model).
    EndToEnd { output: usize },
}

/// Why the outputs are not a format we decode.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatError {
    #[error(
        "unrecognised model outputs {0}; supported: SSD with TFLite_Detection_PostProcess, raw SSD with anchors, Ultralytics YOLOv8/YOLO11 raw [1,4+nc,N] or [1,N,4+nc], end-to-end [1,K,6], EfficientDet-Lite"
    )]
    Unknown(String),
    #[error(
        "the model's outputs look like a raw SSD, but its anchors could not be found in the model"
    )]
    NoAnchors,
}

fn describe(outputs: &[TensorInfo]) -> String {
    outputs
        .iter()
        .map(|o| format!("{}{:?}", o.name, o.shape))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Identifies the format from the outputs' names and shapes. `anchors` are those found in the
/// model, if any (needed for raw SSDs).
pub fn identify(outputs: &[TensorInfo], anchors: Option<Anchors>) -> Result<Format, FormatError> {
    let unknown = || FormatError::Unknown(describe(outputs));
    let dims: Vec<&[usize]> = outputs.iter().map(TensorInfo::dims).collect();
    match outputs.len() {
        4 => {
            let boxes = dims
                .iter()
                .position(|d| d.len() == 2 && d[1] == 4)
                .ok_or_else(unknown)?;
            let n = dims[boxes][0];
            let count = dims.iter().position(|d| d == &[1]).ok_or_else(unknown)?;
            let vectors: Vec<usize> = (0..4)
                .filter(|&i| i != boxes && i != count && dims[i] == [n])
                .collect();
            let [a, b] = vectors[..] else {
                return Err(unknown());
            };
            let named = |i: usize, words: &[&str]| {
                let name = outputs[i].name.to_ascii_lowercase();
                words.iter().any(|w| name.contains(w))
            };
            // "category" and "score" are the TFLite metadata's names for them.
            let (class, score) = (&["class", "category"][..], &["score"][..]);
            let (classes, scores) = if named(a, class) || named(b, score) {
                (a, b)
            } else if named(a, score) || named(b, class) {
                (b, a)
            } else if boxes == 0 {
                // TF1 order: boxes, classes, scores, count.
                (a, b)
            } else {
                // TF2 order (EfficientDet-Lite): scores, boxes, count, classes.
                (b, a)
            };
            Ok(Format::Postprocessed {
                boxes,
                classes,
                scores,
                count,
            })
        }
        2 => {
            let (enc, sc) = if dims[0].len() == 2 && dims[0][1] == 4 {
                (0, 1)
            } else {
                (1, 0)
            };
            let ok = dims[enc].len() == 2
                && dims[enc][1] == 4
                && dims[sc].len() == 2
                && dims[sc][0] == dims[enc][0];
            if !ok {
                return Err(unknown());
            }
            let anchors = anchors.ok_or(FormatError::NoAnchors)?;
            if anchors.boxes.len() != dims[enc][0] {
                return Err(FormatError::NoAnchors);
            }
            // TF's SSDs carry a background column: 91 for COCO's 90 labels, 2 for 1 class...
            let background = dims[sc][1] > 1;
            Ok(Format::RawSsd {
                encodings: enc,
                scores: sc,
                background,
                anchors,
            })
        }
        1 => {
            let d = dims[0];
            if d.len() != 2 {
                return Err(unknown());
            }
            let (rows, cols) = (d[0], d[1]);
            if cols == 6 && rows <= 300 {
                return Ok(Format::EndToEnd { output: 0 });
            }
            if rows < cols && rows > 4 {
                Ok(Format::Yolo {
                    output: 0,
                    channels_first: true,
                    classes: rows - 4,
                })
            } else if cols < rows && cols > 4 {
                Ok(Format::Yolo {
                    output: 0,
                    channels_first: false,
                    classes: cols - 4,
                })
            } else {
                Err(unknown())
            }
        }
        _ => Err(unknown()),
    }
}

/// What to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeOptions {
    pub score_threshold: f32,
    pub iou_threshold: f32,
    pub max_detections: usize,
    /// The model's input width and height, to normalise pixel coordinates.
    pub input_size: (u32, u32),
    /// Keep only these label ids (`None`: all).
    pub classes: Option<Vec<u32>>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            score_threshold: 0.3,
            iou_threshold: 0.5,
            max_detections: 100,
            input_size: (1, 1),
            classes: None,
        }
    }
}

impl DecodeOptions {
    fn wanted(&self, class: u32, score: f32) -> bool {
        score >= self.score_threshold
            && score.is_finite()
            && self.classes.as_ref().is_none_or(|c| c.contains(&class))
    }
}

/// Decodes one inference's outputs.
pub fn decode(format: &Format, outputs: &[Output], o: &DecodeOptions) -> Vec<Detection> {
    let mut dets = Vec::new();
    match format {
        Format::Postprocessed {
            boxes,
            classes,
            scores,
            count,
        } => {
            let n = outputs[*scores].values.len();
            let count = (outputs[*count]
                .values
                .first()
                .copied()
                .unwrap_or(0.0)
                .max(0.0) as usize)
                .min(n);
            for i in 0..count {
                let (class, score) = (
                    outputs[*classes].values[i] as u32,
                    outputs[*scores].values[i],
                );
                if !o.wanted(class, score) {
                    continue;
                }
                let b = &outputs[*boxes].values[i * 4..i * 4 + 4];
                dets.push(Detection {
                    class,
                    score,
                    bbox: BBox::new(b[1], b[0], b[3], b[2]).clamped(),
                });
            }
            // The op already suppressed overlaps.
            dets.truncate(o.max_detections);
            return dets;
        }
        Format::RawSsd {
            encodings,
            scores,
            background,
            anchors,
        } => {
            let enc = &outputs[*encodings].values;
            let sc = &outputs[*scores].values;
            let c = sc.len() / anchors.boxes.len().max(1);
            let first = usize::from(*background);
            // Some raw SSDs (MediaPipe's) give logits, not probabilities.
            let logits = sc.iter().any(|&v| !(0.0..=1.0).contains(&v));
            let prob = |v: f32| if logits { 1.0 / (1.0 + (-v).exp()) } else { v };
            let [ys, xs, hs, ws] = anchors.scales;
            for (a, anchor) in anchors.boxes.iter().enumerate() {
                let row = &sc[a * c..a * c + c];
                let Some((k, &score)) = row
                    .iter()
                    .enumerate()
                    .skip(first)
                    .max_by(|x, y| x.1.total_cmp(y.1))
                else {
                    continue;
                };
                let class = (k - first) as u32;
                let score = prob(score);
                if !o.wanted(class, score) {
                    continue;
                }
                let e = &enc[a * 4..a * 4 + 4];
                let [ya, xa, ha, wa] = *anchor;
                let cy = e[0] / ys * ha + ya;
                let cx = e[1] / xs * wa + xa;
                let h = (e[2] / hs).exp() * ha;
                let w = (e[3] / ws).exp() * wa;
                dets.push(Detection {
                    class,
                    score,
                    bbox: BBox::from_cxcywh(cx, cy, w, h).clamped(),
                });
            }
        }
        Format::Yolo {
            output,
            channels_first,
            classes,
        } => {
            let v = &outputs[*output].values;
            let stride = 4 + classes;
            let n = v.len() / stride;
            let at = |i: usize, ch: usize| {
                if *channels_first {
                    v[ch * n + i]
                } else {
                    v[i * stride + ch]
                }
            };
            let pixels = (0..n.min(64)).any(|i| at(i, 2) > 1.5 || at(i, 3) > 1.5);
            let (sx, sy) = if pixels {
                (o.input_size.0 as f32, o.input_size.1 as f32)
            } else {
                (1.0, 1.0)
            };
            for i in 0..n {
                let Some((k, score)) = (0..*classes)
                    .map(|k| (k, at(i, 4 + k)))
                    .max_by(|x, y| x.1.total_cmp(&y.1))
                else {
                    continue;
                };
                if !o.wanted(k as u32, score) {
                    continue;
                }
                let bbox =
                    BBox::from_cxcywh(at(i, 0) / sx, at(i, 1) / sy, at(i, 2) / sx, at(i, 3) / sy)
                        .clamped();
                dets.push(Detection {
                    class: k as u32,
                    score,
                    bbox,
                });
            }
        }
        Format::EndToEnd { output } => {
            let v = &outputs[*output].values;
            let pixels = v.chunks_exact(6).any(|r| r[2] > 1.5 || r[3] > 1.5);
            let (sx, sy) = if pixels {
                (o.input_size.0 as f32, o.input_size.1 as f32)
            } else {
                (1.0, 1.0)
            };
            for r in v.chunks_exact(6) {
                let (score, class) = (r[4], r[5] as u32);
                if o.wanted(class, score) {
                    let bbox = BBox::new(r[0] / sx, r[1] / sy, r[2] / sx, r[3] / sy).clamped();
                    dets.push(Detection { class, score, bbox });
                }
            }
            dets.truncate(o.max_detections);
            return dets;
        }
    }
    nms(dets, o.iou_threshold, o.max_detections)
}

/// Whether the model's outputs are full: a model that returns a fixed number of boxes (its
/// postprocess op's `max_detections`, an end-to-end export's rows) returned all of them, down to
/// the weakest, at or above the least score, so it would have said more had it been let. Boxes
/// decoded here from raw outputs are limited only by `max_detections` after suppression, far
/// more than a picture of people holds, so those are never full.
pub fn is_full(format: &Format, outputs: &[Output], o: &DecodeOptions) -> bool {
    let least = o.score_threshold;
    match format {
        Format::Postprocessed { scores, count, .. } => {
            let rows = &outputs[*scores].values;
            let returned = outputs[*count].values.first().copied().unwrap_or(0.0);
            returned as usize >= rows.len() && all_at_least(rows.iter().copied(), least)
        }
        Format::EndToEnd { output } => {
            all_at_least(outputs[*output].values.chunks_exact(6).map(|r| r[4]), least)
        }
        Format::RawSsd { .. } | Format::Yolo { .. } => false,
    }
}

/// The most boxes the model returns a look, when it returns a fixed number (see [`is_full`]).
pub fn most(format: &Format, outputs: &[Output]) -> Option<usize> {
    match format {
        Format::Postprocessed { scores, .. } => Some(outputs[*scores].values.len()),
        Format::EndToEnd { output } => Some(outputs[*output].values.len() / 6),
        Format::RawSsd { .. } | Format::Yolo { .. } => None,
    }
}

/// Whether there are scores and none is below `least`.
fn all_at_least(mut scores: impl Iterator<Item = f32>, least: f32) -> bool {
    scores
        .next()
        .is_some_and(|first| first >= least && scores.all(|v| v >= least))
}

/// Greedy per-class non-maximum suppression: the best box of each overlapping group stays.
pub fn nms(mut dets: Vec<Detection>, iou_threshold: f32, max: usize) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        if keep.len() >= max {
            break;
        }
        if keep
            .iter()
            .all(|k| k.class != d.class || k.bbox.iou(&d.bbox) <= iou_threshold)
        {
            keep.push(d);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::super::tensor::ElementType;
    use super::*;

    fn info(name: &str, shape: &[usize]) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            shape: shape.to_vec(),
            dtype: ElementType::F32,
            quantization: None,
        }
    }

    fn out(name: &str, shape: &[usize], values: Vec<f32>) -> Output {
        Output {
            info: info(name, shape),
            values,
        }
    }

    fn opts() -> DecodeOptions {
        DecodeOptions {
            input_size: (640, 640),
            ..DecodeOptions::default()
        }
    }

    #[test]
    fn postprocessed_tf1_order() {
        let outs = vec![
            out(
                "TFLite_Detection_PostProcess",
                &[1, 3, 4],
                vec![0.1, 0.2, 0.5, 0.4, 0.0, 0.0, 0.1, 0.1, 0.5, 0.5, 1.2, 0.9],
            ),
            out(
                "TFLite_Detection_PostProcess:1",
                &[1, 3],
                vec![0.0, 2.0, 0.0],
            ),
            out(
                "TFLite_Detection_PostProcess:2",
                &[1, 3],
                vec![0.9, 0.8, 0.1],
            ),
            out("TFLite_Detection_PostProcess:3", &[1], vec![3.0]),
        ];
        let infos: Vec<_> = outs.iter().map(|o| o.info.clone()).collect();
        let f = identify(&infos, None).expect("format");
        assert_eq!(
            f,
            Format::Postprocessed {
                boxes: 0,
                classes: 1,
                scores: 2,
                count: 3
            }
        );
        let d = decode(&f, &outs, &opts());
        assert_eq!(d.len(), 2, "the 0.1 score is below the threshold");
        assert_eq!(
            d[0].bbox,
            BBox::new(0.2, 0.1, 0.4, 0.5),
            "ymin,xmin,ymax,xmax reordered"
        );
        assert_eq!((d[1].class, d[1].score), (2, 0.8));
        let only_people = DecodeOptions {
            classes: Some(vec![0]),
            ..opts()
        };
        assert_eq!(decode(&f, &outs, &only_people).len(), 1);
        assert!(
            !is_full(&f, &outs, &opts()),
            "its weakest row is below the least score"
        );
        let mut full = outs.clone();
        full[2].values = vec![0.9, 0.8, 0.5];
        assert!(
            is_full(&f, &full, &opts()),
            "three rows, three returned, all confident"
        );
        full[3].values = vec![2.0];
        assert!(!is_full(&f, &full, &opts()), "fewer returned than it could");
    }

    #[test]
    fn postprocessed_tf2_order_and_clamping() {
        let outs = vec![
            out("StatefulPartitionedCall:1", &[1, 2], vec![0.7, 0.6]),
            out(
                "StatefulPartitionedCall:3",
                &[1, 2, 4],
                vec![-0.1, 0.0, 1.1, 0.5, 0.0, 0.0, 0.2, 0.2],
            ),
            out("StatefulPartitionedCall:0", &[1], vec![2.0]),
            out("StatefulPartitionedCall:2", &[1, 2], vec![5.0, 1.0]),
        ];
        let infos: Vec<_> = outs.iter().map(|o| o.info.clone()).collect();
        let f = identify(&infos, None).expect("format");
        assert_eq!(
            f,
            Format::Postprocessed {
                boxes: 1,
                classes: 3,
                scores: 0,
                count: 2
            }
        );
        let d = decode(&f, &outs, &opts());
        assert_eq!((d[0].class, d[0].score), (5, 0.7));
        assert_eq!(
            d[0].bbox,
            BBox::new(0.0, 0.0, 0.5, 1.0),
            "values past the edge are clamped"
        );
    }

    #[test]
    fn raw_ssd_with_anchors() {
        let anchors = Anchors {
            boxes: vec![[0.5, 0.5, 0.2, 0.1], [0.2, 0.2, 0.1, 0.1]],
            scales: [10.0, 10.0, 5.0, 5.0],
        };
        let outs = vec![
            out(
                "raw_outputs/box_encodings",
                &[1, 2, 4],
                vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ),
            out(
                "raw_outputs/class_predictions",
                &[1, 2, 3],
                vec![0.1, 0.9, 0.2, 0.9, 0.1, 0.1],
            ),
        ];
        let infos: Vec<_> = outs.iter().map(|o| o.info.clone()).collect();
        assert_eq!(identify(&infos, None), Err(FormatError::NoAnchors));
        let f = identify(&infos, Some(anchors)).expect("format");
        let d = decode(&f, &outs, &opts());
        assert_eq!(
            d.len(),
            1,
            "anchor 2's best real class is below the threshold (column 0 is background)"
        );
        assert_eq!(d[0].class, 0);
        let c = d[0].bbox.center();
        assert!(
            (c.y - 0.52).abs() < 1e-5 && (c.x - 0.5).abs() < 1e-5,
            "{c:?}"
        );
        assert!((d[0].bbox.height() - 0.2).abs() < 1e-5);
    }

    #[test]
    fn raw_ssd_logit_scores_go_through_a_sigmoid() {
        let anchors = Anchors {
            boxes: vec![[0.5, 0.5, 0.2, 0.1]; 2],
            scales: [10.0, 10.0, 5.0, 5.0],
        };
        let outs = vec![
            out("regressors", &[1, 2, 4], vec![0.0; 8]),
            out("classificators", &[1, 2, 2], vec![-5.0, 2.0, -5.0, -3.0]),
        ];
        let infos: Vec<_> = outs.iter().map(|o| o.info.clone()).collect();
        let f = identify(&infos, Some(anchors)).expect("format");
        let d = decode(&f, &outs, &opts());
        assert_eq!(d.len(), 1, "sigmoid(-3) = 0.05 is below the threshold");
        assert!(
            (d[0].score - 0.8808).abs() < 1e-3,
            "sigmoid(2): {}",
            d[0].score
        );
    }

    #[test]
    fn yolo_raw_both_layouts_in_pixels_with_nms() {
        // Two overlapping boxes of class 1 and one of class 0, in 640-pixel coordinates.
        let boxes = [
            [320.0, 320.0, 100.0, 200.0, 0.1, 0.9],
            [322.0, 318.0, 100.0, 200.0, 0.1, 0.8],
            [100.0, 100.0, 50.0, 50.0, 0.7, 0.0],
        ];
        let n = boxes.len();
        let rows: Vec<f32> = boxes.iter().flatten().copied().collect();
        let mut cols = vec![0.0; rows.len()];
        for i in 0..n {
            for c in 0..6 {
                cols[c * n + i] = rows[i * 6 + c];
            }
        }
        // Enough candidates that the layout is unambiguous ([6, 400] vs [400, 6]).
        let pad = |mut v: Vec<f32>, first: bool| {
            if first {
                let mut out = vec![0.0; 6 * 400];
                for c in 0..6 {
                    out[c * 400..c * 400 + n].copy_from_slice(&v[c * n..c * n + n]);
                }
                out
            } else {
                v.resize(6 * 400, 0.0);
                v
            }
        };
        for (first, values) in [
            (true, pad(cols.clone(), true)),
            (false, pad(rows.clone(), false)),
        ] {
            let shape: &[usize] = if first { &[1, 6, 400] } else { &[1, 400, 6] };
            let outs = vec![out("output0", shape, values)];
            let f = identify(&[outs[0].info.clone()], None).expect("format");
            assert_eq!(
                f,
                Format::Yolo {
                    output: 0,
                    channels_first: first,
                    classes: 2
                }
            );
            let d = decode(&f, &outs, &opts());
            assert_eq!(d.len(), 2, "the overlapping class-1 box is suppressed");
            assert_eq!((d[0].class, d[0].score), (1, 0.9));
            assert!((d[0].bbox.center().x - 0.5).abs() < 1e-5);
            assert_eq!((d[1].class, d[1].score), (0, 0.7));
        }
    }

    #[test]
    fn end_to_end() {
        let outs = vec![out(
            "output0",
            &[1, 2, 6],
            vec![0.1, 0.1, 0.3, 0.5, 0.95, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01, 0.0],
        )];
        let f = identify(&[outs[0].info.clone()], None).expect("format");
        assert_eq!(f, Format::EndToEnd { output: 0 });
        let d = decode(&f, &outs, &opts());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].bbox, BBox::new(0.1, 0.1, 0.3, 0.5));
    }

    #[test]
    fn unknown_outputs_are_explained() {
        let err = identify(&[info("a", &[1, 1000])], None).expect_err("unknown");
        assert!(err.to_string().contains("a[1, 1000]"), "{err}");
        assert!(identify(&[], None).is_err());
    }
}
