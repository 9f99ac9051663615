//! The fallback runtime: TensorFlow Lite 1.15's interpreter through the `tflite` crate, for
//! targets LiteRT has no build for (armv7, glibc older than 2.34). Several times slower than
//! LiteRT (no XNNPACK) and limited to the ops of 2019; quantisation comes from the model file.
#![allow(unsafe_code)]

use std::path::Path;

use tflite::ops::builtin::BuiltinOpResolver;
use tflite::{FlatBufferModel, Interpreter, InterpreterBuilder};

use super::DetectorError;
use super::modelfile;
use super::runtime::Runtime;
use super::tensor::{ElementType, Output, TensorInfo, dequantize};

/// A model on the classic interpreter.
pub struct TfliteModel {
    interpreter: Interpreter<'static, BuiltinOpResolver>,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
}

impl std::fmt::Debug for TfliteModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TfliteModel")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

// SAFETY: the interpreter is used through `&mut self` only (one thread at a time) and holds no
// thread-local state.
unsafe impl Send for TfliteModel {}

fn element_type(k: tflite::context::ElementKind) -> ElementType {
    use tflite::context::ElementKind as K;
    match k {
        K::kTfLiteFloat32 => ElementType::F32,
        K::kTfLiteUInt8 => ElementType::U8,
        K::kTfLiteInt8 => ElementType::I8,
        K::kTfLiteInt32 => ElementType::I32,
        K::kTfLiteInt64 => ElementType::I64,
        K::kTfLiteFloat16 => ElementType::F16,
        _ => ElementType::Other,
    }
}

impl TfliteModel {
    pub fn load(path: &Path, threads: usize) -> Result<Self, DetectorError> {
        let fail = |reason: String| DetectorError::Load {
            path: path.display().to_string(),
            reason,
        };
        let file = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let quant = modelfile::tensor_quantization(&file).map_err(|e| fail(e.to_string()))?;
        let model = FlatBufferModel::build_from_buffer(file).map_err(|e| fail(e.to_string()))?;
        let builder = InterpreterBuilder::new(model, BuiltinOpResolver::default())
            .map_err(|e| fail(e.to_string()))?;
        let mut interpreter = builder
            .build_with_threads(threads.max(1) as i32)
            .map_err(|e| {
                fail(format!(
                    "{e} (the tflite runtime only knows TensorFlow 1.15's ops)"
                ))
            })?;
        interpreter
            .allocate_tensors()
            .map_err(|e| fail(e.to_string()))?;
        let info = |i: &Interpreter<'static, BuiltinOpResolver>, idx| {
            i.tensor_info(idx).map(|t| TensorInfo {
                quantization: quant.get(&t.name).copied().flatten(),
                name: t.name,
                shape: t.dims,
                dtype: element_type(t.element_kind),
            })
        };
        let inputs = interpreter
            .inputs()
            .iter()
            .filter_map(|&i| info(&interpreter, i))
            .collect();
        let outputs = interpreter
            .outputs()
            .iter()
            .filter_map(|&i| info(&interpreter, i))
            .collect();
        Ok(Self {
            interpreter,
            inputs,
            outputs,
        })
    }
}

impl Runtime for TfliteModel {
    fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    fn run(&mut self, input: &[u8], outputs: &mut Vec<Output>) -> Result<(), DetectorError> {
        let infer = |e: String| DetectorError::Inference(e);
        let idx = self.interpreter.inputs()[0];
        let buf = self
            .interpreter
            .tensor_buffer_mut(idx)
            .ok_or_else(|| infer("no input tensor".into()))?;
        if buf.len() != input.len() {
            return Err(infer(format!(
                "input of {} bytes; the model takes {}",
                input.len(),
                buf.len()
            )));
        }
        buf.copy_from_slice(input);
        self.interpreter
            .invoke()
            .map_err(|e| infer(e.to_string()))?;
        outputs.clear();
        for (k, info) in self.outputs.iter().enumerate() {
            let idx = self.interpreter.outputs()[k];
            // Shapes known only after a run (the postprocess op's) are read again here.
            let mut info = info.clone();
            if let Some(t) = self.interpreter.tensor_info(idx) {
                info.shape = t.dims;
            }
            let bytes = self
                .interpreter
                .tensor_buffer(idx)
                .ok_or_else(|| infer("no output tensor".into()))?;
            outputs.push(Output {
                values: dequantize(&info, bytes),
                info,
            });
        }
        Ok(())
    }
}
