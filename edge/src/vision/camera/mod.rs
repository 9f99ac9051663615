//! Frame sources behind one trait: ffmpeg for files and RTSP cameras, V4L2 for USB and CSI
//! cameras, and synthetic scenes.

mod ffmpeg;
pub mod synthetic;
pub mod v4l;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::counting_line::Line;
use super::detector::tiles;
use super::geometry::{BBox, Point};

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
    /// The part of the camera's picture this frame shows (normalised; [`BBox::FULL`] unless
    /// the source was opened on a region): what the detector finds in it is mapped out of it.
    pub region: BBox,
    /// The band along a long line, at the camera's resolution, delivered beside the frame when
    /// its region looks there in windows while a crowd fills one look (see [`Band`]).
    pub windows: Option<Box<Frame>>,
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

impl Frame {
    /// Frame `index` of its source, at `time` seconds, `size` pixels, showing `region` of the
    /// picture, without its pixels: for a detector that plays back what was found before (see
    /// [`crate::vision::detector::replayed`]).
    pub fn without_pixels(index: u64, time: f64, size: (u32, u32), region: BBox) -> Frame {
        Frame {
            index,
            time,
            captured: chrono::Utc::now(),
            width: size.0,
            height: size.1,
            rgb: vec![],
            region,
            windows: None,
        }
    }
}

#[cfg(test)]
impl Frame {
    /// A frame of one grey `value` all over, the first of its source, of the whole picture.
    pub fn grey(width: u32, height: u32, value: u8) -> Frame {
        Frame {
            rgb: vec![value; (width * height * 3) as usize],
            ..Frame::without_pixels(0, 0.0, (width, height), BBox::FULL)
        }
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
    /// Deliver only this part of the picture, scaled up to `width`×`height`: people near a
    /// short counting line are then bigger to the detector.
    pub region: Region,
}

/// The part of the picture a source delivers.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Region {
    /// All of it.
    #[default]
    Full,
    /// This part (normalised).
    Part(BBox),
    /// The part around these points (the counting lines' ends), `margin` (a share of the
    /// picture's height) beyond them, as square as the frames are (see [`BBox::around`]); a
    /// band along a long line as up to `tiles` detector windows side by side (see
    /// [`Region::frame_size`]), and, looked at in one window, as up to `crowd` windows
    /// while that one look comes back full (see [`Region::windows`]).
    Around {
        points: Vec<Point>,
        margin: f32,
        tiles: u32,
        crowd: u32,
    },
}

/// How far beyond the counting lines the detector looks by default (`lines`): a share of the
/// picture's height, tuned on the training set.
pub const LINES_MARGIN: f32 = 0.1;
/// How many detector windows side by side a band along a long line is looked at as, at most.
pub const LINES_TILES: u32 = 1;
/// The most windows `lines:N` may ask for.
pub const MAX_TILES: u32 = 8;
/// How many windows side by side `lines` looks at a long line's band in while a crowd fills one
/// look: as many as `lines:4`, which README measures on the crowd.
pub const CROWD_TILES: u32 = 4;

impl Region {
    /// Around the counting lines (their ends are added when the pipeline is set up).
    pub fn lines() -> Self {
        Region::Around {
            points: vec![],
            margin: LINES_MARGIN,
            tiles: LINES_TILES,
            crowd: CROWD_TILES,
        }
    }

    /// The band this region is also delivered as, in windows, for the looks after one that came
    /// back full: [`Region::Around`] in one window with `crowd` more than one; none for other
    /// regions, which are what they are whatever is in view. A source delivers it (as
    /// [`Frame::windows`]) only if it is wider than one window (see
    /// [`Region::windows_size`]).
    pub fn windows(&self) -> Option<Region> {
        match self {
            Region::Around {
                points,
                margin,
                tiles: 1,
                crowd,
            } if *crowd > 1 => Some(Region::Around {
                points: points.clone(),
                margin: *margin,
                tiles: *crowd,
                crowd: 1,
            }),
            _ => None,
        }
    }

    /// The band in windows (see [`Region::windows`]) and its frames' size, for a picture of
    /// `native` size and a detector whose input is `out`, if it is wider than one window.
    pub fn windows_size(
        &self,
        native: (u32, u32),
        out: (u32, u32),
    ) -> Option<(Region, (u32, u32))> {
        let band = self.windows()?;
        let size = band.frame_size(native, out);
        (size.0 > out.0).then_some((band, size))
    }

    /// With `points` as the ends of `lines` when it is [`Region::Around`] (the other kinds
    /// take no points).
    pub fn with_lines(mut self, lines: impl IntoIterator<Item = Line>) -> Self {
        if let Region::Around { points, .. } = &mut self {
            points.extend(lines.into_iter().flat_map(|l| [l.p1, l.p2]));
        }
        self
    }

    /// The size frames of this region are delivered at, for a detector whose input is `out`:
    /// `out`, or for a band along a long line (wider than it is tall, at least half the
    /// picture's height, see [`BBox::around`]), as many windows of `out` side by side as fill
    /// it (up to `tiles`, overlapping as [`tiles::OVERLAP`] says), so that people there are as
    /// big to the detector as near a short line.
    pub fn frame_size(&self, native: (u32, u32), out: (u32, u32)) -> (u32, u32) {
        let Region::Around {
            points,
            margin,
            tiles,
            ..
        } = self
        else {
            return out;
        };
        let (w, h) = BBox::band(points, *margin, native.0, native.1);
        if *tiles <= 1 || h <= 0.0 || out.1 == 0 {
            return out;
        }
        let across = (w / h) / (out.0 as f32 / out.1 as f32);
        (
            tiles::frame_width(out.0, tiles::filling(across).min(*tiles)),
            out.1,
        )
    }

    /// The part of a picture of `native` size delivered as frames of `out` size.
    pub fn resolve(&self, native: (u32, u32), out: (u32, u32)) -> BBox {
        match self {
            Region::Full => BBox::FULL,
            Region::Part(b) => b.clamped(),
            Region::Around { points, margin, .. } => BBox::around(
                points,
                *margin,
                out.0 as f32 / out.1.max(1) as f32,
                native.0,
                native.1,
            ),
        }
    }
}

impl FromStr for Region {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "{s:?} is not a region: use lines (around the counting line, in windows side by \
                 side while a crowd fills one look; lines:N always in at most N detector windows, \
                 lines:1 always in one), full (the whole picture) or x1,y1,x2,y2 (normalised, \
                 x1 < x2, y1 < y2)"
            )
        };
        if let Some(n) = s.trim().strip_prefix("lines:") {
            return match n.trim().parse::<u32>() {
                Ok(tiles @ 1..=MAX_TILES) => Ok(Region::Around {
                    points: vec![],
                    margin: LINES_MARGIN,
                    tiles,
                    crowd: 1,
                }),
                _ => Err(format!(
                    "{s:?}: lines:N looks at the part around the counting line in at most N \
                     detector windows side by side, N from 1 to {MAX_TILES}"
                )),
            };
        }
        match s.trim() {
            "lines" => Ok(Region::lines()),
            "full" => Ok(Region::Full),
            part => {
                let v: Vec<f32> = part
                    .split(',')
                    .map(|p| p.trim().parse::<f32>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad())?;
                match v[..] {
                    [x1, y1, x2, y2]
                        if v.iter().all(|c| (0.0..=1.0).contains(c)) && x1 < x2 && y1 < y2 =>
                    {
                        Ok(Region::Part(BBox::new(x1, y1, x2, y2)))
                    }
                    _ => Err(bad()),
                }
            }
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Region::Full => write!(f, "full"),
            Region::Part(b) => write!(f, "{},{},{},{}", b.x1, b.y1, b.x2, b.y2),
            Region::Around { tiles, crowd, .. }
                if *tiles == LINES_TILES && *crowd == CROWD_TILES =>
            {
                write!(f, "lines")
            }
            Region::Around { tiles, .. } => write!(f, "lines:{tiles}"),
        }
    }
}

/// The band in windows (see [`Region::windows`]) as a source hands it over beside each frame
/// (as [`Frame::windows`]): cut out at the camera's resolution and scaled only for the frames
/// looked at in windows (see [`crate::vision::windows`]), so that a thin scene does not pay for
/// scaling it. A band more than twice the windows' height is shrunk to twice it, to keep what
/// is handed over small.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// The part of the picture cut out, in whole pixels: x, y, width, height.
    pub cut: [u32; 4],
    /// The same, normalised.
    pub region: BBox,
    /// Its size as handed over.
    pub size: (u32, u32),
}

impl Band {
    /// The band `region` is also delivered as, for a picture of `native` size and a detector
    /// whose input is `out`, if any (see [`Region::windows_size`]).
    pub fn of(region: &Region, native: (u32, u32), out: (u32, u32)) -> Option<Band> {
        let (band, windows) = region.windows_size(native, out)?;
        // Even, as cameras' pictures come with colour at half resolution and are cut so.
        let ([x, y, w, h], _) = whole_pixels(band.resolve(native, windows), native);
        let cut = [x & !1, y & !1, (w & !1).max(2), (h & !1).max(2)];
        let region = normalised(cut, native);
        let size = if cut[3] > 2 * windows.1 {
            (2 * windows.0, 2 * windows.1)
        } else {
            (cut[2], cut[3])
        };
        Some(Band { cut, region, size })
    }
}

/// Part `r` of a picture of `native` size in whole pixels, at least 2×2 and inside it: x, y,
/// width, height; and the part that is, normalised.
pub fn whole_pixels(r: BBox, native: (u32, u32)) -> ([u32; 4], BBox) {
    let (pw, ph) = (native.0 as f32, native.1 as f32);
    let x = (r.x1 * pw).floor().clamp(0.0, pw - 2.0);
    let y = (r.y1 * ph).floor().clamp(0.0, ph - 2.0);
    let w = (r.width() * pw).round().clamp(2.0, pw - x);
    let h = (r.height() * ph).round().clamp(2.0, ph - y);
    let cut = [x as u32, y as u32, w as u32, h as u32];
    (cut, normalised(cut, native))
}

/// Pixels x, y, width, height of a picture of `native` size as a normalised part of it.
fn normalised([x, y, w, h]: [u32; 4], native: (u32, u32)) -> BBox {
    let (pw, ph) = (native.0 as f32, native.1 as f32);
    BBox::new(
        x as f32 / pw,
        y as f32 / ph,
        (x + w) as f32 / pw,
        (y + h) as f32 / ph,
    )
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

/// The size of the source's own picture, before any scaling.
pub fn native_size(spec: &SourceSpec) -> Result<(u32, u32), CameraError> {
    let options = OpenOptions {
        width: 16,
        height: 16,
        realtime: false,
        region: Region::Full,
    };
    Ok(open(spec, &options)?.native_size())
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

    #[test]
    fn parses_regions() {
        assert_eq!("full".parse::<Region>(), Ok(Region::Full));
        assert_eq!("lines".parse::<Region>(), Ok(Region::lines()));
        assert_eq!(
            "0.1,0.2,0.6,0.9".parse::<Region>(),
            Ok(Region::Part(BBox::new(0.1, 0.2, 0.6, 0.9)))
        );
        for bad in [
            "",
            "line",
            "0.1,0.2,0.6",
            "0.6,0.2,0.1,0.9",
            "0,0,1,1.5",
            "a,b,c,d",
        ] {
            let e = bad.parse::<Region>().expect_err(bad);
            assert!(e.contains("lines (around the counting line"), "{e}");
        }
        assert_eq!(Region::lines().to_string(), "lines");
        let four = "lines:4".parse::<Region>().expect("lines:4");
        assert!(matches!(four, Region::Around { tiles: 4, .. }), "{four:?}");
        assert_eq!(four.to_string(), "lines:4");
        assert_eq!(four.to_string().parse::<Region>(), Ok(four));
        for bad in ["lines:0", "lines:9", "lines:x", "lines:"] {
            let e = bad.parse::<Region>().expect_err(bad);
            assert!(e.contains("N from 1 to 8"), "{e}");
        }
    }

    #[test]
    fn a_band_along_a_long_line_comes_as_windows_side_by_side() {
        let around = |p1: (f32, f32), p2: (f32, f32), tiles: u32| Region::Around {
            points: vec![Point::new(p1.0, p1.1), Point::new(p2.0, p2.1)],
            margin: LINES_MARGIN,
            tiles,
            crowd: 1,
        };
        let hd = (1920, 1080);
        // Across the whole width of a 16:9 picture: a band 1920 x 540 px, four windows.
        let across = around((0.0, 0.45), (1.0, 0.45), 4);
        let size = across.frame_size(hd, (300, 300));
        assert_eq!(size, (975, 300));
        let part = across.resolve(hd, size);
        let (w, h) = (part.width() * 1920.0, part.height() * 1080.0);
        assert!((w - 1920.0).abs() < 1.0, "{part:?}");
        assert!(
            (w / h - 975.0 / 300.0).abs() < 0.01,
            "scaled alike both ways: {w}x{h}"
        );
        assert!(
            h < 1080.0 * 0.6,
            "people twice as big as in the whole picture: {h}"
        );
        // At most as many as asked; one by default. A short line, a steep one and other
        // regions: one window.
        let size = |r: Region| r.frame_size(hd, (300, 300));
        assert_eq!(size(around((0.0, 0.45), (1.0, 0.45), 2)), (525, 300));
        assert_eq!(size(around((0.0, 0.45), (1.0, 0.45), 1)), (300, 300));
        assert_eq!(size(around((0.4, 0.5), (0.6, 0.5), 4)), (300, 300));
        assert_eq!(size(around((0.5, 0.1), (0.5, 0.9), 4)), (300, 300));
        assert_eq!(size(Region::Full), (300, 300));
    }

    #[test]
    fn lines_looks_at_a_long_lines_band_in_windows_for_a_crowd_at_the_cameras_resolution() {
        let line = |s: &str| s.parse::<Line>().expect("line");
        let lines = Region::lines().with_lines([line("0,0.45,1,0.45")]);
        assert_eq!(lines.to_string(), "lines");
        let hd = (1920, 1080);
        let (band, size) = lines.windows_size(hd, (300, 300)).expect("a band");
        assert_eq!(size, (975, 300), "four windows, as lines:4 looks at it");
        assert!(
            matches!(
                band,
                Region::Around {
                    tiles: 4,
                    crowd: 1,
                    ..
                }
            ),
            "{band:?}"
        );
        // Handed over at the camera's resolution: 1920 x 591 px.
        let b = Band::of(&lines, hd, (300, 300)).expect("a band");
        assert_eq!(b.cut[2], 1920);
        assert_eq!(b.size, (b.cut[2], b.cut[3]));
        assert!((b.size.1 as f32 - 1920.0 / 3.25).abs() <= 2.0, "{b:?}");
        assert!(
            b.cut.iter().all(|v| v % 2 == 0),
            "even, as colour is cut: {b:?}"
        );
        let exact = band.resolve(hd, size);
        assert!(
            (b.region.y1 - exact.y1).abs() <= 2.0 / 1080.0 && b.region.x2 == exact.x2,
            "the band in whole pixels: {b:?}, {exact:?}"
        );
        // From a 4K camera, shrunk to twice the windows' size.
        let b = Band::of(&lines, (3840, 2160), (300, 300)).expect("a band");
        assert_eq!(b.size, (1950, 600));
        assert!(b.cut[3] > 1100, "{b:?}");
        // None for a short line (its band is one window), lines:N (always in windows), lines:1
        // (never) and other regions.
        let short = Region::lines().with_lines([line("0.4,0.5,0.6,0.5")]);
        assert_eq!(Band::of(&short, hd, (300, 300)), None);
        for other in ["lines:1", "lines:4", "full", "0,0.2,1,0.8"] {
            let r = other.parse::<Region>().expect("region");
            assert_eq!(r.to_string(), other);
            let r = r.with_lines([line("0,0.45,1,0.45")]);
            assert_eq!(r.windows(), None, "{other}");
            assert_eq!(Band::of(&r, hd, (300, 300)), None, "{other}");
        }
    }

    #[test]
    fn whole_pixels_stay_inside_the_picture() {
        let ([x, y, w, h], exact) = whole_pixels(BBox::new(0.1, 0.1, 0.5, 0.9), (768, 576));
        assert_eq!([x, y, w, h], [76, 57, 307, 461]);
        assert!((exact.x1 - 76.0 / 768.0).abs() < 1e-6 && (exact.y2 - 518.0 / 576.0).abs() < 1e-6);
        let ([x, y, w, h], _) = whole_pixels(BBox::new(0.999, 0.999, 1.0, 1.0), (768, 576));
        assert_eq!([x, y, w, h], [766, 574, 2, 2], "at least 2x2, inside");
    }

    #[test]
    fn a_region_around_a_short_line_is_square_in_pixels_and_inside_the_picture() {
        let short = Region::Around {
            points: vec![Point::new(0.66, 0.36), Point::new(0.66, 0.46)],
            margin: 0.15,
            tiles: 1,
            crowd: 1,
        };
        let r = short.resolve((768, 576), (300, 300));
        let (w, h) = (r.width() * 768.0, r.height() * 576.0);
        assert!((w - h).abs() < 1.0, "{r:?}: {w}x{h}");
        assert!(
            (h - 0.5 * 576.0).abs() < 1.0,
            "at least half the height: {r:?}"
        );
        let longer = Region::Around {
            points: vec![Point::new(0.5, 0.2), Point::new(0.5, 0.6)],
            margin: 0.1,
            tiles: 1,
            crowd: 1,
        };
        let r = longer.resolve((768, 576), (300, 300));
        assert!(
            (r.height() - 0.6).abs() < 1e-3,
            "the line and its margins: {r:?}"
        );
        assert!(
            r.x1 >= 0.0 && r.y1 >= 0.0 && r.x2 <= 1.0 && r.y2 <= 1.0,
            "{r:?}"
        );
        // By the picture's edge: shifted inside, not cut.
        let edge = Region::Around {
            points: vec![Point::new(0.95, 0.4), Point::new(0.95, 0.5)],
            margin: 0.15,
            tiles: 1,
            crowd: 1,
        };
        let r = edge.resolve((768, 576), (300, 300));
        assert!((r.x2 - 1.0).abs() < 1e-6 && (r.width() * 768.0 - r.height() * 576.0).abs() < 1.0);
        // A line across most of the picture: all of it.
        let long = Region::Around {
            points: vec![Point::new(0.1, 0.5), Point::new(0.9, 0.5)],
            margin: 0.15,
            tiles: 1,
            crowd: 1,
        };
        assert_eq!(long.resolve((768, 576), (300, 300)), BBox::FULL);
        assert_eq!(Region::lines().resolve((768, 576), (300, 300)), BBox::FULL);
    }
}
