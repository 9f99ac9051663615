//! Files and RTSP cameras through an `ffmpeg` subprocess that hands over raw RGB frames already
//! scaled to the detector's size (the way Frigate does).

use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Instant;

use super::{Band, CameraError, Frame, FrameSource, OpenOptions, whole_pixels};
use crate::vision::geometry::BBox;

/// What `ffprobe` says about a stream.
#[derive(Debug, Clone, PartialEq)]
struct Probe {
    width: u32,
    height: u32,
    fps: Option<f64>,
}

fn probe(input: &str, extra: &[&str]) -> Result<Probe, CameraError> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height,avg_frame_rate,r_frame_rate",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .args(extra)
        .arg(input)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| CameraError::Spawn {
            program: "ffprobe",
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .map(str::trim)
    };
    let rate = |v: &str| {
        let (n, d) = v.split_once('/').unwrap_or((v, "1"));
        let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
        (n > 0.0 && d > 0.0).then(|| n / d)
    };
    match (
        field("width").and_then(|w| w.parse().ok()),
        field("height").and_then(|h| h.parse().ok()),
    ) {
        (Some(width), Some(height)) if width > 0 && height > 0 => Ok(Probe {
            width,
            height,
            fps: field("avg_frame_rate")
                .and_then(rate)
                .or_else(|| field("r_frame_rate").and_then(rate)),
        }),
        _ => Err(CameraError::Open {
            source_name: input.to_owned(),
            reason: match String::from_utf8_lossy(&out.stderr).trim() {
                "" => "no video stream found".to_owned(),
                e => e.lines().last().unwrap_or(e).to_owned(),
            },
        }),
    }
}

/// ffmpeg's filter that cuts part `r` of the picture out, in whole pixels (none for all of it),
/// and the part it cuts exactly.
fn crop(probe: &Probe, r: BBox) -> (Option<String>, BBox) {
    if r == BBox::FULL {
        return (None, BBox::FULL);
    }
    let ([x, y, w, h], exact) = whole_pixels(r, (probe.width, probe.height));
    (Some(format!("crop={w}:{h}:{x}:{y}")), exact)
}

/// ffmpeg's filter that cuts the options' region out of the picture and scales it to the frame
/// size, and the region it cuts exactly.
fn crop_and_scale(probe: &Probe, options: &OpenOptions) -> (String, BBox) {
    let r = options
        .region
        .resolve((probe.width, probe.height), (options.width, options.height));
    let (cut, region) = crop(probe, r);
    let scale = format!("scale={}:{}", options.width, options.height);
    (join(cut.into_iter().chain([scale])), region)
}

/// Filters one after another.
fn join(filters: impl IntoIterator<Item = String>) -> String {
    filters.into_iter().collect::<Vec<_>>().join(",")
}

/// The filter that hands over the frame (`one`, `height` high) with the band beside it, on
/// its right, both padded to the taller's height; and the band.
fn with_band(
    probe: &Probe,
    one: &str,
    height: u32,
    options: &OpenOptions,
) -> Option<(String, Band)> {
    let native = (probe.width, probe.height);
    let band = Band::of(&options.region, native, (options.width, options.height))?;
    let [x, y, w, h] = band.cut;
    let cut = format!("crop={w}:{h}:{x}:{y}");
    let scale = (band.size != (band.cut[2], band.cut[3]))
        .then(|| format!("scale={}:{}:flags=bilinear", band.size.0, band.size.1));
    let tall = height.max(band.size.1);
    let pad = |h: u32| (h < tall).then(|| format!("pad=iw:{tall}"));
    let one = join([one.to_owned()].into_iter().chain(pad(height)));
    let chain = [cut]
        .into_iter()
        .chain(scale)
        .chain(["format=rgb24".into()]);
    let band_filter = join(chain.chain(pad(band.size.1)));
    Some((
        format!("split[one][band];[one]{one}[o];[band]{band_filter}[b];[o][b]hstack"),
        band,
    ))
}

/// Frames from an ffmpeg child process.
#[derive(Debug)]
pub struct FfmpegSource {
    name: String,
    child: Child,
    stdout: ChildStdout,
    probe: Probe,
    options: OpenOptions,
    /// The part of the picture ffmpeg cuts out.
    region: BBox,
    /// The band in windows ffmpeg hands over beside each frame.
    band: Option<Band>,
    index: u64,
    /// When the first frame arrived, for live timestamps.
    started: Option<Instant>,
    live: bool,
}

impl FfmpegSource {
    /// A file, played as fast as it decodes (or at its own rate with `realtime`).
    pub fn open_file(path: &Path, options: &OpenOptions) -> Result<Self, CameraError> {
        let name = path.display().to_string();
        if !path.is_file() {
            return Err(CameraError::Open {
                source_name: name,
                reason: "no such file".into(),
            });
        }
        let probe = probe(&name, &[])?;
        let pre: &[&str] = if options.realtime { &["-re"] } else { &[] };
        Self::spawn(name, pre, probe, options, false)
    }

    /// An RTSP camera, over TCP.
    pub fn open_rtsp(url: &str, options: &OpenOptions) -> Result<Self, CameraError> {
        let pre = ["-rtsp_transport", "tcp", "-timeout", "10000000"];
        let probe = probe(url, &pre)?;
        Self::spawn(url.to_owned(), &pre, probe, options, true)
    }

    fn spawn(
        name: String,
        pre: &[&str],
        probe: Probe,
        options: &OpenOptions,
        live: bool,
    ) -> Result<Self, CameraError> {
        let native = (probe.width, probe.height);
        let out = (options.width, options.height);
        // A band along a long line comes as several detector windows side by side.
        let (width, height) = options.region.frame_size(native, out);
        let options = &OpenOptions {
            width,
            height,
            ..options.clone()
        };
        let (filter, region) = crop_and_scale(&probe, options);
        // And, for the looks after a full one, as windows too: cut from the same decoded
        // picture and handed over beside it in one frame.
        let (filter, band) = match with_band(&probe, &filter, height, options) {
            Some((both, band)) => (both, Some(band)),
            None => (filter, None),
        };
        log::debug!("{name}: ffmpeg -vf {filter}");
        let mut child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
            .args(pre)
            .arg("-i")
            .arg(&name)
            .args([
                "-an", "-vf", &filter, "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| CameraError::Spawn {
                program: "ffmpeg",
                source,
            })?;
        let Some(stdout) = child.stdout.take() else {
            unreachable!("stdout is piped");
        };
        Ok(Self {
            name,
            child,
            stdout,
            probe,
            options: options.clone(),
            region,
            band,
            index: 0,
            started: None,
            live,
        })
    }

    fn stderr_tail(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut text);
        }
        text.lines().last().unwrap_or("ffmpeg ended").to_owned()
    }
}

impl FrameSource for FfmpegSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError> {
        let (w, h) = (self.options.width, self.options.height);
        let (bw, bh) = self.band.map_or((0, 0), |b| b.size);
        let tall = h.max(bh);
        let mut rgb = vec![0u8; ((w + bw) * tall * 3) as usize];
        let mut filled = 0;
        while filled < rgb.len() {
            match self.stdout.read(&mut rgb[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(CameraError::Broken {
                        source_name: self.name.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        if filled < rgb.len() {
            let status = self.child.wait().ok();
            if !self.live && status.is_some_and(|s| s.success()) {
                return Ok(None);
            }
            let reason = self.stderr_tail();
            return Err(CameraError::Broken {
                source_name: self.name.clone(),
                reason,
            });
        }
        let time = match (self.live, self.probe.fps) {
            (false, Some(fps)) => self.index as f64 / fps,
            _ => self
                .started
                .get_or_insert_with(Instant::now)
                .elapsed()
                .as_secs_f64(),
        };
        let captured = chrono::Utc::now();
        let windows = self.band.map(|band| {
            let (one, both) = (w as usize * 3, (w + bw) as usize * 3);
            let mut right = Vec::with_capacity((both - one) * bh as usize);
            for row in rgb.chunks_exact(both).take(bh as usize) {
                right.extend_from_slice(&row[one..]);
            }
            // The frame's rows moved up in place, over the band's.
            for y in 1..h as usize {
                rgb.copy_within(y * both..y * both + one, y * one);
            }
            rgb.truncate(one * h as usize);
            Box::new(Frame {
                index: self.index,
                time,
                captured,
                width: bw,
                height: bh,
                rgb: right,
                region: band.region,
                windows: None,
            })
        });
        let frame = Frame {
            index: self.index,
            captured,
            time,
            width: w,
            height: h,
            rgb,
            region: self.region,
            windows,
        };
        self.index += 1;
        Ok(Some(frame))
    }

    fn fps(&self) -> Option<f64> {
        self.probe.fps
    }

    fn native_size(&self) -> (u32, u32) {
        (self.probe.width, self.probe.height)
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
