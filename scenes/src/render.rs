//! Drawing a scene's frames: the plate as the scene's view shows it, and each actor's sprite
//! with its feet at the scripted point, scaled for perspective, facing its way, nearer (lower
//! feet) drawn over farther.

use std::collections::HashMap;

use anyhow::{Context, Result};

use crate::image::Rgb;
use crate::script::{Key, Scene, View, position};
use crate::sprites::{Cutout, Sprite};

/// The footage y at which a person would be 0 px tall: heights in vtest.avi grow linearly with
/// the feet's y (0.254 px per px, measured on the sprites: 69 px at y 230, 135 px at y 490).
pub const HORIZON_Y: f64 = -42.0;

/// How much to scale `sprite` with its feet at scene y `y`.
pub fn scale_at(sprite: &Sprite, view: &View, y: f64) -> f64 {
    let src_y = view.source_y(y);
    view.scale() * (src_y - HORIZON_Y) / (sprite.src_feet_y - HORIZON_Y)
}

/// The plate as `view` shows it.
pub fn background(plate: &Rgb, view: &View) -> Rgb {
    let [x, y, w, h] = view.crop;
    let c = plate.crop(x, y, w, h);
    if (c.w, c.h) == view.size {
        c
    } else {
        c.resize(view.size.0, view.size.1)
    }
}

/// The pixels (x0..x1, y0..y1) of a `size` picture that `c` covers drawn with its feet at
/// `(fx, fy)`, scaled by `s`, mirrored if `mirror`.
fn drawn_rect(
    c: &Cutout,
    fx: f64,
    fy: f64,
    s: f64,
    mirror: bool,
    size: (usize, usize),
) -> (usize, usize, usize, usize) {
    let (left, right) = if mirror {
        (c.feet.0 - c.w as f64, c.feet.0)
    } else {
        (-c.feet.0, c.w as f64 - c.feet.0)
    };
    (
        (fx + left * s).floor().max(0.0) as usize,
        ((fx + right * s).ceil().max(0.0) as usize).min(size.0),
        (fy - c.feet.1 * s).floor().max(0.0) as usize,
        ((fy + (c.h as f64 - c.feet.1) * s).ceil().max(0.0) as usize).min(size.1),
    )
}

/// Draws `c` with its feet at `(fx, fy)`, scaled by `s`, mirrored left-right if `mirror`.
pub fn draw(img: &mut Rgb, c: &Cutout, fx: f64, fy: f64, s: f64, mirror: bool) {
    let (x0, x1, y0, y1) = drawn_rect(c, fx, fy, s, mirror, (img.w, img.h));
    // Shrunk sprites are supersampled so that they do not alias.
    let n = if s < 0.9 { 2 } else { 1 };
    let nn = (n * n) as f32;
    for y in y0..y1 {
        for x in x0..x1 {
            let mut pm = [0.0f32; 3];
            let mut a = 0.0f32;
            for j in 0..n {
                for i in 0..n {
                    let px = x as f64 + (i as f64 + 0.5) / n as f64;
                    let py = y as f64 + (j as f64 + 0.5) / n as f64;
                    let dx = (px - fx) / s;
                    let u = if mirror { c.feet.0 - dx } else { c.feet.0 + dx };
                    let v = c.feet.1 + (py - fy) / s;
                    let (sc, sa) = c.sample(u, v);
                    a += sa / nn;
                    for k in 0..3 {
                        pm[k] += sc[k] / nn;
                    }
                }
            }
            if a <= 0.0 {
                continue;
            }
            let bg = img.px(x, y);
            let out = [0, 1, 2].map(|k| {
                (f32::from(bg[k]) * (1.0 - a) + pm[k])
                    .round()
                    .clamp(0.0, 255.0) as u8
            });
            img.set(x, y, out);
        }
    }
}

/// A thing of the plate that stands in front of people farther away than its foot: the pixels
/// it covers in a scene's picture and how far down its foot is.
#[derive(Debug, Clone)]
pub struct Occluder {
    pub base_y: f64,
    pub pixels: Vec<(usize, usize)>,
}

/// Whether a thing covers a footage pixel.
type Covers<'a> = dyn Fn(usize, usize) -> bool + 'a;

/// The lamp post with its sign (foot at footage y 392) and the tripod (legs' feet about y 475)
/// of vtest.avi, as `view` shows them: the post and sign by their outline, measured on the
/// plate; the tripod as its dark pixels in its box.
pub fn occluders(plate: &Rgb, view: &View) -> Vec<Occluder> {
    let post = |x: usize, y: usize| {
        let (xf, yf) = (x as f64, y as f64);
        // The pole leans: its middle is at x 426 at y 120 and x 433 at y 380.
        let centre = 426.0 + (yf - 120.0) * 7.0 / 260.0;
        let pole = (90.0..392.0).contains(&yf) && (xf - centre).abs() <= 3.5;
        let sign = (411..=447).contains(&x) && (202..=245).contains(&y);
        pole || sign
    };
    let tripod = |x: usize, y: usize| {
        (455..=530).contains(&x)
            && (334..=484).contains(&y)
            && plate.px(x, y).iter().all(|&c| c < 60)
    };
    let things: [(f64, &Covers); 2] = [(392.0, &post), (475.0, &tripod)];
    let k = view.scale();
    let [cx, cy, _, _] = view.crop;
    things
        .iter()
        .map(|(base, covers)| {
            let mut pixels = vec![];
            for y in 0..view.size.1 {
                for x in 0..view.size.0 {
                    let sx = (cx as f64 + (x as f64 + 0.5) / k) as usize;
                    let sy = (cy as f64 + (y as f64 + 0.5) / k) as usize;
                    if sx < plate.w && sy < plate.h && covers(sx, sy) {
                        pixels.push((x, y));
                    }
                }
            }
            Occluder {
                base_y: (base - cy as f64) * k,
                pixels,
            }
        })
        .collect()
}

/// One actor's pose in one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    pub x: f64,
    pub y: f64,
    pub cutout: usize,
    pub scale: f64,
    pub mirror: bool,
}

/// The poses of an actor in every frame of a scene it is in (`None` where it is not): the
/// cycle advances with the distance walked, stands still in the standing pose while waiting,
/// and is mirrored to face the way of the last leg with any sideways movement.
pub fn poses(keys: &[Key], sprite: &Sprite, view: &View, frames: usize) -> Vec<Option<Pose>> {
    let mut cum = vec![0.0];
    for w in keys.windows(2) {
        let d = (w[1].x - w[0].x).hypot(w[1].y - w[0].y);
        cum.push(cum[cum.len() - 1] + d);
    }
    let faces = |a: &Key, b: &Key| {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        (dx.abs() > 0.2 * dx.hypot(dy)).then_some((dx > 0.0) != (sprite.heading_x > 0.0))
    };
    // Until the first sideways leg, face the way it goes.
    let mut mirror = keys
        .windows(2)
        .find_map(|w| faces(&w[0], &w[1]))
        .unwrap_or(false);
    let mut out = Vec::with_capacity(frames);
    for f in 0..frames {
        let Some((x, y, i)) = position(keys, f as f64) else {
            out.push(None);
            continue;
        };
        let (a, b) = (keys[i], keys.get(i + 1).copied().unwrap_or(keys[i]));
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let moving = dx.hypot(dy) > 0.0;
        if let Some(m) = faces(&a, &b) {
            mirror = m;
        }
        let scale = scale_at(sprite, view, y);
        let cutout = if moving {
            let dist = cum[i] + (x - a.x).hypot(y - a.y);
            (dist / (sprite.step * scale)).floor() as usize % sprite.cycle.len()
        } else {
            sprite.stand
        };
        out.push(Some(Pose {
            x,
            y,
            cutout,
            scale,
            mirror,
        }));
    }
    out
}

/// An actor's sprite and its pose in every frame of its scene (`None` where it is not in it).
type Acting<'a> = (&'a Sprite, Vec<Option<Pose>>);

/// Each actor of `scene` with its sprite and its pose in every frame of the scene.
fn actors<'a>(scene: &Scene, sprites: &'a HashMap<&str, Sprite>) -> Result<Vec<Acting<'a>>> {
    scene
        .actors
        .iter()
        .map(|a| {
            let sprite = sprites
                .get(a.sprite)
                .with_context(|| format!("scene {}: no sprite {:?}", scene.name, a.sprite))?;
            Ok((sprite, poses(&a.keys()?, sprite, &scene.view, scene.frames)))
        })
        .collect()
}

/// One thing drawn in a frame: an actor (by its index) in its pose, or a thing of the plate in
/// front of what was drawn before it.
enum Layer<'a> {
    Actor(usize, Pose),
    Thing(&'a Occluder),
}

/// The things of `front` nearest last (by their base), as [`layers`] takes them.
fn by_depth(front: &[Occluder]) -> Vec<&Occluder> {
    let mut things: Vec<&Occluder> = front.iter().collect();
    things.sort_by(|a, b| a.base_y.total_cmp(&b.base_y));
    things
}

/// What frame `f` draws, farthest first: the actors in view by their feet (the sort is stable,
/// so ties keep the script's order), each thing of `things` (see [`by_depth`]) over the actors
/// behind it.
fn layers<'a>(actors: &[Acting], f: usize, things: &[&'a Occluder]) -> Vec<Layer<'a>> {
    let mut now: Vec<(usize, Pose)> = actors
        .iter()
        .enumerate()
        .filter_map(|(i, (_, p))| p[f].map(|p| (i, p)))
        .collect();
    now.sort_by(|a, b| a.1.y.total_cmp(&b.1.y));
    let mut things = things.iter().copied().peekable();
    let mut out = vec![];
    for (i, p) in now {
        while let Some(o) = things.next_if(|o| o.base_y <= p.y) {
            out.push(Layer::Thing(o));
        }
        out.push(Layer::Actor(i, p));
    }
    out.extend(things.map(Layer::Thing));
    out
}

/// Every actor's box in every frame of `scene`, in pixels of the picture (x1, y1, x2, y2):
/// the drawn sprite's mask (alpha at least a half), whole even where someone or something
/// hides part of it, cut to the picture; none for an actor wholly out of it. What a perfect
/// detector would find, for telling the counter's errors from the detector's.
pub fn boxes(scene: &Scene, sprites: &HashMap<&str, Sprite>) -> Result<Vec<Vec<[f64; 4]>>> {
    let mut out = vec![vec![]; scene.frames];
    let (w, h) = (scene.view.size.0 as f64, scene.view.size.1 as f64);
    for (sprite, poses) in actors(scene, sprites)? {
        for (f, pose) in poses.into_iter().enumerate() {
            let Some(p) = pose else { continue };
            let c = &sprite.cycle[p.cutout];
            let Some([u1, v1, u2, v2]) = c.mask_box() else {
                continue;
            };
            let (dx1, dx2) = if p.mirror {
                (c.feet.0 - u2, c.feet.0 - u1)
            } else {
                (u1 - c.feet.0, u2 - c.feet.0)
            };
            let b = [
                (p.x + dx1 * p.scale).max(0.0),
                (p.y + (v1 - c.feet.1) * p.scale).max(0.0),
                (p.x + dx2 * p.scale).min(w),
                (p.y + (v2 - c.feet.1) * p.scale).min(h),
            ];
            if b[0] < b[2] && b[1] < b[3] {
                out[f].push(b);
            }
        }
    }
    Ok(out)
}

/// What a detector that finds everyone it can see would find: in every frame of `scene`, the
/// box of each actor's visible part (in pixels, as [`boxes`]), for those of whom at least
/// `least` of the drawn mask is not hidden by nearer people or by `front`.
pub fn seen_boxes(
    scene: &Scene,
    sprites: &HashMap<&str, Sprite>,
    front: &[Occluder],
    least: f64,
) -> Result<Vec<Vec<[f64; 4]>>> {
    let (w, h) = scene.view.size;
    let actors = actors(scene, sprites)?;
    let things = by_depth(front);
    let mut out = vec![];
    for f in 0..scene.frames {
        // Whose each pixel is, drawn as `render` draws.
        let mut owner: Vec<Option<usize>> = vec![None; w * h];
        let mut drawn = vec![0usize; actors.len()];
        for layer in layers(&actors, f, &things) {
            match layer {
                Layer::Thing(o) => {
                    for &(x, y) in &o.pixels {
                        owner[y * w + x] = None;
                    }
                }
                Layer::Actor(i, p) => {
                    let c = &actors[i].0.cycle[p.cutout];
                    for (x, y) in mask_pixels(c, &p, (w, h)) {
                        owner[y * w + x] = Some(i);
                        drawn[i] += 1;
                    }
                }
            }
        }
        let mut seen: Vec<Option<[f64; 4]>> = vec![None; actors.len()];
        let mut count = vec![0usize; actors.len()];
        for (k, o) in owner.iter().enumerate() {
            let Some(i) = *o else { continue };
            count[i] += 1;
            seen[i] = Some(crate::image::grown(seen[i], k % w, k / w));
        }
        out.push(
            (0..actors.len())
                .filter(|&i| drawn[i] > 0 && count[i] as f64 >= least * drawn[i] as f64)
                .filter_map(|i| seen[i])
                .collect(),
        );
    }
    Ok(out)
}

/// The pixels of a `size` picture that `c` drawn at `p` covers at least half.
fn mask_pixels(c: &Cutout, p: &Pose, size: (usize, usize)) -> Vec<(usize, usize)> {
    let s = p.scale;
    let (x0, x1, y0, y1) = drawn_rect(c, p.x, p.y, s, p.mirror, size);
    let mut px = vec![];
    for y in y0..y1 {
        for x in x0..x1 {
            let dx = (x as f64 + 0.5 - p.x) / s;
            let u = if p.mirror {
                c.feet.0 - dx
            } else {
                c.feet.0 + dx
            };
            let v = c.feet.1 + (y as f64 + 0.5 - p.y) / s;
            if c.sample(u, v).1 >= 0.5 {
                px.push((x, y));
            }
        }
    }
    px
}

/// Renders every frame of `scene` over `bg` (with `front`: the plate's things that hide people
/// behind them) and hands each to `sink`.
pub fn render(
    scene: &Scene,
    sprites: &HashMap<&str, Sprite>,
    bg: &Rgb,
    front: &[Occluder],
    mut sink: impl FnMut(&Rgb) -> Result<()>,
) -> Result<()> {
    let tracks = actors(scene, sprites)?;
    let things = by_depth(front);
    for f in 0..scene.frames {
        let mut img = bg.clone();
        for layer in layers(&tracks, f, &things) {
            match layer {
                Layer::Thing(o) => {
                    for &(x, y) in &o.pixels {
                        img.set(x, y, bg.px(x, y));
                    }
                }
                Layer::Actor(i, p) => {
                    let c = &tracks[i].0.cycle[p.cutout];
                    draw(&mut img, c, p.x, p.y, p.scale, p.mirror);
                }
            }
        }
        sink(&img)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Actor;

    fn block(w: usize, h: usize) -> Cutout {
        Cutout {
            w,
            h,
            pm: vec![[200.0, 0.0, 0.0]; w * h],
            alpha: vec![1.0; w * h],
            feet: (w as f64 / 2.0, h as f64),
            height: h as f64,
            src_feet: (0.0, 0.0),
            stride: 1.0,
        }
    }

    #[test]
    fn occluders_follow_the_view() {
        let plate = Rgb::new(768, 576);
        let full = occluders(&plate, &View::FULL);
        assert_eq!(full[0].base_y, 392.0);
        assert!(full[0].pixels.contains(&(430, 300)));
        assert!(!full[0].pixels.contains(&(440, 300)));
        // A black plate: the whole tripod box is "dark".
        assert!(full[1].pixels.contains(&(500, 400)));
        let wide = View {
            crop: [0, 144, 768, 432],
            size: (640, 360),
        };
        let w = occluders(&plate, &wide);
        assert!((w[0].base_y - (392.0 - 144.0) * 640.0 / 768.0).abs() < 1e-9);
        assert!(w[0].pixels.contains(&(358, 130)));
    }

    #[test]
    fn boxes_are_the_masks_as_drawn() {
        // A 4x10 mask with a clear pixel all round, its feet at its bottom-centre.
        let mut c = block(6, 12);
        for (i, a) in c.alpha.iter_mut().enumerate() {
            let (x, y) = (i % 6, i / 6);
            if x == 0 || x == 5 || y == 0 || y == 11 {
                *a = 0.0;
            }
        }
        c.feet = (3.0, 11.0);
        let sprite = Sprite {
            name: "block",
            who: "a block",
            cycle: vec![c],
            src_feet_y: 300.0,
            height: 10.0,
            step: 5.0,
            heading_x: 1.0,
            stand: 0,
        };
        let scene = Scene {
            name: "boxes",
            view: View::FULL,
            frames: 4,
            lines: vec![],
            actors: vec![
                // Standing where the footage shows it at its own size, then walking out of the
                // picture to the left: cut at the edge, then gone.
                Actor::new("block", "block", 0.0, (100.0, 300.0))
                    .wait(1.0)
                    .to(-100.0, 300.0, 100.0),
            ],
        };
        let sprites = HashMap::from([("block", sprite)]);
        let b = boxes(&scene, &sprites).expect("boxes");
        assert_eq!(b[0], vec![[98.0, 290.0, 102.0, 300.0]]);
        assert_eq!(b[1], vec![[98.0, 290.0, 102.0, 300.0]]);
        assert_eq!(
            b[2],
            vec![[0.0, 290.0, 2.0, 300.0]],
            "cut by the picture's edge"
        );
        assert!(b[3].is_empty(), "out of the picture");
    }

    #[test]
    fn seen_boxes_hold_what_is_in_view() {
        // Two 4x10 blocks at the same x: the farther (feet at y 300) behind the nearer.
        let sprite = |name| Sprite {
            name,
            who: "a block",
            cycle: vec![block(4, 10)],
            src_feet_y: 300.0,
            height: 10.0,
            step: 5.0,
            heading_x: 1.0,
            stand: 0,
        };
        let sprites = HashMap::from([("far", sprite("far")), ("near", sprite("near"))]);
        let scene = |near_x: f64, near_y: f64| Scene {
            name: "seen",
            view: View::FULL,
            frames: 1,
            lines: vec![],
            actors: vec![
                Actor::new("far", "far", 0.0, (100.0, 300.0)).wait(1.0),
                Actor::new("near", "near", 0.0, (near_x, near_y)).wait(1.0),
            ],
        };
        let at = |x, y| seen_boxes(&scene(x, y), &sprites, &[], 0.5).expect("boxes")[0].clone();
        // Most of the farther behind the nearer: only the nearer is found.
        assert_eq!(
            at(100.0, 303.0),
            vec![[98.0, 293.0, 102.0, 303.0]],
            "hidden"
        );
        // Its upper half in view: found, as that half.
        assert_eq!(
            at(100.0, 305.0),
            vec![[98.0, 290.0, 102.0, 295.0], [98.0, 295.0, 102.0, 305.0]],
            "half in view"
        );
        // Behind a thing in front of both (a post): half of the farther still shows.
        let post = Occluder {
            base_y: 400.0,
            pixels: (290..300)
                .map(|y| (98, y))
                .chain((290..300).map(|y| (99, y)))
                .collect(),
        };
        let far_only = Scene {
            actors: vec![Actor::new("far", "far", 0.0, (100.0, 300.0)).wait(1.0)],
            ..scene(0.0, 0.0)
        };
        let b = seen_boxes(&far_only, &sprites, &[post], 0.5).expect("boxes");
        assert_eq!(b[0], vec![[100.0, 290.0, 102.0, 300.0]]);
    }

    #[test]
    fn draw_puts_the_feet_at_the_point() {
        let mut img = Rgb::new(40, 40);
        draw(&mut img, &block(4, 10), 20.0, 30.0, 1.0, false);
        assert_eq!(img.px(18, 29), [200, 0, 0]);
        assert_eq!(img.px(21, 20), [200, 0, 0]);
        assert_eq!(img.px(20, 30), [0, 0, 0]);
        assert_eq!(img.px(17, 25), [0, 0, 0]);
        assert_eq!(img.px(20, 19), [0, 0, 0]);
        // Twice the size: 8 wide, 20 high, still standing on (20, 30).
        let mut img = Rgb::new(40, 40);
        draw(&mut img, &block(4, 10), 20.0, 30.0, 2.0, true);
        assert_eq!(img.px(17, 12), [200, 0, 0]);
        assert_eq!(img.px(22, 28), [200, 0, 0]);
        assert_eq!(img.px(25, 29), [0, 0, 0]);
        assert_eq!(img.px(20, 8), [0, 0, 0]);
    }
}
