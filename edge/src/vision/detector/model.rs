//! A detection model file (`.tflite`) on LiteRT: frame → input tensor → outputs → detections.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::anchors::{SsdAnchorConfig, ssd_anchors};
use super::decode::{Anchors, DecodeOptions, Format, decode, identify, is_full, most};
use super::labels::Labels;
use super::modelfile::{self, OutputMetadata};
use super::packed;
use super::runtime::{self, Runtime, RuntimeKind};
use super::tensor::{ElementType, Output, TensorInfo};
use super::{Detection, Detector, DetectorError, Stages};
use crate::vision::camera::Frame;

/// What model to run and what to keep of its detections.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOptions {
    pub path: PathBuf,
    pub labels: Option<PathBuf>,
    /// Class names (or ids) to keep; empty keeps all.
    pub classes: Vec<String>,
    pub score_threshold: f32,
    pub iou_threshold: f32,
    pub threads: usize,
    pub runtime: RuntimeKind,
}

/// How the input tensor is laid out.
#[derive(Debug, Clone, PartialEq)]
struct Input {
    width: u32,
    height: u32,
    /// Channels first (`[1,3,H,W]`).
    nchw: bool,
    dtype: ElementType,
    /// For float inputs: pixels to `[-1, 1]` (TF SSDs) instead of `[0, 1]` (YOLO).
    signed_range: bool,
}

impl Input {
    fn from_tensor(t: &TensorInfo, format: &Format) -> Result<Self, String> {
        let (nchw, h, w) = match t.shape[..] {
            [1, h, w, 3] => (false, h, w),
            [1, 3, h, w] => (true, h, w),
            _ => {
                return Err(format!(
                    "input {:?} has shape {:?}; expected [1,H,W,3] or [1,3,H,W]",
                    t.name, t.shape
                ));
            }
        };
        if !matches!(
            t.dtype,
            ElementType::U8 | ElementType::I8 | ElementType::F32
        ) {
            return Err(format!(
                "input {:?} is {:?}; expected uint8, int8 or float32",
                t.name, t.dtype
            ));
        }
        let signed_range = matches!(format, Format::Postprocessed { .. } | Format::RawSsd { .. });
        Ok(Self {
            width: w as u32,
            height: h as u32,
            nchw,
            dtype: t.dtype,
            signed_range,
        })
    }

    /// Writes an RGB24 frame of the input's size into `out` as the tensor's bytes.
    fn fill(&self, rgb: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let plane = (self.width * self.height) as usize;
        let value = |i: usize| rgb[i];
        let order = |k: usize| {
            if self.nchw {
                (k % plane) * 3 + k / plane
            } else {
                k
            }
        };
        match self.dtype {
            ElementType::U8 => {
                if self.nchw {
                    out.extend((0..plane * 3).map(|k| value(order(k))));
                } else {
                    out.extend_from_slice(rgb);
                }
            }
            ElementType::I8 => out.extend((0..plane * 3).map(|k| value(order(k)) ^ 0x80)),
            _ => {
                let (scale, offset) = if self.signed_range {
                    (1.0 / 127.5, -1.0)
                } else {
                    (1.0 / 255.0, 0.0)
                };
                out.reserve(plane * 12);
                for k in 0..plane * 3 {
                    let v = value(order(k)) as f32 * scale + offset;
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
}

/// A model on LiteRT with its decoder.
#[derive(Debug)]
pub struct ModelDetector {
    name: String,
    runtime: Box<dyn Runtime>,
    format: Format,
    input: Input,
    decode: DecodeOptions,
    labels: Option<Labels>,
    /// Reused between frames.
    tensor: Vec<u8>,
    outputs: Vec<Output>,
}

impl ModelDetector {
    pub fn open(o: &ModelOptions) -> Result<Self, DetectorError> {
        let load = |reason: String| DetectorError::Load {
            path: o.path.display().to_string(),
            reason,
        };
        let file = std::fs::read(&o.path).map_err(|e| load(e.to_string()))?;
        let postprocess = modelfile::postprocess(&file).map_err(|e| load(e.to_string()))?;
        let rows = postprocess.as_ref().map(modelfile::PostProcess::rows);
        // The postprocess op's outputs are declared without shapes: boxes, classes, scores, count.
        let fix = |i: usize, _: &TensorInfo| {
            let n = rows?;
            Some(match i {
                0 => vec![1, n, 4],
                1 | 2 => vec![1, n],
                _ => vec![1],
            })
        };
        let runtime = runtime::load(o.runtime, &o.path, o.threads, &fix)?;
        // Anchors from the model, or, for a raw SSD without them, TF's standard SSD anchors for
        // the model's input size (`identify` uses them only if their number fits).
        let (in_w, in_h) = match runtime.inputs().first().map(|t| t.shape.as_slice()) {
            Some(&[1, 3, h, w] | &[1, h, w, _]) => (w as u32, h as u32),
            _ => (0, 0),
        };
        let anchors = match postprocess
            .as_ref()
            .and_then(|p| Some((p.anchors.clone()?, p.scales)))
        {
            Some((boxes, scales)) => Anchors { boxes, scales },
            None => Anchors {
                boxes: ssd_anchors(&SsdAnchorConfig::default(), in_w, in_h),
                scales: [10.0, 10.0, 5.0, 5.0],
            },
        };
        // Outputs are identified by the metadata's names where the model has them.
        let metadata = modelfile::output_metadata(&file).map_err(|e| load(e.to_string()))?;
        let ultralytics = packed::ultralytics(&file).map_err(load)?;
        if let Some(task) = ultralytics.as_ref().and_then(|u| u.task.as_deref())
            && task != "detect"
        {
            return Err(load(format!(
                "it is an Ultralytics {task} model; baycount needs a detection model (exported from a model trained with task=detect)"
            )));
        }
        let outputs = named_outputs(runtime.outputs(), &metadata);
        let format = identify(&outputs, Some(anchors))?;
        let input_info = runtime
            .inputs()
            .first()
            .ok_or_else(|| load("the model has no input".into()))?;
        let input = Input::from_tensor(input_info, &format).map_err(load)?;
        let labels = match &o.labels {
            Some(path) => Some(Labels::load(path)?),
            None => packed_labels(&file, &metadata, ultralytics, &o.path)?,
        };
        // A labels file written for another model would count the wrong thing under the right name.
        if let (Some(l), Format::Yolo { classes, .. }) = (&labels, &format)
            && l.len() != *classes
        {
            let source = o.labels.as_deref().unwrap_or(&o.path);
            return Err(load(format!(
                "the labels in {} name {} classes but the model has {classes}: they belong to another model; give the labels it was trained with",
                source.display(),
                l.len()
            )));
        }
        let classes = match (&labels, o.classes.is_empty()) {
            (_, true) => None,
            (Some(l), false) => Some(l.ids(&o.classes)?),
            (None, false) => Some(
                o.classes
                    .iter()
                    .map(|c| {
                        c.parse()
                            .map_err(|_| DetectorError::UnknownClass(c.clone()))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        let decode = DecodeOptions {
            score_threshold: o.score_threshold,
            iou_threshold: o.iou_threshold,
            max_detections: 100,
            input_size: (input.width, input.height),
            classes,
        };
        Ok(Self {
            name: o
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            runtime,
            format,
            input,
            decode,
            labels,
            tensor: Vec::new(),
            outputs: Vec::new(),
        })
    }

    pub fn format(&self) -> &Format {
        &self.format
    }

    pub fn labels(&self) -> Option<&Labels> {
        self.labels.as_ref()
    }

    pub fn path_name(&self) -> &str {
        &self.name
    }
}

impl Detector for ModelDetector {
    fn input_size(&self) -> (u32, u32) {
        (self.input.width, self.input.height)
    }

    fn detect(
        &mut self,
        frame: &Frame,
        stages: &mut Stages,
    ) -> Result<Vec<Detection>, DetectorError> {
        if (frame.width, frame.height) != self.input_size() {
            return Err(DetectorError::Inference(format!(
                "frame is {}x{}, the model takes {}x{}",
                frame.width, frame.height, self.input.width, self.input.height
            )));
        }
        let t0 = Instant::now();
        self.input.fill(&frame.rgb, &mut self.tensor);
        let t1 = Instant::now();
        self.runtime.run(&self.tensor, &mut self.outputs)?;
        let t2 = Instant::now();
        let dets = decode(&self.format, &self.outputs, &self.decode);
        stages.looks += 1;
        stages.full_looks += u64::from(is_full(&self.format, &self.outputs, &self.decode));
        let t3 = Instant::now();
        stages.preprocess += t1 - t0;
        stages.infer += t2 - t1;
        stages.postprocess += t3 - t2;
        Ok(dets)
    }

    fn describe(&self) -> String {
        format!("{} on LiteRT ({:?})", self.name, self.format_name())
    }

    fn most(&self) -> Option<usize> {
        most(&self.format, &self.outputs)
    }
}

impl ModelDetector {
    fn format_name(&self) -> &'static str {
        match self.format {
            Format::Postprocessed { .. } => "SSD/EfficientDet with postprocess",
            Format::RawSsd { .. } => "raw SSD",
            Format::Yolo { .. } => "YOLO",
            Format::EndToEnd { .. } => "end-to-end",
        }
    }
}

/// The runtime's outputs, renamed after the metadata's description of them when it describes
/// them all (runtimes report graph names such as `StatefulPartitionedCall:2`).
fn named_outputs(outputs: &[TensorInfo], metadata: &[OutputMetadata]) -> Vec<TensorInfo> {
    let mut outputs = outputs.to_vec();
    if metadata.len() == outputs.len() {
        for (o, m) in outputs.iter_mut().zip(metadata) {
            if !m.name.is_empty() {
                o.name.clone_from(&m.name);
            }
        }
    }
    outputs
}

/// The labels the model carries: the file its metadata names, or Ultralytics' class names.
fn packed_labels(
    file: &[u8],
    metadata: &[OutputMetadata],
    ultralytics: Option<packed::Ultralytics>,
    path: &Path,
) -> Result<Option<Labels>, DetectorError> {
    let fail = |reason: String| DetectorError::Labels {
        path: path.display().to_string(),
        reason,
    };
    if let Some(name) = metadata.iter().find_map(|m| m.labels_file.as_deref()) {
        let bytes = packed::file(file, name).map_err(fail)?.ok_or_else(|| {
            fail(format!(
                "its metadata names {name}, but the model does not carry it"
            ))
        })?;
        let text =
            String::from_utf8(bytes).map_err(|_| fail(format!("{name} is not UTF-8 text")))?;
        return Labels::from_text(&text, &format!("{} (packed {name})", path.display())).map(Some);
    }
    Ok(ultralytics.map(|u| u.names).filter(|n| !n.is_empty()))
}

/// Where the default model and its labels are looked for, in order: `$BAYCOUNT_MODEL_DIR`,
/// `assets/models` of a checkout (as `scripts/setup.sh` leaves it), `/usr/share/baycount/models`
/// (the Debian package).
pub fn default_model_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("BAYCOUNT_MODEL_DIR") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/models"));
    if let Ok(exe) = std::env::current_exe() {
        for up in exe.ancestors().skip(1).take(5) {
            dirs.push(up.join("assets/models"));
        }
    }
    dirs.push(PathBuf::from("/usr/share/baycount/models"));
    dirs
}

/// The default model's file name: SSD MobileNet v2 COCO as published, uint8.
pub const DEFAULT_MODEL: &str = "ssd_mobilenet_v2_coco_quant_postprocess.tflite";
/// The same model rewritten as int8 (`scripts/int8-model.py`): the same boxes within rounding,
/// for about 30 % less CPU an invoke under LiteRT's XNNPACK. The old `tflite` runtime keeps the
/// uint8 one.
pub const DEFAULT_MODEL_INT8: &str = "ssd_mobilenet_v2_coco_quant_postprocess_int8.tflite";
/// Its labels.
pub const DEFAULT_LABELS: &str = "coco_labels.txt";

/// The default model's file names for `runtime`, the one to use first.
pub fn default_model_names(runtime: RuntimeKind) -> &'static [&'static str] {
    match runtime {
        RuntimeKind::LiteRt => &[DEFAULT_MODEL_INT8, DEFAULT_MODEL],
        RuntimeKind::Tflite => &[DEFAULT_MODEL],
    }
}

/// The default model for `runtime` and its labels, or what to do when it is not installed.
pub fn default_model(runtime: RuntimeKind) -> Result<(PathBuf, PathBuf), DetectorError> {
    find_default_model(runtime).ok_or_else(|| DetectorError::Load {
        path: default_model_names(runtime)[0].into(),
        reason: format!(
            "the default model is not installed in any of {:?}; run scripts/setup.sh or give --model",
            default_model_dirs()
        ),
    })
}

/// The default model for `runtime` and its labels, if installed: the first of its names found
/// in any of the directories.
pub fn find_default_model(runtime: RuntimeKind) -> Option<(PathBuf, PathBuf)> {
    let dirs = default_model_dirs();
    default_model_names(runtime).iter().find_map(|name| {
        dirs.iter().find_map(|d| {
            let (m, l) = (d.join(name), d.join(DEFAULT_LABELS));
            (m.is_file() && l.is_file()).then_some((m, l))
        })
    })
}
