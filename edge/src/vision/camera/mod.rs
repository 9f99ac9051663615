//! Frame sources behind one trait: ffmpeg for files and RTSP cameras, V4L2 for USB and CSI
//! cameras, and synthetic scenes.

mod ffmpeg;
pub mod synthetic;
pub mod v4l;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use ffmpeg::FfmpegSource;
pub use synthetic::SyntheticSource;
pub use v4l::{V4lSource, V4lSpec};

/// One decoded frame, RGB24, row-major.
#[derive(Clone, PartialEq)]
pub struct Frame {
    /// 0 for the first frame of the source.
    pub index: u64,
    /// Seconds since the source's start (the file's timeline, or the wall clock when live).
    pub time: f64,
    /// When the frame came off the source (wall clock): what a count made from it says.
    pub captured: chrono::DateTime<chrono::Utc>,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Frame #{} t={:.3}s {}x{}",
            self.index, self.time, self.width, self.height
        )
    }
}

/// Why frames could not be had. Each says what to check.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("unknown source {0:?}: use file:PATH, rtsp://..., v4l:/dev/videoN or synthetic")]
    Spec(String),
    #[error("cannot run {program}: {source}; install it (scripts/setup.sh does)")]
    Spawn {
        program: &'static str,
        source: std::io::Error,
    },
    #[error("cannot open {source_name}: {reason}")]
    Open { source_name: String, reason: String },
    #[error("{source_name} stopped delivering frames: {reason}")]
    Broken { source_name: String, reason: String },
}

/// Where frames come from, as given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// `file:PATH`: any container and codec ffmpeg reads.
    File(PathBuf),
    /// `rtsp://...` (and `rtsps://`): an IP camera, through ffmpeg over TCP.
    Rtsp(String),
    /// `v4l:/dev/video0[?width=1280&height=720&fps=15&format=mjpeg|yuyv]`.
    V4l(V4lSpec),
    /// `synthetic`: moving boxes, for a demo without camera or model.
    Synthetic,
}

impl FromStr for SourceSpec {
    type Err = CameraError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                return Err(CameraError::Spec(s.to_owned()));
            }
            return Ok(SourceSpec::File(path.into()));
        }
        if s.starts_with("rtsp://") || s.starts_with("rtsps://") {
            return Ok(SourceSpec::Rtsp(s.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("v4l:") {
            return V4lSpec::parse(rest)
                .map(SourceSpec::V4l)
                .map_err(|reason| CameraError::Open {
                    source_name: s.to_owned(),
                    reason,
                });
        }
        if s == "synthetic" {
            return Ok(SourceSpec::Synthetic);
        }
        Err(CameraError::Spec(s.to_owned()))
    }
}

/// How to open a source.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenOptions {
    /// Deliver frames at this size (the detector's input), scaled by the source.
    pub width: u32,
    pub height: u32,
    /// Play a file at its own frame rate, like a camera, instead of as fast as possible.
    pub realtime: bool,
}

/// A source of frames.
pub trait FrameSource: Send {
    /// Blocks until the next frame; `Ok(None)` when a finite source (a file) has ended.
    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError>;
    /// Frames per second the source says it delivers, if it says.
    fn fps(&self) -> Option<f64>;
    /// The source's native size, before scaling.
    fn native_size(&self) -> (u32, u32);
}

/// Opens a source.
pub fn open(spec: &SourceSpec, options: &OpenOptions) -> Result<Box<dyn FrameSource>, CameraError> {
    Ok(match spec {
        SourceSpec::File(path) => Box::new(FfmpegSource::open_file(path, options)?),
        SourceSpec::Rtsp(url) => Box::new(FfmpegSource::open_rtsp(url, options)?),
        SourceSpec::V4l(spec) => Box::new(V4lSource::open(spec, options)?),
        SourceSpec::Synthetic => {
            Box::new(SyntheticSource::new(options, synthetic::Scene::default()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(
            "file:/a/b.avi".parse::<SourceSpec>().ok(),
            Some(SourceSpec::File("/a/b.avi".into()))
        );
        assert_eq!(
            "rtsp://cam.local/stream".parse::<SourceSpec>().ok(),
            Some(SourceSpec::Rtsp("rtsp://cam.local/stream".into()))
        );
        assert_eq!(
            "synthetic".parse::<SourceSpec>().ok(),
            Some(SourceSpec::Synthetic)
        );
        assert!(matches!(
            "v4l:/dev/video0?fps=30".parse::<SourceSpec>(),
            Ok(SourceSpec::V4l(_))
        ));
        for bad in ["", "file:", "/dev/video0", "http://x", "v4l:video0"] {
            assert!(bad.parse::<SourceSpec>().is_err(), "{bad}");
        }
    }
}
