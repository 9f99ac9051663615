//! Decoding and encoding video through ffmpeg over pipes (raw rgb24), so the generator needs no
//! codec or image crate.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::image::Rgb;

/// Frames of a video file, decoded by `ffmpeg` to rgb24, in order.
#[derive(Debug)]
pub struct Decoder {
    child: Child,
    out: BufReader<ChildStdout>,
    w: usize,
    h: usize,
}

impl Decoder {
    /// Starts decoding `path`, whose frames must be `w`x`h`.
    pub fn open(path: &Path, w: usize, h: usize) -> Result<Self> {
        if !path.is_file() {
            bail!(
                "{} is missing: run scripts/fetch-assets.sh first (it fetches the footage)",
                path.display()
            );
        }
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-i"])
            .arg(path)
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdout(Stdio::piped())
            .spawn()
            .context("starting ffmpeg to decode the footage (is ffmpeg installed? apt-get install ffmpeg)")?;
        let out =
            BufReader::with_capacity(w * h * 3, child.stdout.take().context("ffmpeg's stdout")?);
        Ok(Decoder { child, out, w, h })
    }

    /// The next frame, or `None` at the end.
    pub fn next_frame(&mut self) -> Result<Option<Rgb>> {
        let mut img = Rgb::new(self.w, self.h);
        let mut got = 0;
        while got < img.data.len() {
            let n = self
                .out
                .read(&mut img.data[got..])
                .context("reading decoded frames from ffmpeg")?;
            if n == 0 {
                break;
            }
            got += n;
        }
        match got {
            0 => Ok(None),
            n if n == img.data.len() => Ok(Some(img)),
            n => bail!(
                "ffmpeg gave a partial frame ({n} of {} bytes): is the footage {}x{}?",
                img.data.len(),
                self.w,
                self.h
            ),
        }
    }

    /// Waits for ffmpeg and fails if it did.
    pub fn finish(mut self) -> Result<()> {
        let status = self.child.wait().context("waiting for ffmpeg")?;
        if !status.success() {
            bail!("ffmpeg failed decoding the footage ({status})");
        }
        Ok(())
    }
}

/// An H.264 (libx264) Matroska file being written from rgb24 frames by `ffmpeg`.
#[derive(Debug)]
pub struct Encoder {
    child: Child,
    input: Option<BufWriter<ChildStdin>>,
}

impl Encoder {
    /// Starts writing `path` at `fps`, `w`x`h`: -crf 18, a key frame every 10 frames, yuv420p.
    pub fn create(path: &Path, w: usize, h: usize, fps: u32) -> Result<Self> {
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo"])
            .args(["-pix_fmt", "rgb24", "-s", &format!("{w}x{h}")])
            .args(["-r", &fps.to_string(), "-i", "-"])
            .args([
                "-c:v", "libx264", "-preset", "medium", "-crf", "18", "-g", "10",
            ])
            .args(["-pix_fmt", "yuv420p", "-threads", "2", "-f", "matroska"])
            .arg(path)
            .stdin(Stdio::piped())
            .spawn()
            .context("starting ffmpeg to encode a scene (is ffmpeg installed, with libx264?)")?;
        let input = BufWriter::new(child.stdin.take().context("ffmpeg's stdin")?);
        Ok(Encoder {
            child,
            input: Some(input),
        })
    }

    pub fn push(&mut self, img: &Rgb) -> Result<()> {
        self.input
            .as_mut()
            .context("encoder already finished")?
            .write_all(&img.data)
            .context("writing a frame to ffmpeg (did it exit? see its message above)")
    }

    /// Closes the input and waits for ffmpeg.
    pub fn finish(mut self) -> Result<()> {
        if let Some(mut input) = self.input.take() {
            input.flush().context("flushing frames to ffmpeg")?;
        }
        let status = self.child.wait().context("waiting for ffmpeg")?;
        if !status.success() {
            bail!("ffmpeg failed encoding a scene ({status})");
        }
        Ok(())
    }
}

/// Writes one image as PNG (through ffmpeg): for looking at plates and sprites.
pub fn write_png(path: &Path, img: &Rgb) -> Result<()> {
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo"])
        .args(["-pix_fmt", "rgb24", "-s", &format!("{}x{}", img.w, img.h)])
        .args(["-i", "-", "-frames:v", "1"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .context("starting ffmpeg to write a PNG")?;
    child
        .stdin
        .take()
        .context("ffmpeg's stdin")?
        .write_all(&img.data)
        .context("writing a PNG through ffmpeg")?;
    let status = child.wait().context("waiting for ffmpeg")?;
    if !status.success() {
        bail!("ffmpeg failed writing {} ({status})", path.display());
    }
    Ok(())
}
