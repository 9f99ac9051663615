//! The model runtimes behind one trait: LiteRT (default) and, as a build option for targets
//! LiteRT has no build for, the old TensorFlow Lite interpreter of the `tflite` crate.

use std::path::Path;
use std::str::FromStr;

use super::DetectorError;
use super::tensor::{Output, TensorInfo};

/// A loaded model that turns input bytes into dequantised outputs.
pub trait Runtime: Send + std::fmt::Debug {
    fn inputs(&self) -> &[TensorInfo];
    fn outputs(&self) -> &[TensorInfo];
    /// Writes input 0 (exactly its size in bytes), runs, and fills `outputs`.
    fn run(&mut self, input: &[u8], outputs: &mut Vec<Output>) -> Result<(), DetectorError>;
}

/// Which runtime to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    LiteRt,
    Tflite,
}

impl Default for RuntimeKind {
    fn default() -> Self {
        if cfg!(feature = "litert") {
            RuntimeKind::LiteRt
        } else {
            RuntimeKind::Tflite
        }
    }
}

impl FromStr for RuntimeKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "litert" => Ok(RuntimeKind::LiteRt),
            "tflite" => Ok(RuntimeKind::Tflite),
            _ => Err(format!("runtime must be litert or tflite, not {s:?}")),
        }
    }
}

/// Gives a shape to outputs the model declares without one (see [`super::litert`]).
pub type FixOutput<'a> = &'a dyn Fn(usize, &TensorInfo) -> Option<Vec<usize>>;

/// Loads a model on the chosen runtime.
#[allow(dead_code)] // unused when every runtime is built in
fn missing(path: &Path, name: &str, feature: &str) -> DetectorError {
    DetectorError::Load {
        path: path.display().to_string(),
        reason: format!("this build has no {name} runtime; rebuild with `--features {feature}`"),
    }
}

pub fn load(
    kind: RuntimeKind,
    path: &Path,
    threads: usize,
    fix_output: FixOutput<'_>,
) -> Result<Box<dyn Runtime>, DetectorError> {
    match kind {
        #[cfg(feature = "litert")]
        RuntimeKind::LiteRt => Ok(Box::new(super::litert::LiteRtModel::load(
            path, threads, fix_output,
        )?)),
        #[cfg(not(feature = "litert"))]
        RuntimeKind::LiteRt => {
            let _ = (threads, fix_output);
            Err(missing(path, "LiteRT", "litert"))
        }
        #[cfg(feature = "tflite")]
        RuntimeKind::Tflite => Ok(Box::new(super::tflite::TfliteModel::load(path, threads)?)),
        #[cfg(not(feature = "tflite"))]
        RuntimeKind::Tflite => Err(missing(path, "tflite", "tflite")),
    }
}
