//! The ground truth of a scene, computed from the scripted feet paths with the validation set's
//! counting rules (edge/tests/data/validation/README.md), and written in its truth-file format.

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::catalogue::Split;
use crate::script::{FPS, Key, Scene, position};

/// A step over the line and back within this many seconds is a touch: not counted.
pub const TOUCH_SECONDS: f64 = 1.0;
/// Staying over the line at least this many seconds before coming back counts both ways;
/// between the two is unclear by the rules, and a script doing that is refused.
pub const SETTLE_SECONDS: f64 = 2.0;
/// Feet closer to the line than this (pixels) are on it.
const ON_LINE: f64 = 1e-6;

/// A side change of the feet over the line's full extent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SideChange {
    /// When (in frames, fractional).
    pub t: f64,
    /// Sides as the sign of the cross product: +1 the line's right (looking along p1→p2, y
    /// down), -1 its left.
    pub from: i8,
    pub to: i8,
    /// Whether the feet were over the segment itself (not its extension).
    pub on_segment: bool,
}

/// A counted crossing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    pub t: f64,
    pub frame: u64,
    /// `in`: from the line's left to its right.
    pub dir_in: bool,
}

fn signed_distance(p1: (f64, f64), p2: (f64, f64), x: f64, y: f64) -> f64 {
    let (dx, dy) = (p2.0 - p1.0, p2.1 - p1.1);
    (dx * (y - p1.1) - dy * (x - p1.0)) / dx.hypot(dy)
}

fn side(d: f64) -> i8 {
    if d > ON_LINE {
        1
    } else if d < -ON_LINE {
        -1
    } else {
        0
    }
}

fn on_segment(p1: (f64, f64), p2: (f64, f64), x: f64, y: f64) -> bool {
    let (dx, dy) = (p2.0 - p1.0, p2.1 - p1.1);
    let u = ((x - p1.0) * dx + (y - p1.1) * dy) / (dx * dx + dy * dy);
    (0.0..=1.0).contains(&u)
}

/// Every side change of the path `keys` over the infinite line through `p1`, `p2`. A stop on
/// the line changes side only when the feet leave it to the other side, at that moment.
pub fn side_changes(keys: &[Key], p1: (f64, f64), p2: (f64, f64)) -> Vec<SideChange> {
    let mut out = vec![];
    let mut last: Option<i8> = None;
    if let Some(k) = keys.first() {
        let s = side(signed_distance(p1, p2, k.x, k.y));
        if s != 0 {
            last = Some(s);
        }
    }
    for w in keys.windows(2) {
        let (a, b) = (w[0], w[1]);
        let (da, db) = (
            signed_distance(p1, p2, a.x, a.y),
            signed_distance(p1, p2, b.x, b.y),
        );
        let (sa, sb) = (side(da), side(db));
        if sa != 0 && sb != 0 && sa != sb {
            let f = da / (da - db);
            let (x, y) = (a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f);
            out.push(SideChange {
                t: a.t + (b.t - a.t) * f,
                from: sa,
                to: sb,
                on_segment: on_segment(p1, p2, x, y),
            });
        } else if sa == 0
            && sb != 0
            && let Some(from) = last.filter(|&l| l != sb)
        {
            out.push(SideChange {
                t: a.t,
                from,
                to: sb,
                on_segment: on_segment(p1, p2, a.x, a.y),
            });
        }
        if sb != 0 {
            last = Some(sb);
        }
    }
    out
}

/// The crossings of one actor's path that count by the rules, in a `size` picture of
/// `frames` frames at `fps`: over the segment (1), not touches that go back within a second (2, 3),
/// with the feet seen inside the picture on both sides (4), stops on the line counted once
/// when left to the other side (5).
pub fn crossings(
    keys: &[Key],
    p1: (f64, f64),
    p2: (f64, f64),
    size: (usize, usize),
    frames: usize,
    fps: u32,
) -> Result<Vec<Crossing>> {
    let changes = side_changes(keys, p1, p2);
    let (touch, settle) = (TOUCH_SECONDS * fps as f64, SETTLE_SECONDS * fps as f64);
    // Rule 2: pairs of opposite crossings of the segment within a second are touches.
    let mut counted = vec![true; changes.len()];
    for i in 0..changes.len() {
        let (a, Some(b)) = (changes[i], changes.get(i + 1)) else {
            continue;
        };
        if !(a.on_segment && b.on_segment && counted[i]) {
            continue;
        }
        let gap = b.t - a.t;
        if gap <= touch {
            counted[i] = false;
            counted[i + 1] = false;
        } else if gap < settle {
            bail!(
                "back over the line after {gap:.1} frames (frames {:.1} and {:.1}): between a \
                 touch ({touch}) and settling ({settle}) the rules are unclear; \
                 change the script",
                a.t,
                b.t
            );
        }
    }
    let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
        return Ok(vec![]);
    };
    // Rule 4: the feet inside the picture at some frame on each side, between the side changes
    // around this one.
    let seen = |from: f64, to: f64, want: i8| {
        let lo = from.max(first.t).max(0.0).ceil() as i64;
        let hi = to.min(last.t).min(frames as f64 - 1.0).floor() as i64;
        (lo..=hi).any(|f| {
            let Some((x, y, _)) = position(keys, f as f64) else {
                return false;
            };
            let inside = x >= 0.0 && y >= 0.0 && x < size.0 as f64 && y < size.1 as f64;
            inside && side(signed_distance(p1, p2, x, y)) == want
        })
    };
    let mut out = vec![];
    for (i, c) in changes.iter().enumerate() {
        if !c.on_segment || !counted[i] {
            continue;
        }
        let before = if i > 0 { changes[i - 1].t } else { f64::MIN };
        let after = changes.get(i + 1).map_or(f64::MAX, |n| n.t);
        if !seen(before, c.t, c.from) || !seen(c.t, after, c.to) {
            continue;
        }
        let frame = c.t.round();
        if frame < 0.0 || frame >= frames as f64 {
            continue;
        }
        out.push(Crossing {
            t: c.t,
            frame: frame as u64,
            dir_in: c.from < 0,
        });
    }
    Ok(out)
}

/// A truth file (the validation README's format).
#[derive(Debug, Serialize)]
pub struct TruthFile {
    pub source: String,
    pub fps: u32,
    pub size: [usize; 2],
    pub provenance: String,
    pub lines: Vec<TruthLine>,
}

#[derive(Debug, Serialize)]
pub struct TruthLine {
    pub name: String,
    pub line: String,
    pub kind: String,
    pub events: Vec<Event>,
    pub near_misses: Vec<NearMiss>,
}

#[derive(Debug, Serialize)]
pub struct Event {
    pub frame: u64,
    pub direction: &'static str,
    pub note: String,
}

#[derive(Debug, Serialize)]
pub struct NearMiss {
    pub frames: String,
    pub note: String,
}

/// Where the composite videos of `split` at `fps` are written, from the repository root.
pub fn video_path(scene: &Scene, split: Split, fps: u32) -> String {
    format!("{}/{}.mkv", split.videos(fps), scene.name)
}

/// The frames (first-last) in which the actor's feet are within `reach` px of the segment, or
/// all its frames if never.
fn frames_near(keys: &[Key], p1: (f64, f64), p2: (f64, f64), frames: usize) -> String {
    let reach = 60.0;
    let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
        return String::new();
    };
    let lo = first.t.max(0.0).ceil() as i64;
    let hi = last.t.min(frames as f64 - 1.0).floor() as i64;
    let near: Vec<i64> = (lo..=hi)
        .filter(|&f| {
            position(keys, f as f64).is_some_and(|(x, y, _)| {
                let (dx, dy) = (p2.0 - p1.0, p2.1 - p1.1);
                let u = (((x - p1.0) * dx + (y - p1.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
                (p1.0 + u * dx - x).hypot(p1.1 + u * dy - y) <= reach
            })
        })
        .collect();
    match (near.first(), near.last()) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => format!("{lo}-{hi}"),
    }
}

/// The truth of `scene` of `split` played at `fps` (see [`Scene::at_fps`]); `who` names a
/// sprite for the notes.
pub fn truth(
    scene: &Scene,
    split: Split,
    fps: u32,
    who: impl Fn(&str) -> String,
) -> Result<TruthFile> {
    let size = scene.view.size;
    let mut lines = vec![];
    for l in &scene.lines {
        let [p1, p2] = l.points(size)?;
        let mut events = vec![];
        let mut near_misses = vec![];
        for a in &scene.actors {
            let keys = a.keys()?;
            let cs = crossings(&keys, p1, p2, size, scene.frames, fps)
                .with_context(|| format!("scene {}, line {}, {}", scene.name, l.name, a.label))?;
            for c in &cs {
                events.push((
                    c.t,
                    Event {
                        frame: c.frame,
                        direction: if c.dir_in { "in" } else { "out" },
                        note: format!("{} ({})", a.label, who(a.sprite)),
                    },
                ));
            }
            for (line, note) in &a.near_misses {
                if *line != l.name {
                    continue;
                }
                if !cs.is_empty() {
                    if fps != FPS {
                        // A runner the scripts' rate never sees between the edge and the line
                        // is seen there at a higher one: then it is a crossing like any other.
                        continue;
                    }
                    bail!(
                        "scene {}, line {}: {} is a near miss but crosses at frame {}: fix the script",
                        scene.name,
                        l.name,
                        a.label,
                        cs[0].frame
                    );
                }
                near_misses.push(NearMiss {
                    frames: frames_near(&keys, p1, p2, scene.frames),
                    note: format!("{}: {note}", a.label),
                });
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        lines.push(TruthLine {
            name: l.name.to_string(),
            line: l.line.to_string(),
            kind: l.kind.to_string(),
            events: events.into_iter().map(|e| e.1).collect(),
            near_misses,
        });
    }
    for a in &scene.actors {
        if let Some((line, _)) = a
            .near_misses
            .iter()
            .find(|(line, _)| !scene.lines.iter().any(|l| l.name == *line))
        {
            bail!("scene {}: {} names no line {line}", scene.name, a.label);
        }
    }
    Ok(TruthFile {
        source: video_path(scene, split, fps),
        fps,
        size: [size.0, size.1],
        provenance: format!(
            "Composite scene made by baycount-scenes (scenes/ in this repository): people cut out \
             of vtest.avi (OpenCV sample data, BSD licence, from Debian's opencv-doc) and moved \
             on scripted paths over a clean plate (the per-pixel median of the footage), {}x{} at \
             {fps} fps, {} frames. The truth is exact by construction: each event is the frame at \
             which a scripted feet point (bottom-centre of the sprite's mask) crosses the segment, \
             with the counting rules of {} applied to the script.{}",
            size.0,
            size.1,
            scene.frames,
            match split {
                Split::Validation => "README.md",
                Split::Training => "../validation/README.md",
            },
            match split {
                Split::Validation => "",
                Split::Training =>
                    " Training split: the counter's defaults may be tuned on it; its scripts are \
                     not those of the validation scenes.",
            }
        ),
        lines,
    })
}

/// The truth file's text: pretty JSON and a final newline, byte for byte the same every run.
pub fn to_json(t: &TruthFile) -> Result<String> {
    Ok(serde_json::to_string_pretty(t).context("serialising a truth file")? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Actor;

    const SIZE: (usize, usize) = (768, 576);

    fn run(a: Actor, p1: (f64, f64), p2: (f64, f64)) -> Vec<(u64, bool)> {
        crossings(&a.keys().unwrap(), p1, p2, SIZE, 400, FPS)
            .unwrap()
            .iter()
            .map(|c| (c.frame, c.dir_in))
            .collect()
    }

    // A left-to-right horizontal line at y = 300, x 200..600.
    const H1: (f64, f64) = (200.0, 300.0);
    const H2: (f64, f64) = (600.0, 300.0);

    #[test]
    fn direction_follows_the_line_orientation() {
        // Down across a left-to-right line: from its left to its right, `in`, at frame 10.
        let down = Actor::new("d", "s", 0.0, (400.0, 250.0)).to(400.0, 350.0, 5.0);
        assert_eq!(run(down.clone(), H1, H2), vec![(10, true)]);
        // The same path over the line drawn right to left: `out`.
        assert_eq!(run(down, H2, H1), vec![(10, false)]);
        // A top-to-bottom vertical line: looking down the picture, its right is the picture's
        // left, so walking leftwards is `in`.
        let left = Actor::new("l", "s", 0.0, (430.0, 300.0)).to(330.0, 300.0, 10.0);
        assert_eq!(run(left, (400.0, 100.0), (400.0, 500.0)), vec![(3, true)]);
    }

    #[test]
    fn crossing_frame_is_the_nearest_frame() {
        // Runner at 45 px a frame: at y 255 at frame 1, 300 at 2.
        let r = Actor::new("r", "s", 0.0, (400.0, 210.0)).to(400.0, 500.0, 45.0);
        assert_eq!(run(r, H1, H2), vec![(2, true)]);
        let r = Actor::new("r", "s", 0.0, (400.0, 200.0)).to(400.0, 500.0, 45.0);
        assert_eq!(run(r, H1, H2), vec![(2, true)]); // 300 at 2.22
        let r = Actor::new("r", "s", 0.5, (400.0, 200.0)).to(400.0, 500.0, 45.0);
        assert_eq!(run(r, H1, H2), vec![(3, true)]); // at 2.72
    }

    #[test]
    fn only_the_segment_counts() {
        // Down past the segment's ends: nothing; just inside the ends: counted.
        for (x, n) in [(190.0, 0), (610.0, 0), (205.0, 1), (600.0, 1)] {
            let a = Actor::new("a", "s", 0.0, (x, 250.0)).to(x, 350.0, 5.0);
            assert_eq!(run(a, H1, H2).len(), n, "x = {x}");
        }
        // Around the end and back over the segment: only the segment crossing.
        let a = Actor::new("a", "s", 0.0, (400.0, 250.0))
            .to(150.0, 250.0, 10.0)
            .to(150.0, 350.0, 10.0)
            .to(400.0, 350.0, 10.0)
            .wait(30.0)
            .to(400.0, 250.0, 10.0);
        let c = run(a, H1, H2);
        assert_eq!(c.len(), 1);
        assert!(!c[0].1);
    }

    #[test]
    fn step_over_and_back_is_not_counted_but_staying_is() {
        let step = Actor::new("s", "s", 0.0, (400.0, 260.0))
            .to(400.0, 320.0, 5.0)
            .wait(2.0)
            .to(400.0, 260.0, 5.0);
        assert_eq!(run(step, H1, H2), vec![]);
        let stay = Actor::new("s", "s", 0.0, (400.0, 260.0))
            .to(400.0, 320.0, 5.0)
            .wait(25.0)
            .to(400.0, 260.0, 5.0);
        assert_eq!(run(stay, H1, H2), vec![(8, true), (41, false)]);
        let unclear = Actor::new("s", "s", 0.0, (400.0, 260.0))
            .to(400.0, 320.0, 5.0)
            .wait(10.0)
            .to(400.0, 260.0, 5.0);
        assert!(crossings(&unclear.keys().unwrap(), H1, H2, SIZE, 400, FPS).is_err());
        // A touch of the line without going over is nothing.
        let touch = Actor::new("t", "s", 0.0, (400.0, 260.0))
            .to(400.0, 300.0, 5.0)
            .to(400.0, 260.0, 5.0);
        assert_eq!(run(touch, H1, H2), vec![]);
    }

    #[test]
    fn standing_on_the_line_counts_once_when_leaving_to_the_far_side() {
        let through = Actor::new("s", "s", 0.0, (400.0, 250.0))
            .to(400.0, 300.0, 5.0)
            .wait(40.0)
            .to(400.0, 360.0, 5.0);
        assert_eq!(run(through, H1, H2), vec![(50, true)]);
        let back = Actor::new("s", "s", 0.0, (400.0, 250.0))
            .to(400.0, 300.0, 5.0)
            .wait(40.0)
            .to(400.0, 240.0, 5.0);
        assert_eq!(run(back, H1, H2), vec![]);
    }

    #[test]
    fn feet_must_be_seen_on_both_sides() {
        // A line 40 px from the left edge; walking in through the edge at 5 px a frame: seen
        // left of it first, counted.
        let (p1, p2) = ((40.0, 100.0), (40.0, 500.0));
        let walk = Actor::new("w", "s", 0.0, (-20.0, 300.0)).to(200.0, 300.0, 5.0);
        assert_eq!(run(walk, p1, p2), vec![(12, false)]);
        // Running in at 55 px a frame from x = -10: the feet are never in the picture left of the
        // line.
        let run_in = Actor::new("r", "s", 0.0, (-10.0, 300.0)).to(400.0, 300.0, 55.0);
        assert_eq!(run(run_in, p1, p2), vec![]);
        // Leaving through the bottom edge right after a line 10 px above it, at 20 px a frame:
        // the feet are seen beyond it only if a frame falls in those 10 px.
        let (b1, b2) = ((100.0, 566.0), (700.0, 566.0));
        let out = Actor::new("o", "s", 0.0, (400.0, 506.0)).to(400.0, 606.0, 20.0);
        assert_eq!(run(out, b1, b2), vec![]);
        let out = Actor::new("o", "s", 0.0, (400.0, 510.0)).to(400.0, 606.0, 20.0);
        assert_eq!(run(out, b1, b2), vec![(3, true)]);
    }

    #[test]
    fn a_scene_at_another_frame_rate_has_the_same_crossings_at_the_same_seconds() {
        use crate::script::{LineDef, View};
        let scene = Scene {
            name: "rate",
            view: View::FULL,
            frames: 100,
            lines: vec![LineDef {
                name: "L",
                line: "0.25,0.5,0.75,0.5",
                kind: "test",
            }],
            actors: vec![
                // Over the line (y 288) at frame 10 (1 s), back over it 5 s later: both count.
                Actor::new("c", "s", 0.0, (380.0, 238.0))
                    .to(380.0, 338.0, 5.0)
                    .wait(40.0)
                    .to(380.0, 238.0, 5.0),
                // Over and back within 0.8 s: a touch at any rate.
                Actor::new("t", "s", 10.0, (300.0, 268.0))
                    .to(300.0, 298.0, 5.0)
                    .to(300.0, 268.0, 5.0),
            ],
        };
        let frames = |fps: u32| -> Vec<(u64, &str)> {
            let t = truth(&scene.clone().at_fps(fps), Split::Validation, fps, |s| {
                s.into()
            })
            .unwrap();
            t.lines[0]
                .events
                .iter()
                .map(|e| (e.frame, e.direction))
                .collect()
        };
        assert_eq!(frames(FPS), vec![(10, "in"), (70, "out")]);
        assert_eq!(frames(30), vec![(30, "in"), (210, "out")]);
        let t = truth(&scene.clone().at_fps(30), Split::Training, 30, |s| s.into()).unwrap();
        assert_eq!(
            (t.fps, t.source.as_str()),
            (30, "assets/scenes-training-30fps/rate.mkv")
        );
    }
}
