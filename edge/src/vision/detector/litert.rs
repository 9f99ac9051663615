//! The LiteRT runtime (TensorFlow Lite's current name, `libLiteRt.so` from ai-edge-litert 2.1.4)
//! through litert-sys: loads a model, reports its tensors with names and quantisation, runs it
//! on the CPU (XNNPACK) with a chosen number of threads.
//!
//! The `litert` crate hides tensor names, quantisation and CPU options, so this module talks to
//! its `litert-sys` layer directly, in `unsafe` code.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::Path;
use std::ptr::null_mut;

use litert_sys as sys;

use super::DetectorError;
use super::runtime::{FixOutput, Runtime};
use super::tensor::{ElementType, Output, Quantization, TensorInfo, dequantize};

fn check(status: sys::LiteRtStatus, what: &str) -> Result<(), String> {
    // LiteRtGetStatusString is declared by litert-sys but not exported by the 2.1.4 library.
    if status == sys::kLiteRtStatusOk {
        Ok(())
    } else {
        Err(format!("{what} failed (LiteRT status {status})"))
    }
}

fn element_type(t: sys::LiteRtElementType) -> ElementType {
    match t {
        sys::kLiteRtElementTypeFloat32 => ElementType::F32,
        sys::kLiteRtElementTypeUInt8 => ElementType::U8,
        sys::kLiteRtElementTypeInt8 => ElementType::I8,
        sys::kLiteRtElementTypeInt32 => ElementType::I32,
        sys::kLiteRtElementTypeInt64 => ElementType::I64,
        sys::kLiteRtElementTypeFloat16 => ElementType::F16,
        _ => ElementType::Other,
    }
}

fn element_size(t: ElementType) -> usize {
    match t {
        ElementType::F32 | ElementType::I32 => 4,
        ElementType::I64 => 8,
        ElementType::F16 => 2,
        ElementType::U8 | ElementType::I8 | ElementType::Other => 1,
    }
}

/// Reads a tensor's name, type, shape and quantisation.
///
/// # Safety
/// `t` must be a tensor handle of a live model.
unsafe fn tensor_info(
    t: sys::LiteRtTensor,
) -> Result<(TensorInfo, sys::LiteRtRankedTensorType), String> {
    let mut name: *const c_char = std::ptr::null();
    let mut ty = sys::LiteRtRankedTensorType::default();
    let mut qid: sys::LiteRtQuantizationTypeId = 0;
    // SAFETY: `t` is valid (caller); every out-pointer is a live local.
    unsafe {
        check(
            sys::LiteRtGetTensorName(t, &mut name),
            "reading a tensor name",
        )?;
        check(
            sys::LiteRtGetRankedTensorType(t, &mut ty),
            "reading a tensor type",
        )?;
        check(
            sys::LiteRtGetQuantizationTypeId(t, &mut qid),
            "reading a tensor's quantisation",
        )?;
    }
    let quantization = if qid == sys::kLiteRtQuantizationPerTensor {
        let mut q = sys::LiteRtQuantizationPerTensor {
            scale: 0.0,
            zero_point: 0,
        };
        // SAFETY: as above.
        unsafe {
            check(
                sys::LiteRtGetPerTensorQuantization(t, &mut q),
                "reading quantisation",
            )?
        };
        Some(Quantization {
            scale: q.scale,
            zero_point: q.zero_point as i32,
        })
    } else {
        None
    };
    let name = if name.is_null() {
        String::new()
    } else {
        // SAFETY: LiteRT returns a NUL-terminated string owned by the model, alive while we copy it.
        unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned()
    };
    let rank = (ty.layout.rank() as usize).min(ty.layout.dimensions.len());
    let shape = ty.layout.dimensions[..rank]
        .iter()
        .map(|&d| d.max(0) as usize)
        .collect();
    Ok((
        TensorInfo {
            name,
            shape,
            dtype: element_type(ty.element_type),
            quantization,
        },
        ty,
    ))
}

/// Frees the CPU options' TOML payload when LiteRT is done with it.
unsafe extern "C" fn free_payload(p: *mut c_void) {
    // SAFETY: `p` came from `CString::into_raw` in `cpu_options` and is freed once, here.
    unsafe { drop(CString::from_raw(p.cast::<c_char>())) }
}

/// A compiled model with its input and output buffers.
pub struct LiteRtModel {
    env: sys::LiteRtEnvironment,
    model: sys::LiteRtModel,
    compiled: sys::LiteRtCompiledModel,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    input_buffers: Vec<sys::LiteRtTensorBuffer>,
    output_buffers: Vec<sys::LiteRtTensorBuffer>,
}

impl std::fmt::Debug for LiteRtModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteRtModel")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

// SAFETY: the handles are only used through `&mut self` (one thread at a time); LiteRT objects
// are not tied to the thread that made them.
unsafe impl Send for LiteRtModel {}

impl LiteRtModel {
    /// Loads and compiles a model for the CPU with `threads` threads. `fix_output` may give a
    /// shape to outputs the model declares without one (rank 0), such as those of
    /// `TFLite_Detection_PostProcess`; an output left without a shape is refused.
    pub fn load(
        path: &Path,
        threads: usize,
        fix_output: FixOutput<'_>,
    ) -> Result<Self, DetectorError> {
        let fail = |reason: String| DetectorError::Load {
            path: path.display().to_string(),
            reason,
        };
        let cpath = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| fail("path contains a NUL byte".into()))?;
        let mut m = LiteRtModel {
            env: null_mut(),
            model: null_mut(),
            compiled: null_mut(),
            inputs: vec![],
            outputs: vec![],
            input_buffers: vec![],
            output_buffers: vec![],
        };
        // SAFETY: every handle passed in was produced by LiteRT just before and is still alive;
        // every out-pointer is a live local or field. `m`'s Drop frees whatever was made.
        unsafe {
            check(
                sys::LiteRtCreateEnvironment(0, std::ptr::null(), &mut m.env),
                "creating the LiteRT environment",
            )
            .map_err(fail)?;
            check(
                sys::LiteRtCreateModelFromFile(cpath.as_ptr(), &mut m.model),
                "loading the model (is it a .tflite file?)",
            )
            .map_err(fail)?;
            let mut sig: sys::LiteRtSignature = null_mut();
            check(
                sys::LiteRtGetModelSignature(m.model, 0, &mut sig),
                "reading the model's signature",
            )
            .map_err(fail)?;
            let (mut n_in, mut n_out) = (0usize, 0usize);
            check(
                sys::LiteRtGetNumSignatureInputs(sig, &mut n_in),
                "counting inputs",
            )
            .map_err(fail)?;
            check(
                sys::LiteRtGetNumSignatureOutputs(sig, &mut n_out),
                "counting outputs",
            )
            .map_err(fail)?;
            let mut in_types = vec![];
            for i in 0..n_in {
                let mut t = null_mut();
                check(
                    sys::LiteRtGetSignatureInputTensorByIndex(sig, i, &mut t),
                    "reading an input",
                )
                .map_err(fail)?;
                let (info, ty) = tensor_info(t).map_err(fail)?;
                m.inputs.push(info);
                in_types.push(ty);
            }
            let mut out_types = vec![];
            for i in 0..n_out {
                let mut t = null_mut();
                check(
                    sys::LiteRtGetSignatureOutputTensorByIndex(sig, i, &mut t),
                    "reading an output",
                )
                .map_err(fail)?;
                let (mut info, mut ty) = tensor_info(t).map_err(fail)?;
                if info.shape.is_empty() {
                    // A rank-0 output would get a 4-byte buffer that the op overruns.
                    let shape = fix_output(i, &info).ok_or_else(|| {
                        fail(format!("output {:?} has no declared shape", info.name))
                    })?;
                    if shape.is_empty() || shape.len() > ty.layout.dimensions.len() {
                        return Err(fail(format!(
                            "output {:?}: unusable shape {shape:?}",
                            info.name
                        )));
                    }
                    ty.layout.set_rank(shape.len() as u32);
                    for (k, &d) in shape.iter().enumerate() {
                        ty.layout.dimensions[k] = d as i32;
                    }
                    info.shape = shape;
                }
                m.outputs.push(info);
                out_types.push(ty);
            }
            let mut options: sys::LiteRtOptions = null_mut();
            check(sys::LiteRtCreateOptions(&mut options), "creating options").map_err(fail)?;
            let configured = Self::cpu_options(options, threads);
            let compiled = configured.and_then(|()| {
                check(
                    sys::LiteRtCreateCompiledModel(m.env, m.model, options, &mut m.compiled),
                    "compiling the model for the CPU",
                )
            });
            sys::LiteRtDestroyOptions(options);
            compiled.map_err(fail)?;
            let released = super::model_pages::release(path);
            log::debug!(
                "{}: {released} bytes of the file's pages handed back",
                path.display()
            );
            for (info, ty) in m.inputs.clone().iter().zip(&in_types) {
                let b = Self::buffer(m.env, info, ty).map_err(fail)?;
                m.input_buffers.push(b);
            }
            for (info, ty) in m.outputs.clone().iter().zip(&out_types) {
                let b = Self::buffer(m.env, info, ty).map_err(fail)?;
                m.output_buffers.push(b);
            }
        }
        Ok(m)
    }

    /// CPU accelerator with `threads` threads. LiteRT's `LrtCpuOptions` helpers are not exported
    /// by the library, but what they build is: an opaque option "xnnpack" with a TOML payload.
    ///
    /// # Safety
    /// `options` must be a live options handle.
    unsafe fn cpu_options(options: sys::LiteRtOptions, threads: usize) -> Result<(), String> {
        let payload = CString::new(format!("num_threads = {}\n", threads.max(1)))
            .map_err(|e| e.to_string())?
            .into_raw();
        let mut opaque: sys::LiteRtOpaqueOptions = null_mut();
        // SAFETY: `options` is live (caller); `payload` is handed to LiteRT with its destructor.
        unsafe {
            check(
                sys::LiteRtSetOptionsHardwareAccelerators(
                    options,
                    sys::kLiteRtHwAcceleratorCpu as _,
                ),
                "choosing the CPU",
            )?;
            let made = sys::LiteRtCreateOpaqueOptions(
                c"xnnpack".as_ptr(),
                payload.cast(),
                Some(free_payload),
                &mut opaque,
            );
            if made != sys::kLiteRtStatusOk {
                free_payload(payload.cast());
                return check(made, "setting the thread count");
            }
            check(
                sys::LiteRtAddOpaqueOptions(options, opaque),
                "setting the thread count",
            )
        }
    }

    /// # Safety
    /// `env` must be live.
    unsafe fn buffer(
        env: sys::LiteRtEnvironment,
        info: &TensorInfo,
        ty: &sys::LiteRtRankedTensorType,
    ) -> Result<sys::LiteRtTensorBuffer, String> {
        let size = info.len() * element_size(info.dtype);
        let mut b: sys::LiteRtTensorBuffer = null_mut();
        // SAFETY: `env` and `ty` are live; `b` is a live out-pointer.
        unsafe {
            check(
                sys::LiteRtCreateManagedTensorBuffer(
                    env,
                    sys::kLiteRtTensorBufferTypeHostMemory,
                    ty,
                    size,
                    &mut b,
                ),
                "allocating a tensor buffer",
            )?;
        }
        Ok(b)
    }
}

impl Runtime for LiteRtModel {
    fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    fn run(&mut self, input: &[u8], outputs: &mut Vec<Output>) -> Result<(), DetectorError> {
        let infer = |e: String| DetectorError::Inference(e);
        let want = self.inputs[0].len() * element_size(self.inputs[0].dtype);
        if input.len() != want {
            return Err(infer(format!(
                "input of {} bytes; the model takes {want}",
                input.len()
            )));
        }
        // SAFETY: buffers are live and sized for their tensors; a locked host buffer is valid
        // for its size until unlocked; we copy exactly `want` bytes into input 0 and read each
        // output's own size.
        unsafe {
            let mut p: *mut c_void = null_mut();
            check(
                sys::LiteRtLockTensorBuffer(
                    self.input_buffers[0],
                    &mut p,
                    sys::kLiteRtTensorBufferLockModeWrite,
                ),
                "locking the input",
            )
            .map_err(infer)?;
            std::ptr::copy_nonoverlapping(input.as_ptr(), p.cast::<u8>(), want);
            check(
                sys::LiteRtUnlockTensorBuffer(self.input_buffers[0]),
                "unlocking the input",
            )
            .map_err(infer)?;
            check(
                sys::LiteRtRunCompiledModel(
                    self.compiled,
                    0,
                    self.input_buffers.len(),
                    self.input_buffers.as_mut_ptr(),
                    self.output_buffers.len(),
                    self.output_buffers.as_mut_ptr(),
                ),
                "running the model",
            )
            .map_err(infer)?;
            outputs.clear();
            for (info, &b) in self.outputs.iter().zip(&self.output_buffers) {
                let mut p: *mut c_void = null_mut();
                check(
                    sys::LiteRtLockTensorBuffer(b, &mut p, sys::kLiteRtTensorBufferLockModeRead),
                    "locking an output",
                )
                .map_err(infer)?;
                let bytes = std::slice::from_raw_parts(
                    p.cast::<u8>(),
                    info.len() * element_size(info.dtype),
                );
                outputs.push(Output {
                    info: info.clone(),
                    values: dequantize(info, bytes),
                });
                check(sys::LiteRtUnlockTensorBuffer(b), "unlocking an output").map_err(infer)?;
            }
        }
        Ok(())
    }
}

impl Drop for LiteRtModel {
    fn drop(&mut self) {
        // SAFETY: each handle was made by LiteRT and is freed once, buffers before the compiled
        // model, the compiled model before the model and environment.
        unsafe {
            for &b in self.input_buffers.iter().chain(&self.output_buffers) {
                sys::LiteRtDestroyTensorBuffer(b);
            }
            if !self.compiled.is_null() {
                sys::LiteRtDestroyCompiledModel(self.compiled);
            }
            if !self.model.is_null() {
                sys::LiteRtDestroyModel(self.model);
            }
            if !self.env.is_null() {
                sys::LiteRtDestroyEnvironment(self.env);
            }
        }
    }
}
