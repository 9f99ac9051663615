//! What a scene is: its picture (a view of the plate), its counting lines and its actors, each
//! a sprite moved along waypoints at given speeds with pauses; the scripted feet positions are
//! what the truth is computed from.

use anyhow::{Result, bail};

/// Frames a second of every scene.
pub const FPS: u32 = 10;

/// The part of the footage's picture a scene shows, and the size it is shown at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// `[x, y, w, h]` in footage pixels.
    pub crop: [usize; 4],
    pub size: (usize, usize),
}

impl View {
    /// The whole 768x576 picture, unscaled.
    pub const FULL: View = View {
        crop: [0, 0, 768, 576],
        size: (768, 576),
    };

    /// Scene pixels per footage pixel.
    pub fn scale(&self) -> f64 {
        self.size.0 as f64 / self.crop[2] as f64
    }

    /// The footage y of scene y.
    pub fn source_y(&self, y: f64) -> f64 {
        self.crop[1] as f64 + y / self.scale()
    }
}

/// A counting line as `--line` takes it (normalised `x1,y1,x2,y2`).
#[derive(Debug, Clone)]
pub struct LineDef {
    pub name: &'static str,
    pub line: &'static str,
    pub kind: &'static str,
}

impl LineDef {
    /// The end points in scene pixels.
    pub fn points(&self, size: (usize, usize)) -> Result<[(f64, f64); 2]> {
        let v: Vec<f64> = self
            .line
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("line {}: {:?}: {e}", self.name, self.line))?;
        if v.len() != 4 || v.iter().any(|c| !(0.0..=1.0).contains(c)) {
            bail!(
                "line {}: {:?} is not four numbers in 0..1",
                self.name,
                self.line
            );
        }
        let (w, h) = (size.0 as f64, size.1 as f64);
        Ok([(v[0] * w, v[1] * h), (v[2] * w, v[3] * h)])
    }
}

/// One part of an actor's path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Leg {
    /// Walk in a straight line to `(x, y)` at `speed` pixels a frame.
    To(f64, f64, f64),
    /// Stand still for this many frames.
    Wait(f64),
}

/// A person in a scene.
#[derive(Debug, Clone)]
pub struct Actor {
    pub label: String,
    pub sprite: &'static str,
    /// The frame (may be fractional or negative) at which the actor is at `from`.
    pub start: f64,
    pub from: (f64, f64),
    pub legs: Vec<Leg>,
    /// `(line name, note)`: this actor's pass at that line must not count.
    pub near_misses: Vec<(&'static str, String)>,
}

/// A point of an actor's path: time in frames and feet position in scene pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Key {
    pub t: f64,
    pub x: f64,
    pub y: f64,
}

impl Actor {
    pub fn new(
        label: impl Into<String>,
        sprite: &'static str,
        start: f64,
        from: (f64, f64),
    ) -> Self {
        Actor {
            label: label.into(),
            sprite,
            start,
            from,
            legs: vec![],
            near_misses: vec![],
        }
    }

    /// Walks to `(x, y)` at `speed` px a frame.
    pub fn to(mut self, x: f64, y: f64, speed: f64) -> Self {
        self.legs.push(Leg::To(x, y, speed));
        self
    }

    /// Stands for `frames`.
    pub fn wait(mut self, frames: f64) -> Self {
        self.legs.push(Leg::Wait(frames));
        self
    }

    /// Notes that this actor's pass at `line` must not count.
    pub fn miss(mut self, line: &'static str, note: impl Into<String>) -> Self {
        self.near_misses.push((line, note.into()));
        self
    }

    /// The path as timed key points (a wait is two keys at one place).
    pub fn keys(&self) -> Result<Vec<Key>> {
        let mut keys = vec![Key {
            t: self.start,
            x: self.from.0,
            y: self.from.1,
        }];
        for leg in &self.legs {
            let last = keys[keys.len() - 1];
            match *leg {
                Leg::To(x, y, speed) => {
                    if speed <= 0.0 {
                        bail!("{}: a walk needs a positive speed", self.label);
                    }
                    let d = (x - last.x).hypot(y - last.y);
                    keys.push(Key {
                        t: last.t + d / speed,
                        x,
                        y,
                    });
                }
                Leg::Wait(frames) => keys.push(Key {
                    t: last.t + frames,
                    ..last
                }),
            }
        }
        Ok(keys)
    }
}

/// Where the path `keys` is at time `t` (`None` before its start or after its end), and the
/// index of the key the current leg starts from.
pub fn position(keys: &[Key], t: f64) -> Option<(f64, f64, usize)> {
    let first = keys.first()?;
    let last = keys.last()?;
    if t < first.t || t > last.t {
        return None;
    }
    for (i, w) in keys.windows(2).enumerate() {
        let (a, b) = (w[0], w[1]);
        if t <= b.t {
            let f = if b.t > a.t {
                (t - a.t) / (b.t - a.t)
            } else {
                1.0
            };
            return Some((a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f, i));
        }
    }
    Some((last.x, last.y, keys.len().saturating_sub(1)))
}

/// A composite scene.
#[derive(Debug, Clone)]
pub struct Scene {
    pub name: &'static str,
    pub view: View,
    pub frames: usize,
    pub lines: Vec<LineDef>,
    pub actors: Vec<Actor>,
}

/// Whether segments `a`-`b` and `c`-`d` touch.
fn segments_meet(a: (f64, f64), b: (f64, f64), c: (f64, f64), d: (f64, f64)) -> bool {
    let cross = |o: (f64, f64), p: (f64, f64), q: (f64, f64)| {
        (p.0 - o.0) * (q.1 - o.1) - (p.1 - o.1) * (q.0 - o.0)
    };
    let (d1, d2) = (cross(c, d, a), cross(c, d, b));
    let (d3, d4) = (cross(a, b, c), cross(a, b, d));
    d1 * d2 <= 0.0 && d3 * d4 <= 0.0
}

impl Scene {
    /// The same scene filmed at `fps` frames a second instead of [`FPS`]: every time and speed
    /// of the script is rescaled, so people walk the same paths in the same seconds (a camera's
    /// rate is the site's choice; the counter must not depend on it).
    pub fn at_fps(mut self, fps: u32) -> Self {
        let k = f64::from(fps) / f64::from(FPS);
        self.frames = (self.frames as f64 * k).round() as usize;
        for a in &mut self.actors {
            a.start *= k;
            for leg in &mut a.legs {
                *leg = match *leg {
                    Leg::To(x, y, speed) => Leg::To(x, y, speed / k),
                    Leg::Wait(frames) => Leg::Wait(frames * k),
                };
            }
        }
        self
    }

    /// Nobody appears or vanishes inside the picture: an actor whose path starts (after the
    /// first frame) or ends (before the last) inside it first walks in from, or last walks out
    /// to, the left or right edge, level, by the nearer edge whose way crosses no counting line
    /// (or stays as scripted if both ways would).
    pub fn walk_in_and_out(mut self) -> Result<Self> {
        let (w, h) = (self.view.size.0 as f64, self.view.size.1 as f64);
        let mut segments = vec![];
        for l in &self.lines {
            segments.push(l.points(self.view.size)?);
        }
        let inside = |x: f64, y: f64| x > 0.0 && x < w && y > 0.0 && y < h;
        // The edge to walk to from (x, y), if one can be reached without crossing a line.
        let edge = |x: f64, y: f64| {
            let (left, right) = (-40.0, w + 40.0);
            let order = if x < w / 2.0 {
                [left, right]
            } else {
                [right, left]
            };
            order.into_iter().find(|&ex| {
                !segments
                    .iter()
                    .any(|[p1, p2]| segments_meet((x, y), (ex, y), *p1, *p2))
            })
        };
        let frames = self.frames as f64;
        for a in &mut self.actors {
            let keys = a.keys()?;
            let speed = |leg: Option<&Leg>| match leg {
                Some(Leg::To(_, _, s)) => s.clamp(4.0, 8.0),
                _ => 6.0,
            };
            let (first, last) = (keys[0], keys[keys.len() - 1]);
            if first.t > 0.0
                && inside(first.x, first.y)
                && let Some(ex) = edge(first.x, first.y)
            {
                let v = speed(a.legs.first());
                a.legs.insert(0, Leg::To(first.x, first.y, v));
                a.start -= (first.x - ex).abs() / v;
                a.from = (ex, first.y);
            }
            if last.t < frames - 1.0
                && inside(last.x, last.y)
                && let Some(ex) = edge(last.x, last.y)
            {
                let v = speed(a.legs.iter().rev().find(|l| matches!(l, Leg::To(..))));
                a.legs.push(Leg::To(ex, last.y, v));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_time_walks_and_waits() {
        let a = Actor::new("a", "navy", 5.0, (0.0, 0.0))
            .to(30.0, 40.0, 5.0)
            .wait(3.0)
            .to(30.0, 0.0, 10.0);
        let k = a.keys().unwrap();
        let t: Vec<f64> = k.iter().map(|k| k.t).collect();
        assert_eq!(t, vec![5.0, 15.0, 18.0, 22.0]);
        assert_eq!(position(&k, 10.0).map(|p| (p.0, p.1)), Some((15.0, 20.0)));
        assert_eq!(position(&k, 16.0).map(|p| (p.0, p.1)), Some((30.0, 40.0)));
        assert_eq!(position(&k, 4.0), None);
        assert_eq!(position(&k, 23.0), None);
    }

    #[test]
    fn actors_walk_in_and_out_by_an_edge_clear_of_lines() {
        let scene = Scene {
            name: "t",
            view: View::FULL,
            frames: 100,
            lines: vec![LineDef {
                name: "L",
                line: "0.25,0.25,0.25,0.75",
                kind: "x",
            }],
            actors: vec![
                // Appears at (300, 200) at frame 10, vanishes at (400, 200): the left edge is
                // behind the line at x 192, so in and out by the right.
                Actor::new("a", "s", 10.0, (300.0, 200.0)).to(400.0, 200.0, 5.0),
                // Below the line's end: in by the left.
                Actor::new("b", "s", 10.0, (100.0, 500.0)).to(120.0, 500.0, 5.0),
                // There from the first frame to the last: as scripted.
                Actor::new("c", "s", 0.0, (300.0, 300.0)).to(400.0, 300.0, 0.5),
            ],
        }
        .walk_in_and_out()
        .unwrap();
        let a = &scene.actors[0];
        assert_eq!(a.from, (808.0, 200.0));
        assert!((a.start - (10.0 - 508.0 / 5.0)).abs() < 1e-9);
        assert_eq!(a.legs.last(), Some(&Leg::To(808.0, 200.0, 5.0)));
        assert_eq!(scene.actors[1].from, (-40.0, 500.0));
        assert_eq!(scene.actors[2].legs.len(), 1);
    }

    #[test]
    fn view_maps_scene_to_footage() {
        let v = View {
            crop: [0, 144, 768, 432],
            size: (640, 360),
        };
        assert!((v.scale() - 640.0 / 768.0).abs() < 1e-12);
        assert!((v.source_y(180.0) - (144.0 + 216.0)).abs() < 1e-9);
        let l = LineDef {
            name: "L",
            line: "0.5,0,0.5,1",
            kind: "x",
        };
        assert_eq!(
            l.points((640, 360)).unwrap(),
            [(320.0, 0.0), (320.0, 360.0)]
        );
        let bad = LineDef {
            name: "L",
            line: "0.5,0,1.5",
            kind: "x",
        };
        assert!(bad.points((640, 360)).is_err());
    }
}
