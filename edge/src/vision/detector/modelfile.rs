//! Reads what the runtime does not tell from a `.tflite` file (a FlatBuffer): the
//! `TFLite_Detection_PostProcess` op's options and anchors, and the TFLite metadata's names for
//! the outputs. A small bounds-checked reader of the few tables needed, so a broken model file is
//! an error, never a crash.

use std::collections::HashMap;

use super::tensor::Quantization;

/// The postprocess op's settings and constant anchors.
#[derive(Debug, Clone, PartialEq)]
pub struct PostProcess {
    /// Detections per output (the op's outputs are `[1, max_detections * max_classes_per_detection, 4]`).
    pub max_detections: usize,
    pub max_classes_per_detection: usize,
    /// Box coder scales: y, x, h, w.
    pub scales: [f32; 4],
    pub nms_iou_threshold: f32,
    /// Anchors (centre y, centre x, height, width), dequantised.
    pub anchors: Option<Vec<[f32; 4]>>,
}

impl PostProcess {
    /// How many rows the op's outputs have.
    pub fn rows(&self) -> usize {
        self.max_detections * self.max_classes_per_detection.max(1)
    }
}

/// Why the model file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid .tflite model: {0}")]
pub struct ModelFileError(String);

fn bad(what: &str) -> ModelFileError {
    ModelFileError(what.to_owned())
}

/// A position in the buffer, with checked reads.
#[derive(Clone, Copy)]
struct Buf<'a>(&'a [u8]);

impl<'a> Buf<'a> {
    fn bytes<const N: usize>(&self, at: usize) -> Result<[u8; N], ModelFileError> {
        self.0
            .get(at..at.checked_add(N).ok_or_else(|| bad("offset overflow"))?)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("offset past the end of the file"))
    }
    fn u8(&self, at: usize) -> Result<u8, ModelFileError> {
        Ok(self.bytes::<1>(at)?[0])
    }
    fn u16(&self, at: usize) -> Result<u16, ModelFileError> {
        Ok(u16::from_le_bytes(self.bytes(at)?))
    }
    fn u32(&self, at: usize) -> Result<u32, ModelFileError> {
        Ok(u32::from_le_bytes(self.bytes(at)?))
    }
    fn i32(&self, at: usize) -> Result<i32, ModelFileError> {
        Ok(i32::from_le_bytes(self.bytes(at)?))
    }
    /// Follows an offset stored at `at`.
    fn deref(&self, at: usize) -> Result<usize, ModelFileError> {
        at.checked_add(self.u32(at)? as usize)
            .ok_or_else(|| bad("offset overflow"))
    }
    /// The position of field `i` of the table at `t`, if present.
    fn field(&self, t: usize, i: usize) -> Result<Option<usize>, ModelFileError> {
        let vt = (t as i64 - self.i32(t)? as i64)
            .try_into()
            .map_err(|_| bad("vtable before the start"))?;
        let vt_len = self.u16(vt)? as usize;
        let slot = 4 + 2 * i;
        if slot + 2 > vt_len {
            return Ok(None);
        }
        match self.u16(vt + slot)? {
            0 => Ok(None),
            off => Ok(Some(t + off as usize)),
        }
    }
    /// A field holding an offset to a table, vector or string.
    fn ref_field(&self, t: usize, i: usize) -> Result<Option<usize>, ModelFileError> {
        self.field(t, i)?.map(|p| self.deref(p)).transpose()
    }
    /// Length and first element position of the vector at `v`.
    fn vector(&self, v: usize) -> Result<(usize, usize), ModelFileError> {
        let len = self.u32(v)? as usize;
        if len > self.0.len() {
            return Err(bad("vector longer than the file"));
        }
        Ok((len, v + 4))
    }
    fn table_vector(&self, t: usize, i: usize) -> Result<Vec<usize>, ModelFileError> {
        let Some(v) = self.ref_field(t, i)? else {
            return Ok(vec![]);
        };
        let (len, first) = self.vector(v)?;
        (0..len).map(|k| self.deref(first + 4 * k)).collect()
    }
    fn byte_vector(&self, t: usize, i: usize) -> Result<&'a [u8], ModelFileError> {
        let Some(v) = self.ref_field(t, i)? else {
            return Ok(&[]);
        };
        let (len, first) = self.vector(v)?;
        self.0
            .get(first..first + len)
            .ok_or_else(|| bad("byte vector past the end"))
    }
    fn string(&self, t: usize, i: usize) -> Result<String, ModelFileError> {
        Ok(String::from_utf8_lossy(self.byte_vector(t, i)?).into_owned())
    }
    fn i32_vector(&self, t: usize, i: usize) -> Result<Vec<i32>, ModelFileError> {
        let b = self.byte_vector4(t, i)?;
        Ok(b.chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    /// A vector of 4-byte scalars, as bytes.
    fn byte_vector4(&self, t: usize, i: usize) -> Result<&'a [u8], ModelFileError> {
        let Some(v) = self.ref_field(t, i)? else {
            return Ok(&[]);
        };
        let (len, first) = self.vector(v)?;
        self.0
            .get(first..first + 4 * len)
            .ok_or_else(|| bad("vector past the end"))
    }
}

/// Finds the postprocess op, if the model has one.
pub fn postprocess(file: &[u8]) -> Result<Option<PostProcess>, ModelFileError> {
    let b = Buf(file);
    let model = b.deref(0)?;
    let codes = b.table_vector(model, 1)?;
    let custom: Vec<String> = codes
        .iter()
        .map(|&c| b.string(c, 1))
        .collect::<Result<_, _>>()?;
    let Some(subgraph) = b.table_vector(model, 2)?.first().copied() else {
        return Err(bad("no subgraph"));
    };
    let tensors = b.table_vector(subgraph, 0)?;
    let buffers = b.table_vector(model, 4)?;
    for op in b.table_vector(subgraph, 3)? {
        let code = b.field(op, 0)?.map(|p| b.u32(p)).transpose()?.unwrap_or(0) as usize;
        if custom.get(code).map(String::as_str) != Some("TFLite_Detection_PostProcess") {
            continue;
        }
        let options = flexbuffers::Reader::get_root(b.byte_vector(op, 5)?)
            .map_err(|e| bad(&format!("postprocess options: {e}")))?
            .as_map();
        let num = |key: &str, default: f64| -> f64 {
            options.index(key).map(|r| r.as_f64()).unwrap_or(default)
        };
        let inputs = b.i32_vector(op, 1)?;
        let anchors = match inputs
            .get(2)
            .and_then(|&i| tensors.get(usize::try_from(i).ok()?))
        {
            Some(&t) => read_anchors(&b, t, &buffers)?,
            None => None,
        };
        return Ok(Some(PostProcess {
            max_detections: num("max_detections", 10.0).max(0.0) as usize,
            max_classes_per_detection: num("max_classes_per_detection", 1.0).max(1.0) as usize,
            scales: [
                num("y_scale", 10.0),
                num("x_scale", 10.0),
                num("h_scale", 5.0),
                num("w_scale", 5.0),
            ]
            .map(|v| v as f32),
            nms_iou_threshold: num("nms_iou_threshold", 0.6) as f32,
            anchors,
        }));
    }
    Ok(None)
}

/// What the TFLite metadata (TFLite Support, Model Maker, TF Hub) says about one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputMetadata {
    /// The role's name: `location`, `category`, `score`, `number of detections`...
    pub name: String,
    /// The labels file packed in the model that names this output's values or axis.
    pub labels_file: Option<String>,
}

/// The outputs described by the model's `TFLITE_METADATA`, in output order (empty when the model
/// has no metadata).
pub fn output_metadata(file: &[u8]) -> Result<Vec<OutputMetadata>, ModelFileError> {
    let b = Buf(file);
    let model = b.deref(0)?;
    let buffers = b.table_vector(model, 4)?;
    for entry in b.table_vector(model, 6)? {
        if b.string(entry, 0)? != "TFLITE_METADATA" {
            continue;
        }
        let index = b
            .field(entry, 1)?
            .map(|p| b.u32(p))
            .transpose()?
            .unwrap_or(0) as usize;
        let &buffer = buffers
            .get(index)
            .ok_or_else(|| bad("metadata buffer index out of range"))?;
        let meta = Buf(buffer_data(&b, buffer)?);
        let root = meta.deref(0)?;
        let Some(&subgraph) = meta.table_vector(root, 3)?.first() else {
            return Ok(vec![]);
        };
        return meta
            .table_vector(subgraph, 3)?
            .into_iter()
            .map(|t| {
                // AssociatedFileType 2 and 3: TENSOR_AXIS_LABELS, TENSOR_VALUE_LABELS.
                let mut labels_file = None;
                for f in meta.table_vector(t, 6)? {
                    let kind = meta
                        .field(f, 2)?
                        .map(|p| meta.u8(p))
                        .transpose()?
                        .unwrap_or(0);
                    if labels_file.is_none() && (kind == 2 || kind == 3) {
                        labels_file = Some(meta.string(f, 0)?);
                    }
                }
                Ok(OutputMetadata {
                    name: meta.string(t, 0)?,
                    labels_file,
                })
            })
            .collect();
    }
    Ok(vec![])
}

/// A buffer's bytes: inline, or (models over 2 GB) at an offset in the file.
fn buffer_data<'a>(b: &Buf<'a>, buffer: usize) -> Result<&'a [u8], ModelFileError> {
    let inline = b.byte_vector(buffer, 0)?;
    let offset = b.field(buffer, 1)?.map(|p| b.bytes::<8>(p)).transpose()?;
    let size = b.field(buffer, 2)?.map(|p| b.bytes::<8>(p)).transpose()?;
    match (offset.map(u64::from_le_bytes), size.map(u64::from_le_bytes)) {
        (Some(offset), Some(size)) if offset > 1 => usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(o, s)| b.0.get(o..o.checked_add(s)?))
            .ok_or_else(|| bad("buffer past the end of the file")),
        _ => Ok(inline),
    }
}

/// Every tensor's per-tensor quantisation, by name (for runtimes that do not report it).
pub fn tensor_quantization(
    file: &[u8],
) -> Result<HashMap<String, Option<Quantization>>, ModelFileError> {
    let b = Buf(file);
    let model = b.deref(0)?;
    let Some(subgraph) = b.table_vector(model, 2)?.first().copied() else {
        return Err(bad("no subgraph"));
    };
    b.table_vector(subgraph, 0)?
        .into_iter()
        .map(|t| Ok((b.string(t, 3)?, quantization(&b, t)?)))
        .collect()
}

/// A tensor's first scale and zero point, if it is quantised.
fn quantization(b: &Buf<'_>, tensor: usize) -> Result<Option<Quantization>, ModelFileError> {
    let Some(q) = b.ref_field(tensor, 4)? else {
        return Ok(None);
    };
    let scales = b.byte_vector4(q, 2)?;
    let zero = b
        .ref_field(q, 3)?
        .map(|v| b.bytes::<8>(v + 4))
        .transpose()?;
    Ok(scales.get(..4).map(|c| Quantization {
        scale: f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
        zero_point: zero.map(i64::from_le_bytes).unwrap_or(0) as i32,
    }))
}

fn read_anchors(
    b: &Buf<'_>,
    tensor: usize,
    buffers: &[usize],
) -> Result<Option<Vec<[f32; 4]>>, ModelFileError> {
    let shape = b.i32_vector(tensor, 0)?;
    let dtype = b
        .field(tensor, 1)?
        .map(|p| b.u8(p))
        .transpose()?
        .unwrap_or(0);
    let buffer = b
        .field(tensor, 2)?
        .map(|p| b.u32(p))
        .transpose()?
        .unwrap_or(0) as usize;
    let Some(&buf) = buffers.get(buffer) else {
        return Ok(None);
    };
    let data = buffer_data(b, buf)?;
    let n = shape.first().copied().unwrap_or(0).max(0) as usize;
    if shape.len() != 2 || shape[1] != 4 || data.is_empty() {
        return Ok(None);
    }
    // TensorType: 0 = FLOAT32, 3 = UINT8.
    let values: Vec<f32> = match dtype {
        0 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        3 => {
            let q = quantization(b, tensor)?.unwrap_or(Quantization {
                scale: 1.0,
                zero_point: 0,
            });
            data.iter()
                .map(|&v| q.scale * (v as f32 - q.zero_point as f32))
                .collect()
        }
        _ => return Ok(None),
    };
    if values.len() != n * 4 {
        return Err(bad("anchor tensor size does not match its shape"));
    }
    Ok(Some(
        values
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        for junk in [
            &b""[..],
            b"abc",
            b"\xff\xff\xff\xff",
            &[0u8; 64],
            &[8, 0, 0, 0, 0xf0, 0xff, 0xff, 0x7f, 0, 0],
        ] {
            assert!(
                postprocess(junk).is_err() || postprocess(junk) == Ok(None),
                "{junk:?}"
            );
            assert!(
                output_metadata(junk).is_err() || output_metadata(junk) == Ok(vec![]),
                "{junk:?}"
            );
        }
    }
}
