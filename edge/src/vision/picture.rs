//! The picture of what the camera sees, drawn on (boxes, track ids, the counting line with its
//! `in` arrow, the count) and encoded as JPEG: for the live view and the evidence of each count.

use std::fmt;

use embedded_graphics::Pixel;
use embedded_graphics::geometry::{Dimensions, OriginDimensions, Point as Px, Size};
use embedded_graphics::mono_font::ascii::{FONT_6X10, FONT_7X13_BOLD, FONT_9X15_BOLD};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::{DrawTarget, Drawable, PointsIter, Primitive};
use embedded_graphics::primitives::{
    Circle, Line as Segment, PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, StrokeAlignment,
    Triangle,
};
use embedded_graphics::text::{Baseline, Text};
use fast_image_resize::Resizer;

use super::camera::{Frame, v4l};
use super::counting_line::Line;
use super::geometry::{BBox, Point};
use super::tracker::TrackedObject;

/// The counting line and its `in` arrow.
pub const LINE_COLOUR: Rgb888 = Rgb888::new(255, 221, 0);
/// Tracked objects' boxes.
pub const BOX_COLOUR: Rgb888 = Rgb888::new(0, 230, 64);
/// A track's anchor path.
pub const PATH_COLOUR: Rgb888 = Rgb888::new(0, 230, 255);
/// Text (ids, the caption).
pub const TEXT_COLOUR: Rgb888 = Rgb888::new(255, 255, 255);
/// Behind text.
pub const DARK: Rgb888 = Rgb888::new(16, 16, 16);

/// A frame is scaled up at most this many times (its long side): more pixels would show no more.
const MAX_UPSCALE: u32 = 4;
/// The qualities [`jpeg_within`] tries, before it halves the picture.
const QUALITIES: [u8; 4] = [80, 65, 50, 35];

/// Why a picture could not be made. Each says what to check.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("the picture is empty ({width}x{height}): the source delivered no pixels; check it")]
    Empty { width: u32, height: u32 },
    #[error(
        "the picture's pixels do not match its size: {len} bytes for {width}x{height} RGB24, \
         which needs {expected}; the source delivered a broken frame"
    )]
    Pixels {
        width: u32,
        height: u32,
        len: usize,
        expected: usize,
    },
    #[error(
        "cannot draw the region {region:?} of a {}x{} camera at most {max_side} px a side: give \
         the camera's size, a region with an area and a size above 0",
        native.0, native.1
    )]
    Shape {
        region: BBox,
        native: (u32, u32),
        max_side: u32,
    },
    #[error(
        "the box {bbox:?} is empty or outside the picture (region {region:?}): crop one in view"
    )]
    Outside { bbox: BBox, region: BBox },
    #[error("cannot scale the picture: {0}")]
    Resize(String),
    #[error(
        "a {width}x{height} picture is too big for JPEG (65535 px a side at most): make it smaller"
    )]
    TooLarge { width: u32, height: u32 },
    #[error("JPEG encoding failed: {0}")]
    Encode(String),
    #[error(
        "no JPEG of the picture fits in {max_bytes} bytes (the smallest, {width}x{height} at \
         quality {quality}, takes {smallest}): allow more bytes"
    )]
    Budget {
        max_bytes: usize,
        width: u32,
        height: u32,
        quality: u8,
        smallest: usize,
    },
}

/// An RGB24 picture, row-major.
#[derive(Clone, PartialEq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl fmt::Debug for Picture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Picture {}x{}", self.width, self.height)
    }
}

impl Picture {
    /// The colour at (x, y), `None` outside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        self.rgb.get(i..i + 3).map(|p| [p[0], p[1], p[2]])
    }
}

/// What is drawn on a frame; all of it normalised to the camera's whole picture.
#[derive(Debug, Clone, Copy, Default)]
pub struct Marks<'a> {
    /// Boxes, each with its track's id.
    pub tracks: &'a [TrackedObject],
    /// Counting lines, each with an arrow pointing to its `in` side.
    pub lines: &'a [Line],
    /// Drawn in the top-left corner on a dark band, e.g. `in 12  out 3`.
    pub caption: Option<&'a str>,
    /// A track's anchor path (for evidence), drawn as a polyline; may be empty.
    pub path: &'a [Point],
}

/// The frame at the aspect of the part of the camera's picture it shows (`native` is the camera's
/// own size), its long side `max_side` px (at most 4 times the frame's own long side), with the
/// marks drawn on it.
pub fn render(
    frame: &Frame,
    native: (u32, u32),
    marks: &Marks,
    max_side: u32,
) -> Result<Picture, PictureError> {
    check(frame.width, frame.height, frame.rgb.len())?;
    let region = frame.region;
    let (rw, rh) = (
        region.width() * native.0 as f32,
        region.height() * native.1 as f32,
    );
    if !(rw > 0.0 && rh > 0.0 && rw.is_finite() && rh.is_finite()) || max_side == 0 {
        return Err(PictureError::Shape {
            region,
            native,
            max_side,
        });
    }
    let long = max_side
        .min(MAX_UPSCALE.saturating_mul(frame.width.max(frame.height)))
        .min(u32::from(u16::MAX));
    let short = |ratio: f32| ((long as f32 * ratio).round() as u32).clamp(1, long);
    let size = if rw >= rh {
        (long, short(rh / rw))
    } else {
        (short(rw / rh), long)
    };
    let rgb = scale(&frame.rgb, (frame.width, frame.height), size)?;
    let mut picture = Picture {
        width: size.0,
        height: size.1,
        rgb,
    };
    draw(&mut picture, &region, marks);
    Ok(picture)
}

/// Draws `marks` on `picture`, which shows `region` of the camera's picture. What lies partly
/// outside is clipped; nothing is drawn on a picture whose pixels do not match its size.
pub fn draw(picture: &mut Picture, region: &BBox, marks: &Marks) {
    if check(picture.width, picture.height, picture.rgb.len()).is_err() {
        return;
    }
    let (w, h) = (picture.width as f32, picture.height as f32);
    let long = picture.width.max(picture.height);
    // About 2 px at 640.
    let t = (long as f32 / 320.0).round().max(1.0);
    let (id_font, caption_font) = if long >= 480 {
        (&FONT_7X13_BOLD, &FONT_9X15_BOLD)
    } else {
        (&FONT_6X10, &FONT_6X10)
    };
    let to_px = |q: Point| {
        let b = BBox::new(q.x, q.y, q.x, q.y).in_region(region);
        (b.x1 * w, b.y1 * h)
    };
    let mut canvas = Canvas {
        width: picture.width,
        height: picture.height,
        rgb: &mut picture.rgb,
    };
    let c = &mut canvas;

    let stroke = |colour| {
        PrimitiveStyleBuilder::new()
            .stroke_color(colour)
            .stroke_width(t as u32)
            .stroke_alignment(StrokeAlignment::Inside)
            .build()
    };
    // Far-off coordinates are pulled in to just beyond the edge: what shows is the same.
    let m = 2.0 * t + 2.0;
    let px = |v: f32, max: f32| v.clamp(-m, max + m) as i32;
    let mut labels = Vec::new();
    for track in marks.tracks {
        let b = track.bbox.in_region(region);
        let (x1, y1) = (px(lo(b.x1 * w), w), px(lo(b.y1 * h), h));
        let (x2, y2) = (px(hi(b.x2 * w) - 1.0, w), px(hi(b.y2 * h) - 1.0, h));
        if x2 < x1 || y2 < y1 {
            continue;
        }
        let _ = Rectangle::with_corners(Px::new(x1, y1), Px::new(x2, y2))
            .into_styled(stroke(BOX_COLOUR))
            .draw(c);
        labels.push((track.id.to_string(), x1 + t as i32, y1 + t as i32));
    }

    let line = |c: &mut Canvas, a: (f32, f32), b: (f32, f32), colour| {
        let (a, b) = clip(a, b, (-m, -m, w + m, h + m))?;
        let _ = Segment::new(round(a), round(b))
            .into_styled(PrimitiveStyle::with_stroke(colour, t as u32))
            .draw(c);
        Some((a, b))
    };
    for pair in marks.path.windows(2) {
        line(c, to_px(pair[0]), to_px(pair[1]), PATH_COLOUR);
    }
    if let [only] = marks.path {
        let (x, y) = to_px(*only);
        if x.is_finite() && y.is_finite() {
            let d = (3.0 * t) as u32;
            let _ = Circle::with_center(Px::new(px(x, w), px(y, h)), d)
                .into_styled(PrimitiveStyle::with_fill(PATH_COLOUR))
                .draw(c);
        }
    }

    let len = (long as f32 * 0.05).round().max(10.0);
    let head = (len * 0.45).max(5.0);
    for l in marks.lines {
        let Some((a, b)) = line(c, to_px(l.p1), to_px(l.p2), LINE_COLOUR) else {
            continue;
        };
        // The right-hand normal of p1 → p2 with y down: where a crossing counts `in`.
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let norm = (dx * dx + dy * dy).sqrt();
        if norm < 1.0 {
            continue;
        }
        let (ux, uy) = (dx / norm, dy / norm);
        let (nx, ny) = (-uy, ux);
        let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        let at = |along: f32, across: f32| {
            (
                mid.0 + nx * along + ux * across,
                mid.1 + ny * along + uy * across,
            )
        };
        line(c, mid, at(len - head * 0.5, 0.0), LINE_COLOUR);
        let _ = Triangle::new(
            round(at(len, 0.0)),
            round(at(len - head, head / 2.0)),
            round(at(len - head, -head / 2.0)),
        )
        .into_styled(PrimitiveStyle::with_fill(LINE_COLOUR))
        .draw(c);
    }

    // Ids in their boxes' top-left corners, kept in the picture.
    for (id, x, y) in labels {
        label(c, &id, id_font, Px::new(x, y), 1);
    }
    if let Some(caption) = marks.caption {
        let pad = (t as i32) * 2;
        label(c, caption, caption_font, Px::new(pad, pad), pad);
    }
}

/// The part of `picture` around `bbox` (normalised to the whole camera picture; the picture shows
/// `region`), grown by `margin` times the box's size on each side and kept inside the picture:
/// the evidence thumbnail of a counted object.
pub fn crop(
    picture: &Picture,
    region: &BBox,
    bbox: &BBox,
    margin: f32,
) -> Result<Picture, PictureError> {
    check(picture.width, picture.height, picture.rgb.len())?;
    let (w, h) = (picture.width as f32, picture.height as f32);
    let b = bbox.in_region(region);
    let margin = margin.max(0.0);
    let (mx, my) = (b.width() * margin, b.height() * margin);
    let x1 = lo((b.x1 - mx) * w).clamp(0.0, w) as u32;
    let y1 = lo((b.y1 - my) * h).clamp(0.0, h) as u32;
    let x2 = hi((b.x2 + mx) * w).clamp(0.0, w) as u32;
    let y2 = hi((b.y2 + my) * h).clamp(0.0, h) as u32;
    if x2 <= x1 || y2 <= y1 {
        return Err(PictureError::Outside {
            bbox: *bbox,
            region: *region,
        });
    }
    let row = picture.width as usize * 3;
    let mut rgb = Vec::with_capacity((x2 - x1) as usize * (y2 - y1) as usize * 3);
    for y in y1..y2 {
        let start = y as usize * row + x1 as usize * 3;
        rgb.extend_from_slice(&picture.rgb[start..start + (x2 - x1) as usize * 3]);
    }
    Ok(Picture {
        width: x2 - x1,
        height: y2 - y1,
        rgb,
    })
}

/// JPEG of the picture at `quality` (1-100).
pub fn jpeg(picture: &Picture, quality: u8) -> Result<Vec<u8>, PictureError> {
    check(picture.width, picture.height, picture.rgb.len())?;
    let (Ok(w), Ok(h)) = (u16::try_from(picture.width), u16::try_from(picture.height)) else {
        return Err(PictureError::TooLarge {
            width: picture.width,
            height: picture.height,
        });
    };
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(&picture.rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| PictureError::Encode(e.to_string()))?;
    Ok(out)
}

/// A JPEG and its size in pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jpeg {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// JPEG no bigger than `max_bytes`: at lower and lower quality, then halved until it fits. An
/// error only if not even a 1x1 one does.
pub fn jpeg_within(picture: &Picture, max_bytes: usize) -> Result<Jpeg, PictureError> {
    let fits = |bytes: Vec<u8>, p: &Picture| {
        (bytes.len() <= max_bytes).then_some(Jpeg {
            bytes,
            width: p.width,
            height: p.height,
        })
    };
    for quality in QUALITIES {
        if let Some(j) = fits(jpeg(picture, quality)?, picture) {
            return Ok(j);
        }
    }
    let quality = QUALITIES[QUALITIES.len() - 1];
    let mut small = picture.clone();
    loop {
        if small.width == 1 && small.height == 1 {
            return Err(PictureError::Budget {
                max_bytes,
                width: 1,
                height: 1,
                quality,
                smallest: jpeg(&small, quality)?.len(),
            });
        }
        let size = ((small.width / 2).max(1), (small.height / 2).max(1));
        small = Picture {
            width: size.0,
            height: size.1,
            rgb: scale(&small.rgb, (small.width, small.height), size)?,
        };
        if let Some(j) = fits(jpeg(&small, quality)?, &small) {
            return Ok(j);
        }
    }
}

/// That a `width`×`height` RGB24 picture has pixels and `len` bytes of them.
fn check(width: u32, height: u32, len: usize) -> Result<(), PictureError> {
    if width == 0 || height == 0 {
        return Err(PictureError::Empty { width, height });
    }
    let expected = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(3));
    if expected != Some(len) {
        return Err(PictureError::Pixels {
            width,
            height,
            len,
            expected: expected.unwrap_or(usize::MAX),
        });
    }
    Ok(())
}

/// Scales RGB24 pixels from `from` to `to` (bilinear, as the USB camera's frames are).
fn scale(rgb: &[u8], from: (u32, u32), to: (u32, u32)) -> Result<Vec<u8>, PictureError> {
    v4l::resize(rgb, from, &BBox::FULL, to, &mut Resizer::new()).map_err(PictureError::Resize)
}

/// The part of segment a–b inside the rectangle (x0, y0, x1, y1) (Liang–Barsky), `None` if none
/// of it is.
fn clip(
    a: (f32, f32),
    b: (f32, f32),
    (x0, y0, x1, y1): (f32, f32, f32, f32),
) -> Option<((f32, f32), (f32, f32))> {
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f32, 1.0f32);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else if p < 0.0 {
            t0 = t0.max(q / p);
        } else {
            t1 = t1.min(q / p);
        }
    }
    (t0 <= t1).then_some({
        (
            (a.0 + t0 * dx, a.1 + t0 * dy),
            (a.0 + t1 * dx, a.1 + t1 * dy),
        )
    })
}

/// The first pixel from `v` on, and the pixel edge after `v`: `v` a pixel edge give or take
/// rounding.
fn lo(v: f32) -> f32 {
    (v + 1e-3).floor()
}

fn hi(v: f32) -> f32 {
    (v - 1e-3).ceil()
}

fn round((x, y): (f32, f32)) -> Px {
    Px::new(x.floor() as i32, y.floor() as i32)
}

/// `text` in white on a dark box `pad` px around it, at `at` (its top-left) moved into the
/// picture.
fn label(c: &mut Canvas, text: &str, font: &MonoFont, at: Px, pad: i32) {
    let style = MonoTextStyle::new(font, TEXT_COLOUR);
    let size = Text::with_baseline(text, Px::zero(), style, Baseline::Top)
        .bounding_box()
        .size;
    let (w, h) = (size.width as i32 + pad, size.height as i32 + pad);
    let x = at.x.clamp(pad, (c.width as i32 - w).max(pad));
    let y = at.y.clamp(pad, (c.height as i32 - h).max(pad));
    let band = Rectangle::new(
        Px::new(x - pad, y - pad),
        Size::new(size.width + 2 * pad as u32, size.height + 2 * pad as u32),
    );
    let _ = c.fill_solid(&band, DARK);
    let _ = Text::with_baseline(text, Px::new(x, y), style, Baseline::Top).draw(c);
}

/// An RGB24 buffer to draw on; pixels outside it are dropped.
struct Canvas<'a> {
    width: u32,
    height: u32,
    rgb: &'a mut [u8],
}

impl Canvas<'_> {
    fn set(&mut self, x: i32, y: i32, c: Rgb888) {
        if x < 0 || y < 0 || x as u32 >= self.width || y as u32 >= self.height {
            return;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        if let Some(p) = self.rgb.get_mut(i..i + 3) {
            p.copy_from_slice(&[c.r(), c.g(), c.b()]);
        }
    }
}

impl OriginDimensions for Canvas<'_> {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for Canvas<'_> {
    type Color = Rgb888;
    type Error = std::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        for Pixel(p, c) in pixels {
            self.set(p.x, p.y, c);
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, c: Rgb888) -> Result<(), Self::Error> {
        let area = area.intersection(&self.bounding_box());
        for p in area.points() {
            self.set(p.x, p.y, c);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::camera::v4l::decode_mjpeg;

    const CAMERA: (u32, u32) = (768, 576);

    fn frame(width: u32, height: u32, value: u8, region: BBox) -> Frame {
        Frame {
            region,
            ..Frame::grey(width, height, value)
        }
    }

    fn is(p: Option<[u8; 3]>, c: Rgb888) -> bool {
        p == Some([c.r(), c.g(), c.b()])
    }

    /// The pixels of colour `c`.
    fn find(p: &Picture, c: Rgb888) -> Vec<(u32, u32)> {
        (0..p.height)
            .flat_map(|y| (0..p.width).map(move |x| (x, y)))
            .filter(|&(x, y)| is(p.pixel(x, y), c))
            .collect()
    }

    fn lines(lines: &[Line]) -> Marks<'_> {
        Marks {
            lines,
            ..Marks::default()
        }
    }

    #[test]
    fn jpeg_decodes_to_the_same_size_and_colour() {
        for (w, h) in [(64, 48), (37, 21)] {
            let colour = [200u8, 100, 50];
            let picture = Picture {
                width: w,
                height: h,
                rgb: colour.repeat((w * h) as usize),
            };
            let bytes = jpeg(&picture, 90).unwrap();
            let (rgb, dw, dh) = decode_mjpeg(&bytes).unwrap();
            assert_eq!((dw, dh), (w, h));
            for (i, (&got, &want)) in rgb.iter().zip(colour.iter().cycle()).enumerate() {
                assert!(got.abs_diff(want) <= 6, "byte {i}: {got} for {want}");
            }
        }
    }

    #[test]
    fn render_keeps_the_aspect_of_the_part_of_the_picture_it_shows() {
        let none = Marks::default();
        let full = render(&frame(300, 300, 0, BBox::FULL), CAMERA, &none, 640).unwrap();
        assert_eq!((full.width, full.height), (640, 480));
        assert_eq!(full.rgb.len(), 640 * 480 * 3);
        // Half the width of a 4:3 camera: 384x576 px of it, 2:3.
        let half = BBox::new(0.25, 0.0, 0.75, 1.0);
        let part = render(&frame(300, 300, 0, half), CAMERA, &none, 640).unwrap();
        assert_eq!((part.width, part.height), (427, 640));
        // A 300 px frame is not blown up to 10000 px.
        let big = render(&frame(300, 300, 0, BBox::FULL), CAMERA, &none, 10_000).unwrap();
        assert_eq!((big.width, big.height), (1200, 900));
    }

    #[test]
    fn the_line_is_drawn_with_its_arrow_on_the_side_that_counts_in() {
        let across = Line {
            p1: Point::new(0.0, 0.5),
            p2: Point::new(1.0, 0.5),
        };
        let p = render(
            &frame(300, 300, 0, BBox::FULL),
            CAMERA,
            &lines(&[across]),
            640,
        )
        .unwrap();
        assert!((238..=242).any(|y| is(p.pixel(100, y), LINE_COLOUR)));
        assert!(!is(p.pixel(100, 230), LINE_COLOUR) && !is(p.pixel(100, 250), LINE_COLOUR));
        let count = |p: &Picture, ys: std::ops::Range<u32>| {
            ys.flat_map(|y| (300..340).map(move |x| (x, y)))
                .filter(|&(x, y)| is(p.pixel(x, y), LINE_COLOUR))
                .count()
        };
        // Left to right: `in` is below (larger y).
        assert!(count(&p, 246..280) > 20, "no arrow below");
        assert_eq!(count(&p, 200..235), 0, "an arrow above");
        let back = Line {
            p1: across.p2,
            p2: across.p1,
        };
        let p = render(
            &frame(300, 300, 0, BBox::FULL),
            CAMERA,
            &lines(&[back]),
            640,
        )
        .unwrap();
        assert!(count(&p, 200..235) > 20, "no arrow above");
        assert_eq!(count(&p, 246..280), 0, "an arrow below");

        // Whatever the line's direction, and in a region, the arrow is where the counter says
        // `in` is.
        let region = BBox::new(0.2, 0.1, 0.8, 0.9);
        for (a, b) in [
            ((0.5, 0.2), (0.5, 0.8)),
            ((0.3, 0.7), (0.7, 0.3)),
            ((0.7, 0.6), (0.3, 0.4)),
        ] {
            let l = Line {
                p1: Point::new(a.0, a.1),
                p2: Point::new(b.0, b.1),
            };
            let p = render(&frame(300, 300, 0, region), CAMERA, &lines(&[l]), 640).unwrap();
            let (w, h) = (p.width as f32, p.height as f32);
            let arrow: Vec<f32> = find(&p, LINE_COLOUR)
                .into_iter()
                .map(|(x, y)| {
                    let q = Point::new(
                        region.x1 + (x as f32 + 0.5) / w * region.width(),
                        region.y1 + (y as f32 + 0.5) / h * region.height(),
                    );
                    // In pixels of the picture.
                    l.signed_distance(q) * w / region.width()
                })
                .filter(|d| d.abs() > 5.0)
                .collect();
            assert!(arrow.len() > 20, "{l:?}: no arrow");
            assert!(
                arrow.iter().all(|&d| d > 0.0),
                "{l:?}: arrow on the out side"
            );
        }
    }

    #[test]
    fn boxes_land_where_their_whole_picture_coordinates_say() {
        let half = BBox::new(0.25, 0.0, 0.75, 1.0);
        let tracks = [TrackedObject {
            id: 7,
            class: 0,
            score: 0.9,
            bbox: BBox::new(0.5, 0.5, 0.6, 0.7),
        }];
        let marks = Marks {
            tracks: &tracks,
            ..Marks::default()
        };
        let p = render(&frame(300, 300, 0, half), CAMERA, &marks, 640).unwrap();
        let green = find(&p, BOX_COLOUR);
        let (w, h) = (p.width as f32, p.height as f32);
        let near = |got: u32, want: f32| (got as f32 - want).abs() <= 2.0;
        let xs = green.iter().map(|g| g.0);
        let ys = green.iter().map(|g| g.1);
        let (x1, x2) = (xs.clone().min().unwrap(), xs.max().unwrap());
        let (y1, y2) = (ys.clone().min().unwrap(), ys.max().unwrap());
        assert!(
            near(x1, 0.5 * w) && near(x2, 0.7 * w),
            "x {x1}..{x2} of {w}"
        );
        assert!(
            near(y1, 0.5 * h) && near(y2, 0.7 * h),
            "y {y1}..{y2} of {h}"
        );
        // Its id, white on dark, inside it.
        let inside = |(x, y): &(u32, u32)| (x1..x2).contains(x) && (y1..y2).contains(y);
        assert!(find(&p, TEXT_COLOUR).iter().filter(|q| inside(q)).count() > 5);

        // Partly outside the region: clipped, not dropped.
        let tracks = [TrackedObject {
            bbox: BBox::new(0.1, 0.2, 0.4, 0.6),
            ..tracks[0]
        }];
        let marks = Marks {
            tracks: &tracks,
            ..Marks::default()
        };
        let p = render(&frame(300, 300, 0, half), CAMERA, &marks, 640).unwrap();
        let top = (0.2 * h) as u32;
        assert!(is(p.pixel(0, top), BOX_COLOUR) && is(p.pixel(100, top), BOX_COLOUR));
        let right = (0.3 * w).ceil() as u32 - 1;
        assert!(is(p.pixel(right, (0.4 * h) as u32), BOX_COLOUR));
        assert!(
            !is(p.pixel(0, (0.4 * h) as u32), BOX_COLOUR),
            "left edge is out"
        );
    }

    #[test]
    fn the_caption_and_path_are_drawn() {
        let path = [
            Point::new(0.2, 0.9),
            Point::new(0.5, 0.6),
            Point::new(2.0, 0.6),
        ];
        let marks = Marks {
            caption: Some("in 12  out 3"),
            path: &path,
            ..Marks::default()
        };
        let p = render(&frame(300, 300, 128, BBox::FULL), CAMERA, &marks, 640).unwrap();
        let corner = |q: &(u32, u32)| q.0 < 150 && q.1 < 30;
        assert!(find(&p, DARK).iter().filter(|q| corner(q)).count() > 100);
        assert!(find(&p, TEXT_COLOUR).iter().filter(|q| corner(q)).count() > 50);
        // The path's second leg runs off the picture's right edge.
        assert!(is(p.pixel(639, (0.6 * 480.0) as u32), PATH_COLOUR));
        assert!((357..=363).any(|y| is(p.pixel(224, y), PATH_COLOUR)));
    }

    #[test]
    fn crop_is_the_box_and_its_margin_inside_the_picture() {
        // Each pixel says where it is: r = x, g = y.
        let (w, h) = (200u32, 100u32);
        let picture = Picture {
            width: w,
            height: h,
            rgb: (0..h)
                .flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, 0]))
                .collect(),
        };
        let c = crop(&picture, &BBox::FULL, &BBox::new(0.4, 0.4, 0.6, 0.6), 0.5).unwrap();
        assert_eq!((c.width, c.height), (80, 40));
        assert_eq!(c.pixel(0, 0), Some([60, 30, 0]));
        assert_eq!(c.pixel(79, 39), Some([139, 69, 0]));
        // At the corner: cut at the picture's edges.
        let c = crop(&picture, &BBox::FULL, &BBox::new(0.9, 0.9, 1.0, 1.0), 0.5).unwrap();
        assert_eq!((c.width, c.height), (30, 15));
        assert_eq!(c.pixel(29, 14), Some([199, 99, 0]));
        // The picture shows the right half of the camera's.
        let right = BBox::new(0.5, 0.0, 1.0, 1.0);
        let c = crop(&picture, &right, &BBox::new(0.6, 0.2, 0.7, 0.4), 0.0).unwrap();
        assert_eq!((c.width, c.height), (40, 20));
        assert_eq!(c.pixel(0, 0), Some([40, 20, 0]));
        let e = crop(&picture, &right, &BBox::new(0.1, 0.2, 0.3, 0.4), 0.2).unwrap_err();
        assert!(e.to_string().contains("outside the picture"), "{e}");
    }

    #[test]
    fn jpeg_within_fits_a_small_budget_or_says_why_not() {
        let mut seed = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..640 * 480 * 3)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let picture = Picture {
            width: 640,
            height: 480,
            rgb: noise,
        };
        assert!(jpeg(&picture, 80).unwrap().len() > 20_000, "not a test");
        let small = jpeg_within(&picture, 20_000).unwrap();
        assert!(small.bytes.len() <= 20_000, "{}", small.bytes.len());
        let (_, w, h) = decode_mjpeg(&small.bytes).unwrap();
        assert!(w > 1 && w <= 640 && h <= 480, "{w}x{h}");
        assert_eq!((small.width, small.height), (w, h), "the size it says");
        // Within a generous budget: full size.
        let full = jpeg_within(&picture, 10_000_000).unwrap();
        let (_, w, h) = decode_mjpeg(&full.bytes).unwrap();
        assert_eq!((w, h, full.width, full.height), (640, 480, 640, 480));
        let e = jpeg_within(&picture, 100).unwrap_err();
        assert!(matches!(e, PictureError::Budget { .. }), "{e:?}");
        assert!(e.to_string().contains("allow more bytes"), "{e}");
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let none = Marks::default();
        let mut short = frame(300, 300, 0, BBox::FULL);
        short.rgb.truncate(1000);
        let e = render(&short, CAMERA, &none, 640).unwrap_err();
        assert!(matches!(e, PictureError::Pixels { len: 1000, .. }), "{e:?}");
        assert!(e.to_string().contains("broken frame"), "{e}");
        let e = render(&frame(0, 0, 0, BBox::FULL), CAMERA, &none, 640).unwrap_err();
        assert!(matches!(e, PictureError::Empty { .. }), "{e:?}");
        for (native, region, max_side) in [
            ((0, 0), BBox::FULL, 640),
            (CAMERA, BBox::new(0.5, 0.5, 0.5, 0.9), 640),
            (CAMERA, BBox::FULL, 0),
        ] {
            let e = render(&frame(8, 8, 0, region), native, &none, max_side).unwrap_err();
            assert!(matches!(e, PictureError::Shape { .. }), "{e:?}");
        }
        let broken = Picture {
            width: 10,
            height: 10,
            rgb: vec![0; 7],
        };
        assert!(jpeg(&broken, 80).is_err());
        assert!(jpeg_within(&broken, 10_000).is_err());
        assert!(crop(&broken, &BBox::FULL, &BBox::FULL, 0.0).is_err());
        // Marks far off or not numbers are clipped away.
        let wild = [Line {
            p1: Point::new(-1e30, 0.5),
            p2: Point::new(f32::NAN, 1e30),
        }];
        let p = render(&frame(8, 8, 0, BBox::FULL), CAMERA, &lines(&wild), 32).unwrap();
        assert!(find(&p, LINE_COLOUR).is_empty());
    }
}
