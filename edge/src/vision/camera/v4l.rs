//! USB and CSI cameras through Video4Linux2 (the `v4l` crate): MJPEG decoded with zune-jpeg,
//! YUYV converted directly, both scaled to the detector's size with fast_image_resize.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use v4l::buffer::Type;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::{Device, FourCC};
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::{Band, CameraError, Frame, FrameSource, OpenOptions};
use crate::vision::geometry::BBox;

/// Pixel formats we ask the camera for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Mjpeg,
    Yuyv,
}

/// `v4l:/dev/video0?width=1280&height=720&fps=15&format=mjpeg`
#[derive(Debug, Clone, PartialEq)]
pub struct V4lSpec {
    pub device: PathBuf,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub format: PixelFormat,
}

impl V4lSpec {
    /// Reads what follows `v4l:`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (path, query) = s.split_once('?').unwrap_or((s, ""));
        if !path.starts_with("/dev/") {
            return Err(format!(
                "the V4L2 device must be a /dev path like /dev/video0, not {path:?}"
            ));
        }
        let mut spec = V4lSpec {
            device: path.into(),
            width: 1280,
            height: 720,
            fps: 15,
            format: PixelFormat::Mjpeg,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, not {pair:?}"))?;
            let num = || {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=8192).contains(n))
                    .ok_or_else(|| format!("{k} must be a positive number, not {v:?}"))
            };
            match k {
                "width" => spec.width = num()?,
                "height" => spec.height = num()?,
                "fps" => spec.fps = num()?,
                "format" => {
                    spec.format = match v {
                        "mjpeg" => PixelFormat::Mjpeg,
                        "yuyv" => PixelFormat::Yuyv,
                        _ => return Err(format!("format must be mjpeg or yuyv, not {v:?}")),
                    }
                }
                _ => {
                    return Err(format!(
                        "unknown V4L2 option {k:?}; use width, height, fps, format"
                    ));
                }
            }
        }
        Ok(spec)
    }
}

/// Converts packed YUYV (4:2:2) to RGB24 (BT.601, limited range).
pub fn yuyv_to_rgb(yuyv: &[u8], rgb: &mut Vec<u8>) {
    rgb.clear();
    rgb.reserve(yuyv.len() / 2 * 3);
    let px = |y: u8, u: f32, v: f32, out: &mut Vec<u8>| {
        let c = 1.164 * (y as f32 - 16.0);
        out.push((c + 1.596 * v).clamp(0.0, 255.0) as u8);
        out.push((c - 0.392 * u - 0.813 * v).clamp(0.0, 255.0) as u8);
        out.push((c + 2.017 * u).clamp(0.0, 255.0) as u8);
    };
    for q in yuyv.chunks_exact(4) {
        let (u, v) = (q[1] as f32 - 128.0, q[3] as f32 - 128.0);
        px(q[0], u, v, rgb);
        px(q[2], u, v, rgb);
    }
}

/// Decodes an MJPEG frame to RGB24 with its size.
pub fn decode_mjpeg(data: &[u8]) -> Result<(Vec<u8>, u32, u32), String> {
    let mut dec = JpegDecoder::new_with_options(
        data,
        DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB),
    );
    let rgb = dec
        .decode()
        .map_err(|e| format!("bad MJPEG frame: {e:?}"))?;
    let (w, h) = dec.dimensions().ok_or("MJPEG frame without dimensions")?;
    Ok((rgb, w as u32, h as u32))
}

/// Scales an RGB24 image.
pub fn resize(
    rgb: &[u8],
    (w, h): (u32, u32),
    region: &BBox,
    (dw, dh): (u32, u32),
    resizer: &mut Resizer,
) -> Result<Vec<u8>, String> {
    if (w, h) == (dw, dh) && *region == BBox::FULL {
        return Ok(rgb.to_vec());
    }
    let src = ImageRef::new(w, h, rgb, PixelType::U8x3).map_err(|e| e.to_string())?;
    let mut dst = Image::new(dw, dh, PixelType::U8x3);
    let (fw, fh) = (f64::from(w), f64::from(h));
    let options = ResizeOptions::new()
        .crop(
            f64::from(region.x1) * fw,
            f64::from(region.y1) * fh,
            f64::from(region.width()) * fw,
            f64::from(region.height()) * fh,
        )
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    resizer
        .resize(&src, &mut dst, &options)
        .map_err(|e| e.to_string())?;
    Ok(dst.into_vec())
}

/// The band cut out of an RGB24 image `w`×`h` big, at its own resolution unless it is to be
/// shrunk (see [`Band`]).
pub fn cut_out(
    rgb: &[u8],
    (w, h): (u32, u32),
    band: &Band,
    resizer: &mut Resizer,
) -> Result<Vec<u8>, String> {
    let [x, y, cw, ch] = band.cut;
    if (cw, ch) != band.size {
        return resize(rgb, (w, h), &band.region, band.size, resizer);
    }
    if x + cw > w || y + ch > h || rgb.len() < (w * h * 3) as usize {
        return Err(format!(
            "the band {cw}x{ch}+{x}+{y} is not inside a {w}x{h} frame"
        ));
    }
    let row = w as usize * 3;
    let (from, len) = (x as usize * 3, cw as usize * 3);
    let mut out = Vec::with_capacity(len * ch as usize);
    for r in rgb.chunks_exact(row).skip(y as usize).take(ch as usize) {
        out.extend_from_slice(&r[from..from + len]);
    }
    Ok(out)
}

/// Frames from a V4L2 device.
pub struct V4lSource {
    name: String,
    // Declared before the device so that it is dropped first.
    stream: Stream<'static>,
    _device: Device,
    format: PixelFormat,
    size: (u32, u32),
    fps: u32,
    out: (u32, u32),
    region: BBox,
    /// The band in windows delivered beside each frame.
    band: Option<Band>,
    resizer: Resizer,
    index: u64,
    started: Instant,
}

impl std::fmt::Debug for V4lSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "V4lSource({})", self.name)
    }
}

impl V4lSource {
    pub fn open(spec: &V4lSpec, options: &OpenOptions) -> Result<Self, CameraError> {
        let name = spec.device.display().to_string();
        let err = |reason: String| CameraError::Open {
            source_name: name.clone(),
            reason,
        };
        let device = Device::with_path(&spec.device).map_err(|e| {
            err(format!(
                "{e}; is the camera plugged in and is the user in the 'video' group?"
            ))
        })?;
        let mut fmt = device.format().map_err(|e| err(e.to_string()))?;
        fmt.width = spec.width;
        fmt.height = spec.height;
        fmt.fourcc = FourCC::new(match spec.format {
            PixelFormat::Mjpeg => b"MJPG",
            PixelFormat::Yuyv => b"YUYV",
        });
        let fmt = device.set_format(&fmt).map_err(|e| err(e.to_string()))?;
        let format = match &fmt.fourcc.repr {
            b"MJPG" => PixelFormat::Mjpeg,
            b"YUYV" => PixelFormat::Yuyv,
            other => {
                return Err(err(format!(
                    "the camera offers {} instead of {:?}; try format=yuyv or format=mjpeg",
                    String::from_utf8_lossy(other),
                    spec.format
                )));
            }
        };
        let params = device
            .set_params(&v4l::video::capture::Parameters::with_fps(spec.fps))
            .map_err(|e| err(e.to_string()))?;
        let fps = params
            .interval
            .denominator
            .checked_div(params.interval.numerator)
            .unwrap_or(spec.fps);
        let mut stream =
            Stream::with_buffers(&device, Type::VideoCapture, 4).map_err(|e| err(e.to_string()))?;
        // A band along a long line comes as several detector windows side by side, and, for the
        // looks after a full one, as windows beside the frame too.
        let (native, asked) = ((fmt.width, fmt.height), (options.width, options.height));
        let out = options.region.frame_size(native, asked);
        let band = Band::of(&options.region, native, asked);
        stream.set_timeout(Duration::from_secs(5));
        Ok(Self {
            name,
            stream,
            _device: device,
            format,
            size: (fmt.width, fmt.height),
            fps,
            out,
            region: options.region.resolve(native, out),
            band,
            resizer: Resizer::new(),
            index: 0,
            started: Instant::now(),
        })
    }
}

impl FrameSource for V4lSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError> {
        let broken = |reason: String| CameraError::Broken {
            source_name: self.name.clone(),
            reason,
        };
        let (buf, meta) = self.stream.next().map_err(|e| broken(e.to_string()))?;
        let data = &buf[..(meta.bytesused as usize).min(buf.len())];
        let (rgb, w, h) = match self.format {
            PixelFormat::Mjpeg => decode_mjpeg(data).map_err(broken)?,
            PixelFormat::Yuyv => {
                let mut rgb = Vec::new();
                yuyv_to_rgb(data, &mut rgb);
                (rgb, self.size.0, self.size.1)
            }
        };
        if rgb.len() != (w * h * 3) as usize {
            return Err(broken(format!(
                "frame of {} bytes does not match {w}x{h}",
                rgb.len()
            )));
        }
        let (captured, time) = (chrono::Utc::now(), self.started.elapsed().as_secs_f64());
        let windows = match self.band {
            Some(band) => Some(Box::new(Frame {
                index: self.index,
                captured,
                time,
                width: band.size.0,
                height: band.size.1,
                rgb: cut_out(&rgb, (w, h), &band, &mut self.resizer).map_err(broken)?,
                region: band.region,
                windows: None,
            })),
            None => None,
        };
        let frame = Frame {
            index: self.index,
            captured,
            time,
            width: self.out.0,
            height: self.out.1,
            rgb: resize(&rgb, (w, h), &self.region, self.out, &mut self.resizer).map_err(broken)?,
            region: self.region,
            windows,
        };
        self.index += 1;
        Ok(Some(frame))
    }

    fn fps(&self) -> Option<f64> {
        Some(self.fps as f64)
    }

    fn native_size(&self) -> (u32, u32) {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_specs() {
        let s =
            V4lSpec::parse("/dev/video2?width=640&height=480&fps=30&format=yuyv").expect("valid");
        assert_eq!(
            s,
            V4lSpec {
                device: "/dev/video2".into(),
                width: 640,
                height: 480,
                fps: 30,
                format: PixelFormat::Yuyv
            }
        );
        let d = V4lSpec::parse("/dev/video0").expect("defaults");
        assert_eq!(
            (d.width, d.height, d.fps, d.format),
            (1280, 720, 15, PixelFormat::Mjpeg)
        );
        for bad in [
            "video0",
            "/dev/video0?width=0",
            "/dev/video0?format=h264",
            "/dev/video0?zoom=2",
            "/dev/video0?width",
        ] {
            assert!(V4lSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn yuyv_grey_and_colour() {
        let mut rgb = Vec::new();
        yuyv_to_rgb(&[126, 128, 126, 128], &mut rgb);
        assert!(rgb.iter().all(|&c| (127..=129).contains(&c)), "{rgb:?}");
        yuyv_to_rgb(&[82, 90, 82, 240], &mut rgb);
        assert!(rgb[0] > 200 && rgb[1] < 40 && rgb[2] < 40, "red: {rgb:?}");
    }

    #[test]
    fn resizes_rgb() {
        let mut r = Resizer::new();
        let out = resize(&[200; 8 * 8 * 3], (8, 8), &BBox::FULL, (4, 2), &mut r).expect("resize");
        assert_eq!(out.len(), 4 * 2 * 3);
        assert!(out.iter().all(|&c| c == 200));
        assert!(decode_mjpeg(b"not a jpeg").is_err());
    }
}
