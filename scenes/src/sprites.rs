//! People cut out of the footage: each a short walk cycle of consecutive cutouts (foreground =
//! difference to the clean plate, cleaned up, restricted to a box that follows the person),
//! aligned at the feet so that a scripted feet point places them and their legs still move.

use anyhow::{Context, Result, bail};

use crate::image::Rgb;

/// One person in vtest.avi, chosen by eye where they are well apart from everyone else.
#[derive(Debug, Clone, Copy)]
pub struct SpriteSpec {
    pub name: &'static str,
    pub who: &'static str,
    /// First frame of the cycle in the footage, and how many consecutive frames it has.
    pub first: usize,
    pub frames: usize,
    /// `[x0, y0, x1, y1]` around the person at the first and at the last frame of the cycle; the
    /// box of each frame between is interpolated, so it follows the person and no one else.
    pub box_first: [usize; 4],
    pub box_last: [usize; 4],
}

/// The people used, with where they are in vtest.avi (768x576, 10 fps). Letters in brackets are
/// the people of `edge/tests/data/vtest_ground_truth.json` where they are known.
pub const SPECS: &[SpriteSpec] = &[
    SpriteSpec {
        name: "navy",
        // Walking left on the road in the footage.
        who: "man in navy striped sweater and jeans (I)",
        first: 180,
        frames: 12,
        box_first: [335, 195, 420, 302],
        box_last: [245, 190, 330, 296],
    },
    SpriteSpec {
        name: "glasses",
        // Walking right and down the square in the footage.
        who: "man with glasses, black jacket and jeans",
        first: 184,
        frames: 12,
        box_first: [500, 220, 585, 333],
        box_last: [565, 250, 655, 375],
    },
    SpriteSpec {
        name: "hood",
        // Walking left on the far road in the footage.
        who: "woman in pale-blue hooded jacket with a shoulder bag (G)",
        first: 180,
        frames: 12,
        box_first: [188, 150, 245, 236],
        box_last: [120, 145, 182, 229],
    },
    SpriteSpec {
        name: "black",
        // Walking right and down the square in the footage.
        who: "man dressed all in black",
        first: 180,
        frames: 12,
        box_first: [578, 212, 640, 312],
        box_last: [640, 228, 705, 336],
    },
    SpriteSpec {
        name: "papers",
        // Walking right near the grass in the footage.
        who: "man in black carrying white papers",
        first: 380,
        frames: 12,
        box_first: [550, 255, 625, 382],
        box_last: [625, 280, 705, 402],
    },
    SpriteSpec {
        name: "red",
        // Walking left across the square in the footage.
        who: "woman in red jacket and jeans (Q)",
        first: 432,
        frames: 12,
        box_first: [650, 265, 730, 372],
        box_last: [570, 250, 650, 358],
    },
    SpriteSpec {
        name: "blonde",
        // Walking left and away on the grass in the footage.
        who: "blonde woman in a long black coat (E)",
        first: 668,
        frames: 12,
        box_first: [210, 315, 310, 470],
        box_last: [130, 300, 235, 458],
    },
    SpriteSpec {
        name: "bluebag",
        // Walking left and up in the footage.
        who: "grey-haired man in blue jacket carrying a paper bag (Y)",
        first: 664,
        frames: 12,
        box_first: [605, 272, 695, 404],
        box_last: [485, 242, 570, 366],
    },
    SpriteSpec {
        name: "puffer",
        // Walking away up the square in the footage.
        who: "man in red and navy puffer jacket (D)",
        first: 630,
        frames: 12,
        box_first: [600, 230, 680, 336],
        box_last: [625, 205, 700, 306],
    },
];

/// Sum over the channels of the absolute difference to the plate above which a pixel is the
/// person's.
pub const THRESHOLD: u32 = 60;

/// One cut-out frame of a person: colour premultiplied by alpha, and where the feet are.
#[derive(Debug, Clone)]
pub struct Cutout {
    pub w: usize,
    pub h: usize,
    /// Premultiplied colour and alpha (0..1), row by row.
    pub pm: Vec<[f32; 3]>,
    pub alpha: Vec<f32>,
    /// The feet in cutout coordinates: x the middle between the feet (the mask's lowest rows),
    /// y the bottom edge of the mask.
    pub feet: (f64, f64),
    /// Mask height in pixels.
    pub height: f64,
    /// The feet in footage coordinates.
    pub src_feet: (f64, f64),
    /// How far apart the feet are (width of the mask's lowest rows), for picking a standing pose.
    pub stride: f64,
}

impl Cutout {
    /// The box of the mask (alpha at least a half) in cutout coordinates (x1, y1, x2, y2), if
    /// any pixel is in it.
    pub fn mask_box(&self) -> Option<[f64; 4]> {
        let mut b = None;
        for (i, a) in self.alpha.iter().enumerate() {
            if *a >= 0.5 {
                b = Some(crate::image::grown(b, i % self.w, i / self.w));
            }
        }
        b
    }

    /// Bilinear sample of (premultiplied colour, alpha) at continuous cutout coordinates;
    /// transparent outside.
    pub fn sample(&self, x: f64, y: f64) -> ([f32; 3], f32) {
        let fx = x - 0.5;
        let fy = y - 0.5;
        let x0 = fx.floor();
        let y0 = fy.floor();
        let ax = (fx - x0) as f32;
        let ay = (fy - y0) as f32;
        let mut c = [0.0f32; 3];
        let mut a = 0.0f32;
        for (dy, wy) in [(0, 1.0 - ay), (1, ay)] {
            for (dx, wx) in [(0, 1.0 - ax), (1, ax)] {
                let px = x0 as i64 + dx;
                let py = y0 as i64 + dy;
                if px < 0 || py < 0 || px >= self.w as i64 || py >= self.h as i64 {
                    continue;
                }
                let i = py as usize * self.w + px as usize;
                let wgt = wx * wy;
                a += self.alpha[i] * wgt;
                for (ck, pk) in c.iter_mut().zip(self.pm[i]) {
                    *ck += pk * wgt;
                }
            }
        }
        (c, a)
    }
}

/// A person as a walk cycle.
#[derive(Debug, Clone)]
pub struct Sprite {
    pub name: &'static str,
    pub who: &'static str,
    pub cycle: Vec<Cutout>,
    /// Mean feet height in the footage (for the perspective scale) and mean mask height.
    pub src_feet_y: f64,
    pub height: f64,
    /// Mean feet movement per frame in the footage, in pixels, and its mean x direction (+1
    /// right, -1 left): the cycle is mirrored for walking the other way.
    pub step: f64,
    pub heading_x: f64,
    /// The cutout with the feet closest together: shown while standing.
    pub stand: usize,
}

/// The person in `frame` (inside `bx`), as the largest blob differing from `plate`, cleaned up.
/// `None` if nothing in the box differs.
pub fn cut(frame: &Rgb, plate: &Rgb, bx: [usize; 4]) -> Option<Cutout> {
    let [x0, y0, x1, y1] = bx;
    let (x1, y1) = (x1.min(frame.w), y1.min(frame.h));
    let (w, h) = (x1.checked_sub(x0)?, y1.checked_sub(y0)?);
    let mut mask = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let a = frame.px(x0 + x, y0 + y);
            let b = plate.px(x0 + x, y0 + y);
            let d: u32 = (0..3).map(|c| u32::from(a[c].abs_diff(b[c]))).sum();
            mask[y * w + x] = d > THRESHOLD && !shadow(a, b);
        }
    }
    // Close small gaps (a limb of the plate's colour), open away specks, keep the person.
    let mask = erode(&dilate(&mask, w, h, 2), w, h, 2);
    let mask = dilate(&erode(&mask, w, h, 1), w, h, 1);
    let mask = fill_holes(&largest_blob(&mask, w, h), w, h);
    let (mut bx0, mut by0, mut bx1, mut by1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..h {
        for x in 0..w {
            if mask[y * w + x] {
                bx0 = bx0.min(x);
                by0 = by0.min(y);
                bx1 = bx1.max(x);
                by1 = by1.max(y);
            }
        }
    }
    if bx0 == usize::MAX {
        return None;
    }
    let height = (by1 + 1 - by0) as f64;
    // The feet: the middle of the mask in its lowest 12%.
    let foot_rows = ((height * 0.12).ceil() as usize).max(1);
    let (mut sum, mut n, mut lo, mut hi) = (0.0, 0.0, usize::MAX, 0);
    for y in (by1 + 1 - foot_rows)..=by1 {
        for x in bx0..=bx1 {
            if mask[y * w + x] {
                sum += x as f64 + 0.5;
                n += 1.0;
                lo = lo.min(x);
                hi = hi.max(x);
            }
        }
    }
    // The cutout: the mask's box and a pixel around it, alpha softened by a 3x3 box filter.
    let (cx0, cy0) = (bx0.saturating_sub(1), by0.saturating_sub(1));
    let (cx1, cy1) = ((bx1 + 2).min(w), (by1 + 2).min(h));
    let (cw, ch) = (cx1 - cx0, cy1 - cy0);
    let mut pm = vec![[0.0; 3]; cw * ch];
    let mut alpha = vec![0.0; cw * ch];
    for y in 0..ch {
        for x in 0..cw {
            let (mx, my) = (cx0 + x, cy0 + y);
            let mut a = 0.0;
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (sx, sy) = (mx as i64 + dx, my as i64 + dy);
                    if sx >= 0
                        && sy >= 0
                        && (sx as usize) < w
                        && (sy as usize) < h
                        && mask[sy as usize * w + sx as usize]
                    {
                        a += 1.0;
                    }
                }
            }
            // Inside pixels stay opaque; the softening only reaches outward by a pixel.
            let a: f32 = if mask[my * w + mx] {
                1.0
            } else {
                a / 9.0 * 0.8
            };
            let c = frame.px(x0 + mx, y0 + my);
            alpha[y * cw + x] = a;
            pm[y * cw + x] = c.map(|v| f32::from(v) * a);
        }
    }
    let feet = (sum / n - cx0 as f64, (by1 + 1 - cy0) as f64);
    Some(Cutout {
        w: cw,
        h: ch,
        pm,
        alpha,
        feet,
        height,
        src_feet: ((x0 + cx0) as f64 + feet.0, (y0 + cy0) as f64 + feet.1),
        stride: (hi + 1 - lo) as f64,
    })
}

/// Whether `a` is the plate's `b` in a person's shadow: uniformly darker, same hue.
fn shadow(a: [u8; 3], b: [u8; 3]) -> bool {
    let r = [0, 1, 2].map(|c| (f64::from(a[c]) + 1.0) / (f64::from(b[c]) + 1.0));
    let (lo, hi) = (r[0].min(r[1]).min(r[2]), r[0].max(r[1]).max(r[2]));
    lo >= 0.45 && hi <= 0.95 && hi - lo <= 0.18
}

/// The box of frame `k` of `spec`'s cycle.
pub fn box_at(spec: &SpriteSpec, k: usize) -> [usize; 4] {
    let t = if spec.frames > 1 {
        k as f64 / (spec.frames - 1) as f64
    } else {
        0.0
    };
    std::array::from_fn(|i| {
        let a = spec.box_first[i] as f64;
        let b = spec.box_last[i] as f64;
        (a + (b - a) * t).round() as usize
    })
}

/// The walk cycle of `spec` from its frames of the footage (`frames[k]` is footage frame
/// `spec.first + k`).
pub fn build(spec: &SpriteSpec, frames: &[Rgb], plate: &Rgb) -> Result<Sprite> {
    if frames.len() != spec.frames || spec.frames == 0 {
        bail!(
            "sprite {}: {} frames given, {} wanted",
            spec.name,
            frames.len(),
            spec.frames
        );
    }
    let cycle = frames
        .iter()
        .enumerate()
        .map(|(k, f)| {
            cut(f, plate, box_at(spec, k)).with_context(|| {
                format!(
                    "sprite {}: nobody in its box at footage frame {} (check SPECS)",
                    spec.name,
                    spec.first + k
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(from_cycle(spec.name, spec.who, cycle))
}

/// A sprite from its cutouts, with the step and heading measured from their feet.
pub fn from_cycle(name: &'static str, who: &'static str, cycle: Vec<Cutout>) -> Sprite {
    let n = cycle.len() as f64;
    let src_feet_y = cycle.iter().map(|c| c.src_feet.1).sum::<f64>() / n;
    let height = cycle.iter().map(|c| c.height).sum::<f64>() / n;
    let (first, last) = (cycle[0].src_feet, cycle[cycle.len() - 1].src_feet);
    let span = (cycle.len() - 1).max(1) as f64;
    let step = ((last.0 - first.0).hypot(last.1 - first.1) / span).max(1.0);
    let heading_x = if last.0 >= first.0 { 1.0 } else { -1.0 };
    let stand = (0..cycle.len())
        .min_by(|&a, &b| cycle[a].stride.total_cmp(&cycle[b].stride))
        .unwrap_or(0);
    Sprite {
        name,
        who,
        cycle,
        src_feet_y,
        height,
        step,
        heading_x,
        stand,
    }
}

fn dilate(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    morph(m, w, h, r, true)
}

fn erode(m: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    morph(m, w, h, r, false)
}

/// Square structuring element of radius `r`; only pixels inside the box are looked at.
fn morph(m: &[bool], w: usize, h: usize, r: usize, grow: bool) -> Vec<bool> {
    let mut out = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut any = false;
            let mut all = true;
            for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                    any |= m[yy * w + xx];
                    all &= m[yy * w + xx];
                }
            }
            out[y * w + x] = if grow { any } else { all };
        }
    }
    out
}

/// The largest 8-connected blob of `m`.
fn largest_blob(m: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut label = vec![0u32; w * h];
    let mut best = (0, 0usize);
    let mut next = 0;
    let mut stack = vec![];
    for start in 0..w * h {
        if !m[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        let mut size = 0;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if m[j] && label[j] == 0 {
                        label[j] = next;
                        stack.push(j);
                    }
                }
            }
        }
        if size > best.1 {
            best = (next, size);
        }
    }
    label.iter().map(|&l| l != 0 && l == best.0).collect()
}

/// `m` with every background region that does not reach the border filled in.
fn fill_holes(m: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut outside = vec![false; w * h];
    let mut stack: Vec<usize> = (0..w * h)
        .filter(|&i| {
            let (x, y) = (i % w, i / w);
            (x == 0 || y == 0 || x == w - 1 || y == h - 1) && !m[i]
        })
        .collect();
    for &i in &stack {
        outside[i] = true;
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        let mut push = |j: usize| {
            if !m[j] && !outside[j] {
                outside[j] = true;
                stack.push(j);
            }
        };
        if x > 0 {
            push(i - 1);
        }
        if x + 1 < w {
            push(i + 1);
        }
        if y > 0 {
            push(i - w);
        }
        if y + 1 < h {
            push(i + w);
        }
    }
    outside.iter().map(|&o| !o).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 60x80 grey frame with a dark "person" whose feet are at (`fx`, 70): a body and two legs
    /// `spread` apart, a hole of background colour in the chest, and a speck elsewhere.
    fn frame(fx: usize, spread: usize) -> Rgb {
        let mut f = Rgb::new(60, 80);
        f.data.fill(120);
        for y in 30..55 {
            for x in fx - 6..fx + 6 {
                f.set(x, y, [20, 30, 40]);
            }
        }
        for y in 55..70 {
            for x in [fx - spread / 2 - 2, fx + spread / 2 - 1] {
                for xx in x..x + 3 {
                    f.set(xx, y, [20, 30, 40]);
                }
            }
        }
        f.set(fx, 40, [120, 120, 120]);
        f.set(2, 75, [0, 0, 0]);
        f
    }

    #[test]
    fn cutout_finds_the_feet_and_fills_holes() {
        let mut plate = Rgb::new(60, 80);
        plate.data.fill(120);
        let c = cut(&frame(30, 8), &plate, [0, 0, 60, 80]).unwrap();
        assert_eq!(c.height, 40.0);
        assert_eq!(c.src_feet, (30.0, 70.0));
        // The hole in the chest is filled; the speck at (2, 75) is not in the cutout.
        let (ox, oy) = (30.0 - c.feet.0, 70.0 - c.feet.1);
        let i = (40.0 - oy) as usize * c.w + (30.0 - ox) as usize;
        assert_eq!(c.alpha[i], 1.0);
        assert!(c.w < 20);
    }

    #[test]
    fn cycle_is_aligned_at_the_feet() {
        let mut plate = Rgb::new(60, 80);
        plate.data.fill(120);
        // Walking right 3 px a frame, legs opening and closing.
        let frames: Vec<Rgb> = (0..4)
            .map(|k| frame(20 + 3 * k, [4, 8, 12, 8][k]))
            .collect();
        let cycle: Vec<Cutout> = frames
            .iter()
            .map(|f| cut(f, &plate, [0, 0, 60, 80]).unwrap())
            .collect();
        for (k, c) in cycle.iter().enumerate() {
            assert_eq!(c.src_feet, ((20 + 3 * k) as f64, 70.0));
            // At the feet point of every cutout is the gap between the legs, just above the
            // bottom edge, and a little above is body.
            assert!(c.sample(c.feet.0, c.feet.1 + 3.0).1 == 0.0);
            assert_eq!(c.sample(c.feet.0, c.feet.1 - 20.0).1, 1.0);
        }
        let s = from_cycle("t", "test", cycle);
        assert_eq!(s.step, 3.0);
        assert_eq!(s.heading_x, 1.0);
        assert_eq!(s.stand, 0);
        assert_eq!(s.src_feet_y, 70.0);
    }

    #[test]
    fn box_follows_the_person() {
        let spec = SpriteSpec {
            name: "t",
            who: "t",
            first: 0,
            frames: 3,
            box_first: [0, 0, 10, 10],
            box_last: [20, 10, 30, 20],
        };
        assert_eq!(box_at(&spec, 1), [10, 5, 20, 15]);
        assert_eq!(box_at(&spec, 2), [20, 10, 30, 20]);
    }
}
