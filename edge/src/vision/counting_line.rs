//! The counting line: a directed segment; a track's anchor crossing it from its left to its right
//! counts one `in`, the other way one `out`.
//!
//! Convention (image y points down): a point q is on the *right* of `p1→p2` when
//! `cross(p2 - p1, q - p1) > 0`. A crossing is tested on the path from the track's last position
//! outside the dead band to its first position outside the band on the other side, and counts only
//! where that path meets the segment itself (not its extension); it is dated when the anchor first
//! went over the line's centre on the way (where that path, taken as straight and steady, meets
//! the line, when no reading was on the line), unless the track was on the line as long as it
//! takes to settle and hardly moved along it: then it stood there, and crossed as it left (one
//! that walks along the line crossed where it went over, and one that comes back onto the line
//! and walks along it keeps the crossing it made).
//!
//! A crossing counts only once the track has settled on the other side: it stayed there for
//! `settle_seconds`, went `settle_heights` of its own height past the line, or vanished there (out
//! of the picture). A track that comes back before that has touched the line, not crossed it;
//! one that crosses, settles and comes back counts once each way. A track that vanishes near the
//! line hands its state to a new track that appears close by soon after, so an id switch
//! mid-crossing neither loses nor doubles a count; so does one whose person was already seen
//! again as a second box born beside it moments before. Next to the picture's edge, where the detector
//! finds someone only once most of them is in view, a track first seen on the line came in
//! through the edge its box touches, and one that vanishes at the edge beyond the line (or so
//! near it that at its pace its box reaches it by the next frame), making for it, went out
//! through it. A box cut by the picture's edge hides the feet: a crossing seen
//! on one side only with cut boxes counts only if, at the track's speed, its feet were in the
//! picture on that side in some frame. Elsewhere a track first seen on the line came from the side
//! of its centre it is on, when it is more than half the band off it.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use baycount_protocol::Direction;

use crate::vision::geometry::{BBox, Point};
use crate::vision::tracker::TrackedObject;

/// The directed counting segment, in normalised image coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub p1: Point,
    pub p2: Point,
}

/// Why a line specification is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("a line is four numbers x1,y1,x2,y2 between 0 and 1 (e.g. 0,0.5,1,0.5), not {0:?}")]
    Syntax(String),
    #[error("the line's two ends are the same point; give two different points")]
    Degenerate,
}

impl FromStr for Line {
    type Err = LineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v: Vec<f32> = s
            .split(',')
            .map(|p| p.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|_| LineError::Syntax(s.to_owned()))?;
        let [x1, y1, x2, y2] = v[..] else {
            return Err(LineError::Syntax(s.to_owned()));
        };
        if v.iter().any(|c| !(0.0..=1.0).contains(c)) {
            return Err(LineError::Syntax(s.to_owned()));
        }
        let line = Line {
            p1: Point::new(x1, y1),
            p2: Point::new(x2, y2),
        };
        if line.p1.dist(line.p2) < 1e-3 {
            return Err(LineError::Degenerate);
        }
        Ok(line)
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{},{}", self.p1.x, self.p1.y, self.p2.x, self.p2.y)
    }
}

impl Line {
    /// Signed distance of `q` from the line: positive on its right.
    pub fn signed_distance(&self, q: Point) -> f32 {
        let d = self.p2 - self.p1;
        d.cross(q - self.p1) / self.p1.dist(self.p2)
    }

    /// How far a move `v` goes along the line (towards `p2`).
    pub fn along(&self, v: Point) -> f32 {
        v.dot(self.p2 - self.p1) / self.p1.dist(self.p2)
    }

    /// Distance of `q` from the segment (not its extension).
    pub fn distance_to_segment(&self, q: Point) -> f32 {
        let d = self.p2 - self.p1;
        let u = ((q - self.p1).dot(d) / d.dot(d)).clamp(0.0, 1.0);
        q.dist(self.p1 + d * u)
    }

    /// Whether the path `a→b` (whose ends are on opposite sides) meets the segment itself.
    fn crossed_by(&self, a: Point, b: Point) -> bool {
        let d = self.p2 - self.p1;
        let path = b - a;
        let denom = d.cross(path);
        if denom.abs() < f32::EPSILON {
            return false;
        }
        let u = (a - self.p1).cross(path) / denom;
        (-1e-4..=1.0 + 1e-4).contains(&u)
    }
}

/// Which point of a box is tracked across the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Anchor {
    /// Where a person's feet or a sack's bottom is: the default.
    #[default]
    BottomCenter,
    Center,
    TopCenter,
}

impl Anchor {
    pub fn of(self, b: &BBox) -> Point {
        let c = b.center();
        match self {
            Anchor::BottomCenter => Point::new(c.x, b.y2),
            Anchor::Center => c,
            Anchor::TopCenter => Point::new(c.x, b.y1),
        }
    }

    /// Whether the edge of `view` (the part of the picture the detector looks at, or the whole
    /// picture) cuts box `b` where it decides this anchor: then the anchor is not where the
    /// person's feet (or the sack's bottom) are, which may be out of view.
    pub fn cut(self, b: &BBox, view: &BBox) -> bool {
        let (top, bottom) = (b.y1 <= view.y1 + EDGE, b.y2 >= view.y2 - EDGE);
        b.x1 <= view.x1 + EDGE
            || b.x2 >= view.x2 - EDGE
            || match self {
                Anchor::BottomCenter => bottom,
                Anchor::Center => top || bottom,
                Anchor::TopCenter => top,
            }
    }
}

impl Anchor {
    /// Its name, as [`Anchor::from_str`] takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Anchor::BottomCenter => "bottom-center",
            Anchor::Center => "center",
            Anchor::TopCenter => "top-center",
        }
    }
}

impl FromStr for Anchor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bottom-center" | "bottom" => Ok(Anchor::BottomCenter),
            "center" => Ok(Anchor::Center),
            "top-center" | "top" => Ok(Anchor::TopCenter),
            _ => Err(format!(
                "anchor must be bottom-center, center or top-center, not {s:?}"
            )),
        }
    }
}

/// Tuning of the counter.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterConfig {
    pub line: Line,
    /// Half-width of the dead band around the line, in normalised units: movement inside it
    /// never counts, so jitter on the line does not.
    pub band: f32,
    pub anchor: Anchor,
    /// How near a new track must appear to a vanished one to take over its state (normalised).
    /// Tuned on the training set with the int8 default model (0.08 → 0.11: 33 → 29 wrong in
    /// `replay`; the uint8 model 25 either way), the validation set 39 → 38 in `replay`.
    pub handoff_radius: f32,
    /// How soon after the old one vanished, in seconds.
    pub handoff_seconds: f64,
    /// A crossing counts once the track has stayed on the other side this long (seconds)...
    pub settle_seconds: f64,
    /// ...or is this far past the line (in heights of its own box) a tenth of a second or more
    /// after it left the line: a step over the line and straight back is not a crossing.
    pub settle_heights: f32,
    /// A track this near the segment (normalised), or one that has crossed and not settled, is
    /// watched: the detector runs on every frame (see [`Counter::is_watching`]). Tuned on the
    /// training set (0.15 → 0.1: 31 → 30 wrong, 8 % → 14 % of frames not looked at; the
    /// validation set 34 wrong either way, 13 % → 20 % not looked at).
    pub watch_distance: f32,
}

impl CounterConfig {
    pub fn new(line: Line) -> Self {
        Self {
            line,
            band: 0.01,
            anchor: Anchor::BottomCenter,
            handoff_radius: 0.11,
            handoff_seconds: 1.0,
            settle_seconds: 1.0,
            settle_heights: 0.5,
            watch_distance: 0.1,
        }
    }
}

/// One counted crossing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    /// The frame in which the track crossed (the count may be decided a little later, once the
    /// track has settled on the other side).
    pub frame: u64,
    /// Seconds since the start of the source, of that frame.
    pub time: f64,
    pub track: u64,
    pub direction: Direction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

impl Side {
    /// The direction of a crossing that ends on this side.
    fn direction(self) -> Direction {
        match self {
            Side::Right => Direction::In,
            Side::Left => Direction::Out,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Right => Side::Left,
            Side::Left => Side::Right,
        }
    }
}

#[derive(Debug, Clone)]
struct TrackLine {
    /// The side the track was last on, outside the band.
    side: Option<Side>,
    /// That side was read with the anchor in view (see [`Anchor::cut`]), not guessed from the
    /// picture's edge or read off a box cut by it.
    side_seen: bool,
    /// Where it last was outside the band.
    outside: Point,
    /// When it was last outside the band (frame, seconds).
    outside_at: (u64, f64),
    /// Where it last was at all, and when (frame, seconds).
    last: Point,
    last_frame: u64,
    last_time: f64,
    /// When its anchor first went over the line's centre since it was last off the line
    /// (frame, seconds; between two readings, where the way between them met the centre).
    centre: Option<(u64, f64)>,
    /// How fast it moved lately (normalised units a second, smoothed over a few frames).
    velocity: Point,
    /// A crossing through the segment that is not counted yet: the track has not settled on
    /// the other side.
    pending: Option<Pending>,
    /// The crossing it makes if it vanishes now: it was last seen at the picture's edge, making
    /// for it, with the line between it and the edge.
    exit: Option<Pending>,
    /// When it was first seen.
    born: f64,
    /// It has made a crossing of its own (pending or counted).
    crossed: bool,
    /// Its box's height when last seen.
    height: f32,
    /// Where and when its anchor was last seen in view (its box not cut by the picture's edge).
    sure: Option<(Point, f64)>,
    /// How fast it moved between such readings (normalised units a second, smoothed).
    sure_velocity: Option<Point>,
}

impl TrackLine {
    /// Where it would be at `time` had it gone on as it went: a fast mover lost for a moment
    /// is looked for ahead of where it was last seen, not behind.
    fn predicted(&self, time: f64) -> Point {
        self.last + self.velocity * (time - self.last_time) as f32
    }
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    to: Side,
    /// When it crossed: where its way over the line met the line's centre (having stood on the
    /// line: when it left it), or when it left the line again after going back over its centre or
    /// standing on it (a box flickering back into the band is not a new crossing).
    frame: u64,
    time: f64,
    /// When it last left the line for the other side: settling is timed from there.
    left: f64,
    /// The track has been on the line (in the band) since it crossed, since `entered`, when it
    /// was at `entered_at`.
    near: bool,
    entered: f64,
    entered_at: Point,
    /// ...and on the side it came from of the line's centre.
    back: bool,
    /// The side it came from was seen (see [`TrackLine::side_seen`]).
    from_seen: bool,
    /// Where it was first seen in view on the other side, if it was.
    to_seen: Option<Point>,
    /// Where it was last seen in view before it crossed.
    before: Option<Point>,
}

impl Pending {
    /// A crossing to `to` dated frame `frame` at `time`, made from the line: the track is just
    /// leaving it, at `at`.
    fn new(to: Side, frame: u64, time: f64, at: Point) -> Self {
        Self {
            to,
            frame,
            time,
            left: time,
            entered: time,
            entered_at: at,
            near: true,
            back: false,
            from_seen: true,
            to_seen: None,
            before: None,
        }
    }
}

/// A track's speed is measured between sightings at most this far apart, in seconds.
const VELOCITY_GAP: f32 = 0.5;

/// A track's speed forgets half of what it was in this many seconds, whatever the frame rate.
const VELOCITY_HALF_LIFE: f32 = 0.1;

/// A track far past the line counts only if it is still there this long after it left the line
/// (about two readings at 10 frames a second, less a margin for rounding): no box flickers that
/// long, at any frame rate.
const FAR_SECONDS: f64 = 0.095;

/// A track born beside one that vanishes moments later, at most this many of the vanished one's
/// heights from where it would be, is the same person's second box (and at most the hand-off
/// radius). Tuned on the training set: 0.2, 0.25, 0.3, 0.35, 0.4, 0.5 of a height and off gave
/// 72, 74, 70, 70, 73, 78 and 72 wrong at 10, 30 and 5 frames a second together; the validation
/// set 38 → 35 (and 5 → 2 at 30 frames a second).
const DOUBLE_HEIGHTS: f32 = 0.3;

/// A track on the line for `settle_seconds` (on its way over, or back on it after crossing it)
/// stood there if it moved less than this many of its heights along the line. Tuned on the
/// training set (for a track back on the line): 0.1 to 0.5 gave 18 wrong at 10 frames a second
/// (26 at 5, 20 at 30), 0.75 and more (any walk along the line taken for standing) 20; the
/// validation set 40 either way.
const STOOD_HEIGHTS: f32 = 0.25;

/// How much (0..1) of the straight way from `a` to `b`, on either side of `line`, lies before its
/// centre.
fn to_centre(line: &Line, a: Point, b: Point) -> f64 {
    let (d0, d1) = (line.signed_distance(a).abs(), line.signed_distance(b).abs());
    f64::from(d0 / (d0 + d1).max(f32::EPSILON))
}

/// The frame and time `share` (0..1) of the way from `a` to `b` (each frame, seconds).
fn between(a: (u64, f64), b: (u64, f64), share: f64) -> (u64, f64) {
    let frames = (share * b.0.saturating_sub(a.0) as f64).round() as u64;
    (a.0 + frames, a.1 + share * (b.1 - a.1))
}

/// How many frames [`Counter::reaches`] walks a point before it gives up (and believes).
const WALK_FRAMES: u32 = 50;

/// How long the state of a track that is not seen is remembered, in seconds.
const FORGET_SECONDS: f64 = 10.0;

/// Counts crossings of tracked objects.
#[derive(Debug)]
pub struct Counter {
    config: CounterConfig,
    tracks: HashMap<u64, TrackLine>,
    count_in: u64,
    count_out: u64,
    /// When `update` was last called.
    last_update: f64,
    /// The shortest time between two updates so far: a frame of the source.
    frame_interval: f64,
    /// The part of the picture the detector looks at (see [`Counter::set_view`]).
    view: BBox,
}

impl Counter {
    pub fn new(config: CounterConfig) -> Self {
        Self {
            config,
            tracks: HashMap::new(),
            count_in: 0,
            count_out: 0,
            last_update: f64::NEG_INFINITY,
            frame_interval: f64::INFINITY,
            view: BBox::FULL,
        }
    }

    /// The part of the picture the detector looks at, when it is not the whole: its edges hide
    /// people as the picture's do.
    pub fn set_view(&mut self, view: BBox) {
        self.view = view;
    }

    pub fn count_in(&self) -> u64 {
        self.count_in
    }

    pub fn count_out(&self) -> u64 {
        self.count_out
    }

    pub fn config(&self) -> &CounterConfig {
        &self.config
    }

    /// The side of the line `q` is on, outside the band.
    fn side(&self, q: Point) -> Option<Side> {
        self.side_beyond(q, self.config.band)
    }

    /// The side of the line `q` is on, more than `margin` off it.
    fn side_beyond(&self, q: Point, margin: f32) -> Option<Side> {
        let d = self.config.line.signed_distance(q);
        if d > margin {
            Some(Side::Right)
        } else if d < -margin {
            Some(Side::Left)
        } else {
            None
        }
    }

    fn count(&mut self, track: u64, p: Pending) -> Crossing {
        let direction = p.to.direction();
        match direction {
            Direction::In => self.count_in += 1,
            Direction::Out => self.count_out += 1,
        }
        Crossing {
            frame: p.frame,
            time: p.time,
            track,
            direction,
        }
    }

    /// Feeds the tracks seen in frame `frame` at `time` seconds; returns the crossings counted.
    pub fn update(&mut self, objects: &[TrackedObject], frame: u64, time: f64) -> Vec<Crossing> {
        let mut crossings = Vec::new();
        for obj in objects {
            let q = self.config.anchor.of(&obj.bbox);
            let now_side = self.side(q);
            let mut state = match self.tracks.remove(&obj.id) {
                Some(s) => s,
                None => self.take_over(q, time, objects).unwrap_or_else(|| {
                    let (side, outside) = match now_side {
                        None => self.first_side(&obj.bbox, q),
                        _ => (now_side, q),
                    };
                    TrackLine {
                        side,
                        side_seen: outside == q && !self.config.anchor.cut(&obj.bbox, &self.view),
                        outside,
                        outside_at: (frame, time),
                        last: q,
                        last_frame: frame,
                        last_time: time,
                        centre: None,
                        velocity: Point::new(0.0, 0.0),
                        pending: None,
                        exit: None,
                        born: time,
                        crossed: false,
                        height: obj.bbox.height(),
                        sure: None,
                        sure_velocity: None,
                    }
                }),
            };
            crossings.extend(self.step(&mut state, obj, q, now_side, frame, time));
            self.tracks.insert(obj.id, state);
        }
        crossings.extend(self.merge_doubles(objects, frame, time));
        if time > self.last_update {
            self.frame_interval = self.frame_interval.min(time - self.last_update);
        }
        self.last_update = time;
        // A track that vanished on the other side (out of the picture, or lost for good) and
        // that nobody took over has crossed.
        let handoff = self.config.handoff_seconds;
        let gone = |s: &TrackLine| time - s.last_time > handoff;
        crossings.extend(self.count_taken(gone, |s| &mut s.pending));
        // So has one that vanished at the picture's edge beyond the line, making for it.
        crossings.extend(self.count_taken(gone, |s| &mut s.exit));
        self.tracks
            .retain(|_, s| time - s.last_time <= FORGET_SECONDS);
        crossings.sort_by_key(|c| c.frame);
        crossings
    }

    /// One person seen as two boxes for a moment: a track that vanished this frame hands its
    /// state to a track born shortly before it vanished, close to where it would be now (a
    /// fraction of its height), that has not crossed on its own. The younger box then goes on
    /// from the older one's side, so a box that replaced another mid-crossing counts it.
    fn merge_doubles(&mut self, objects: &[TrackedObject], frame: u64, time: f64) -> Vec<Crossing> {
        let (radius, young) = (self.config.handoff_radius, self.config.handoff_seconds);
        let seen = |id: u64| objects.iter().any(|o| o.id == id);
        let vanished: Vec<u64> = self
            .tracks
            .iter()
            .filter(|(id, s)| s.last_time == self.last_update && !seen(**id))
            .map(|(id, _)| *id)
            .collect();
        let mut crossings = vec![];
        for old in vanished {
            let Some(o) = self.tracks.get(&old) else {
                continue;
            };
            let at = o.predicted(time);
            let reach = (DOUBLE_HEIGHTS * o.height).min(radius);
            let double = objects
                .iter()
                .filter_map(|obj| {
                    let s = self.tracks.get(&obj.id)?;
                    let d = s.last.dist(at);
                    let born_before = s.born <= o.last_time && o.last_time - s.born <= young;
                    (born_before && !s.crossed && d <= reach).then_some((obj, d))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(obj, _)| obj);
            let Some(obj) = double else { continue };
            let (Some(mut merged), Some(new)) =
                (self.tracks.remove(&old), self.tracks.remove(&obj.id))
            else {
                continue;
            };
            (merged.last, merged.last_frame, merged.last_time) = (new.last, frame, time);
            (merged.velocity, merged.born) = (new.velocity, new.born);
            merged.sure = new.sure.or(merged.sure);
            merged.sure_velocity = new.sure_velocity.or(merged.sure_velocity);
            let side = self.side(new.last);
            crossings.extend(self.step(&mut merged, obj, new.last, side, frame, time));
            self.tracks.insert(obj.id, merged);
        }
        crossings
    }

    /// Moves a track's state to its reading `q` (on side `now_side`); returns the crossing it
    /// counts, if it settles now.
    fn step(
        &mut self,
        state: &mut TrackLine,
        obj: &TrackedObject,
        q: Point,
        now_side: Option<Side>,
        frame: u64,
        time: f64,
    ) -> Option<Crossing> {
        let mut counted = None;
        let in_view = !self.config.anchor.cut(&obj.bbox, &self.view);
        if now_side.is_none()
            && state.centre.is_none()
            && let Some(from) = state.side
        {
            // On the line: the first time the anchor goes over its centre, coming from `from`.
            let line = &self.config.line;
            let past = |p: Point| (line.signed_distance(p) > 0.0) != (from == Side::Right);
            if past(q) {
                let share = if past(state.last) {
                    0.0
                } else {
                    to_centre(line, state.last, q)
                };
                let last = (state.last_frame, state.last_time);
                state.centre = Some(between(last, (frame, time), share));
            }
        }
        if let Some(side) = now_side {
            let changed = state.side.is_some_and(|prev| prev != side);
            if changed {
                state.pending = match state.pending {
                    // Back to where it came from before settling: a touch, not a crossing.
                    Some(p) if p.to != side => None,
                    _ if self.config.line.crossed_by(state.outside, q) => {
                        let (crossed, at) = self.centre_crossed(state, q, frame, time);
                        Some(Pending {
                            frame: crossed,
                            time: at,
                            from_seen: state.side_seen,
                            before: state.sure.map(|(b, _)| b),
                            ..Pending::new(side, frame, time, q)
                        })
                    }
                    // Round the end of the segment.
                    _ => None,
                };
            }
            state.side_seen = in_view || (state.side_seen && !changed);
            state.side = Some(side);
            state.outside = q;
            state.outside_at = (frame, time);
            state.centre = None;
        }
        if in_view {
            if let Some((b, t)) = state.sure {
                state.sure_velocity = smoothed(state.sure_velocity, b, q, (time - t) as f32);
            }
            state.sure = Some((q, time));
        }
        if let Some(p) = &mut state.pending {
            if in_view && now_side == Some(p.to) && p.to_seen.is_none() {
                p.to_seen = Some(q);
            }
            if now_side != Some(p.to) {
                if !p.near {
                    (p.near, p.entered, p.entered_at) = (true, time, q);
                }
                let d = self.config.line.signed_distance(q);
                p.back |= (d > 0.0) != (p.to == Side::Right);
            } else {
                // Leaving the line for the other side: settling starts now, and someone who
                // stood on the line (or went back over its centre) crosses now. Someone who
                // walked along it crossed when they first left it.
                let stood = self.stood((p.entered_at, p.entered), (q, time), obj.bbox.height());
                if p.back || p.near && stood {
                    (p.frame, p.time, p.back) = (frame, time, false);
                }
                if p.near {
                    (p.left, p.near) = (time, false);
                }
                let far = time - p.left >= FAR_SECONDS
                    && self.config.line.signed_distance(q).abs()
                        >= self.config.settle_heights * obj.bbox.height();
                if far || time - p.left >= self.config.settle_seconds {
                    let p = *p;
                    state.pending = None;
                    counted = self
                        .seen_both_sides(state, &p)
                        .then(|| self.count(obj.id, p));
                }
            }
        }
        let dt = (time - state.last_time) as f32;
        if let Some(v) = smoothed(Some(state.velocity), state.last, q, dt) {
            state.velocity = v;
        }
        state.last = q;
        state.last_frame = frame;
        state.last_time = time;
        state.height = obj.bbox.height();
        state.exit = match state.pending {
            None => self.leaving_through_edge(state, &obj.bbox, frame, time),
            Some(_) => None,
        };
        if state.pending.is_some() || counted.is_some() {
            state.crossed = true;
        }
        counted
    }

    /// When a track that was last off the line at `s.outside` and is now off it on the other
    /// side at `q` (in `frame`, at `time`) crossed it: when its anchor first went over the line's
    /// centre, as someone who walks over the line slowly, at a low angle or along it crossed it
    /// on the way, not where they left it (where its way between the two readings, taken as
    /// straight and steady, meets the centre, when no reading was on the line); but one that
    /// stood on it (see [`Counter::stood`]) crosses as it leaves it.
    fn centre_crossed(&self, s: &TrackLine, q: Point, frame: u64, time: f64) -> (u64, f64) {
        if self.stood((s.outside, s.outside_at.1), (q, time), s.height) {
            return (frame, time);
        }
        let line = &self.config.line;
        s.centre
            .unwrap_or_else(|| between(s.outside_at, (frame, time), to_centre(line, s.outside, q)))
    }

    /// Whether a track of `height` that was at `from` (point, seconds) and is now at `now` stood on
    /// the line in between: there as long as it takes to settle, and moved less than
    /// [`STOOD_HEIGHTS`] of its height along the line.
    fn stood(&self, from: (Point, f64), now: (Point, f64), height: f32) -> bool {
        now.1 - from.1 >= self.config.settle_seconds
            && self.config.line.along(now.0 - from.0).abs() < STOOD_HEIGHTS * height
    }

    /// Whether a track seen in the last half second is near the line or has crossed it and not
    /// settled: then every frame matters; otherwise the pipeline may look at fewer.
    pub fn is_watching(&self, time: f64) -> bool {
        self.watched(time).next().is_some()
    }

    /// The heights (of the picture) of the tracks [`Counter::is_watching`] watches.
    pub fn watched(&self, time: f64) -> impl Iterator<Item = f32> + '_ {
        self.tracks.values().filter_map(move |s| {
            let watched = time - s.last_time <= 0.5
                && (s.pending.is_some()
                    || self.config.line.distance_to_segment(s.last) <= self.config.watch_distance);
            watched.then_some(s.height)
        })
    }

    /// The source has ended: every track that crossed and has not come back counts.
    pub fn finish(&mut self) -> Vec<Crossing> {
        let mut crossings = self.count_taken(|_| true, |s| &mut s.pending);
        crossings.sort_by_key(|c| c.frame);
        crossings
    }

    /// Counts the crossings `crossing` holds (the pending one, or the exit) of the tracks
    /// `which` picks.
    fn count_taken(
        &mut self,
        which: impl Fn(&TrackLine) -> bool,
        crossing: impl Fn(&mut TrackLine) -> &mut Option<Pending>,
    ) -> Vec<Crossing> {
        let taken: Vec<(u64, Pending)> = self
            .tracks
            .iter_mut()
            .filter(|(_, s)| which(s))
            .filter_map(|(id, s)| crossing(s).take().map(|p| (*id, p)))
            .collect();
        let seen: Vec<(u64, Pending)> = taken
            .into_iter()
            .filter(|(id, p)| {
                self.tracks
                    .get(id)
                    .is_some_and(|s| self.seen_both_sides(s, p))
            })
            .collect();
        seen.into_iter().map(|(id, p)| self.count(id, p)).collect()
    }

    /// Where a track first seen on the line (in the band) came from, and the point it came
    /// from: through the picture's edge its box touches, when that edge is off the line (the
    /// detector often finds someone only once most of them is in the picture); else from the
    /// side of the line's centre it is on, when it is more than half the band off it; else
    /// nowhere known.
    fn first_side(&self, b: &BBox, q: Point) -> (Option<Side>, Point) {
        edges_touched(b, q, &self.view)
            .find_map(|p| self.side(p).map(|s| (Some(s), p)))
            .unwrap_or_else(|| (self.side_beyond(q, self.config.band / 2.0), q))
    }

    /// The crossing a track makes if it vanishes now: its box touches an edge of the picture
    /// on the other side of the line (or will by the next frame, at its pace: a runner), it is
    /// making for that edge, and its way there goes through the segment. Someone half out of the
    /// picture is often not found at all.
    fn leaving_through_edge(
        &self,
        s: &TrackLine,
        b: &BBox,
        frame: u64,
        time: f64,
    ) -> Option<Pending> {
        let from = s.side?;
        let q = s.last;
        // A fast mover whose box reaches the edge before the next reading is as good as there.
        let ahead = if self.frame_interval.is_finite() {
            b.moved(s.velocity * self.frame_interval as f32)
        } else {
            *b
        };
        edges_touched(b, q, &self.view)
            .chain(edges_touched(&ahead, q, &self.view))
            .find_map(|p| {
                let to = self.side(p).filter(|to| *to != from)?;
                let making_for = (p - q).dot(s.velocity) > 0.0;
                (making_for && self.config.line.crossed_by(s.outside, p)).then_some(Pending {
                    near: false,
                    from_seen: s.side_seen,
                    before: s.sure.map(|(b, _)| b),
                    ..Pending::new(to, frame, time, p)
                })
            })
    }

    /// Whether the track's anchor was in view on both sides of crossing `p`, or would have been
    /// at its speed (rule 4 of the validation set): when one side was seen only with the box cut
    /// by the picture's edge, the anchor is walked from where it was last (or first) seen in view,
    /// a frame at a time, towards that side; if it leaves the picture first, as a runner through
    /// the strip between a line and the edge does, the crossing was never seen and does not count.
    /// A walker is seen there in some frame, and counts.
    fn seen_both_sides(&self, s: &TrackLine, p: &Pending) -> bool {
        let (Some(v), true) = (s.sure_velocity, self.frame_interval.is_finite()) else {
            return true;
        };
        let step = v * self.frame_interval as f32;
        match (p.from_seen, p.to_seen, p.before) {
            (false, Some(first), _) => self.reaches(first, step * -1.0, p.to.other()),
            (true, None, Some(before)) => self.reaches(before, step, p.to),
            _ => true,
        }
    }

    /// Whether a point at `from` that moves by `step` a frame is, or reaches, `side` of the line
    /// before it leaves the picture (or stops, or moves away from that side: then nothing is
    /// known, and it does).
    fn reaches(&self, from: Point, step: Point, side: Side) -> bool {
        let line = &self.config.line;
        let towards = line.signed_distance(from + step) - line.signed_distance(from);
        if towards.abs() < 1e-4 || (towards > 0.0) != (side == Side::Right) {
            return true;
        }
        (0..=WALK_FRAMES)
            .map(|k| from + step * k as f32)
            .find_map(|q| {
                let v = &self.view;
                let inside = (v.x1..=v.x2).contains(&q.x) && (v.y1..=v.y2).contains(&q.y);
                (!inside || self.side_beyond(q, 0.0) == Some(side)).then_some(inside)
            })
            .unwrap_or(true)
    }

    /// The state of the nearest track that vanished moments ago and would be close to `q` now, if
    /// any.
    fn take_over(&mut self, q: Point, time: f64, seen: &[TrackedObject]) -> Option<TrackLine> {
        let cfg = &self.config;
        let id = self
            .tracks
            .iter()
            .filter(|(id, s)| {
                s.last_time < time
                    && time - s.last_time <= cfg.handoff_seconds
                    && s.predicted(time).dist(q) <= cfg.handoff_radius
                    && !seen.iter().any(|o| o.id == **id)
            })
            .min_by(|a, b| {
                let (da, db) = (a.1.predicted(time).dist(q), b.1.predicted(time).dist(q));
                da.total_cmp(&db)
            })
            .map(|(id, _)| *id)?;
        self.tracks.remove(&id)
    }
}

/// Speed `v` (none yet: the reading is taken as it is) smoothed with a move from `a` to `b` in
/// `dt` seconds; readings too far apart leave it as it was.
fn smoothed(v: Option<Point>, a: Point, b: Point, dt: f32) -> Option<Point> {
    if !(dt > 0.0 && dt <= VELOCITY_GAP) {
        return v;
    }
    let step = (b - a) * (1.0 / dt);
    let keep = 0.5f32.powf(dt / VELOCITY_HALF_LIFE);
    Some(v.map_or(step, |v| v * keep + step * (1.0 - keep)))
}

/// A box this near an edge of the picture (normalised) touches it.
const EDGE: f32 = 0.01;

/// The points of the edges of `view` (the part of the picture the detector looks at) that box
/// `b` touches, level with its anchor `q`.
fn edges_touched(b: &BBox, q: Point, view: &BBox) -> impl Iterator<Item = Point> {
    [
        (b.y1 <= view.y1 + EDGE, Point::new(q.x, view.y1)),
        (b.y2 >= view.y2 - EDGE, Point::new(q.x, view.y2)),
        (b.x1 <= view.x1 + EDGE, Point::new(view.x1, q.y)),
        (b.x2 >= view.x2 - EDGE, Point::new(view.x2, q.y)),
    ]
    .into_iter()
    .filter_map(|(touches, p)| touches.then_some(p))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A horizontal line across the middle, left to right: moving down the image is `in`.
    fn middle() -> Counter {
        Counter::new(CounterConfig::new("0,0.5,1,0.5".parse().expect("line")))
    }

    /// A small box whose bottom-centre is at (x, y).
    fn at(id: u64, x: f32, y: f32) -> TrackedObject {
        TrackedObject {
            id,
            class: 0,
            score: 0.9,
            bbox: BBox::new(x - 0.02, y - 0.1, x + 0.02, y),
        }
    }

    /// The track is gone from frame `from` on: 12 empty frames, then the counts.
    fn gone(c: &mut Counter, from: u64) -> (u64, u64) {
        for i in from..from + 12 {
            c.update(&[], i, i as f64 / 10.0);
        }
        (c.count_in(), c.count_out())
    }

    /// Feeds one track along the given y positions at x = 0.5, 10 frames a second.
    fn run(counter: &mut Counter, id: u64, ys: &[f32]) -> Vec<Crossing> {
        run_from(counter, id, 0, ys)
    }

    /// The same from frame `first` on.
    fn run_from(counter: &mut Counter, id: u64, first: u64, ys: &[f32]) -> Vec<Crossing> {
        run_at(counter, id, first, 10.0, ys)
    }

    /// Feeds one track walking `path` ((x, y) of its anchor, a frame each, from frame 0 at 10
    /// frames a second); returns the crossings counted.
    fn walk(
        counter: &mut Counter,
        id: u64,
        path: impl IntoIterator<Item = (f32, f32)>,
    ) -> Vec<Crossing> {
        let mut all = vec![];
        for (f, (x, y)) in (0u64..).zip(path) {
            all.extend(counter.update(&[at(id, x, y)], f, f as f64 / 10.0));
        }
        all
    }

    /// The same at `fps` frames a second.
    fn run_at(counter: &mut Counter, id: u64, first: u64, fps: f64, ys: &[f32]) -> Vec<Crossing> {
        let mut all = vec![];
        for (i, &y) in (first..).zip(ys) {
            all.extend(counter.update(&[at(id, 0.5, y)], i, i as f64 / fps));
        }
        all
    }

    #[test]
    fn parses_and_rejects_lines() {
        let l: Line = "0, 0.5, 1, 0.5".parse().expect("valid");
        assert_eq!(l.to_string(), "0,0.5,1,0.5");
        assert!(matches!(
            "0,0.5,1".parse::<Line>(),
            Err(LineError::Syntax(_))
        ));
        assert!(matches!(
            "0,0.5,1,1.5".parse::<Line>(),
            Err(LineError::Syntax(_))
        ));
        assert!(matches!(
            "a,b,c,d".parse::<Line>(),
            Err(LineError::Syntax(_))
        ));
        assert_eq!(
            "0.5,0.5,0.5,0.5".parse::<Line>(),
            Err(LineError::Degenerate)
        );
    }

    #[test]
    fn moving_down_across_a_left_to_right_line_is_in() {
        let mut c = middle();
        let crossings = run(&mut c, 7, &[0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7]);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
        assert_eq!(crossings.len(), 1);
        assert_eq!(
            (
                crossings[0].track,
                crossings[0].direction,
                crossings[0].frame
            ),
            (7, Direction::In, 3),
            "dated in the frame its feet were on the line, not the one it left it in"
        );
    }

    #[test]
    fn moving_up_is_out() {
        let mut c = middle();
        run(&mut c, 1, &[0.7, 0.6, 0.5, 0.4, 0.3]);
        assert_eq!((c.count_in(), c.count_out()), (0, 1));
    }

    #[test]
    fn flicker_inside_the_band_counts_nothing() {
        // A-A-B-A where B is just across the line but inside the dead band.
        let mut c = middle();
        run(&mut c, 1, &[0.45, 0.45, 0.505, 0.45, 0.49, 0.508, 0.45]);
        assert_eq!((c.count_in(), c.count_out()), (0, 0));
    }

    #[test]
    fn big_flicker_counts_nothing_until_it_settles() {
        // A-B-A-B-A across the whole band, a frame on each side: never settled.
        let mut c = middle();
        run(&mut c, 1, &[0.4, 0.6, 0.4, 0.6, 0.4, 0.6, 0.4]);
        assert_eq!((c.count_in(), c.count_out()), (0, 0));
        let mut c = middle();
        run(&mut c, 1, &[0.4, 0.6, 0.4, 0.6, 0.4, 0.6, 0.6, 0.65]);
        assert_eq!((c.count_in(), c.count_out()), (1, 0), "then stays: once");
    }

    #[test]
    fn a_step_over_and_straight_back_counts_nothing() {
        let mut c = middle();
        // 0.03 past the line (less than half its 0.1 height) for 0.5 s, then back.
        run(
            &mut c,
            1,
            &[0.3, 0.4, 0.47, 0.52, 0.53, 0.53, 0.53, 0.52, 0.47, 0.4, 0.3],
        );
        assert_eq!((c.count_in(), c.count_out()), (0, 0));
    }

    /// Feeds frames of several boxes (id, feet y at x = 0.5), 10 frames a second.
    fn run_frames(counter: &mut Counter, frames: &[&[(u64, f32)]]) -> Vec<Crossing> {
        let mut all = vec![];
        for (i, boxes) in (0u64..).zip(frames) {
            let objs: Vec<TrackedObject> = boxes.iter().map(|&(id, y)| at(id, 0.5, y)).collect();
            all.extend(counter.update(&objs, i, i as f64 / 10.0));
        }
        all
    }

    #[test]
    fn a_second_box_that_replaces_the_first_on_the_line_carries_its_crossing() {
        // Track 1 walks down onto the line (the band is 0.49-0.51); a second box on the same
        // person, track 2, appears a little lower while track 1 is still seen, and track 1
        // vanishes. Track 2 goes on down: the person crossed once.
        let mut c = middle();
        let got = run_frames(
            &mut c,
            &[
                &[(1, 0.44)],
                &[(1, 0.47)],
                &[(1, 0.50)],
                &[(1, 0.505), (2, 0.52)],
                &[(2, 0.54)],
                &[(2, 0.57)],
                &[(2, 0.60)],
                &[(2, 0.63)],
            ],
        );
        assert_eq!((c.count_in(), c.count_out()), (1, 0), "{got:?}");
        assert_eq!(got[0].track, 2);
        assert_eq!(
            got[0].frame, 2,
            "dated when the feet were on the line, though the second box carried it off"
        );

        // Someone else appearing past the line beside the first (more than a third of a height
        // away) is not its second box: neither crossed.
        let mut c = middle();
        run_frames(
            &mut c,
            &[
                &[(1, 0.44)],
                &[(1, 0.47)],
                &[(1, 0.50)],
                &[(1, 0.505), (2, 0.58)],
                &[(2, 0.60)],
                &[(2, 0.63)],
                &[(2, 0.66)],
            ],
        );
        assert_eq!((c.count_in(), c.count_out()), (0, 0));
    }

    #[test]
    fn a_lunge_far_over_the_line_counts_only_if_it_lasts_a_tenth_of_a_second_at_any_frame_rate() {
        // More than half its 0.1 height past the line in two readings 1/30 s apart, then back:
        // a box flickering, at 30 frames a second.
        let mut c = middle();
        run_at(
            &mut c,
            1,
            0,
            30.0,
            &[0.3, 0.4, 0.45, 0.57, 0.57, 0.45, 0.4, 0.3],
        );
        assert_eq!((c.count_in(), c.count_out()), (0, 0), "a flicker at 30 fps");
        // Still there a tenth of a second after it left the line: gone over, at 30 fps as at 10.
        for fps in [10.0, 30.0] {
            let mut c = middle();
            let n = (fps / 10.0) as usize + 1;
            let mut ys = vec![0.3, 0.4, 0.45];
            ys.extend(vec![0.57; n]);
            let crossings = run_at(&mut c, 1, 0, fps, &ys);
            assert_eq!(crossings.len(), 1, "{fps} fps");
            // 0.05 before the line in frame 2, 0.07 past it in frame 3: nearer frame 2.
            assert_eq!(crossings[0].frame, 2, "{fps} fps");
        }
    }

    #[test]
    fn crossing_staying_and_coming_back_counts_once_each_way() {
        let mut c = middle();
        let mut ys = vec![0.3, 0.4, 0.48];
        ys.extend([0.53; 15]);
        ys.extend([0.48, 0.4, 0.3]);
        ys.extend([0.3; 15]);
        ys.extend([0.4, 0.53, 0.6, 0.7]);
        let crossings = run(&mut c, 1, &ys);
        assert_eq!((c.count_in(), c.count_out()), (2, 1));
        let frames: Vec<(u64, Direction)> =
            crossings.iter().map(|x| (x.frame, x.direction)).collect();
        assert_eq!(
            frames,
            vec![
                (2, Direction::In),
                (18, Direction::Out),
                (37, Direction::In)
            ],
            "each at the frame it crossed in, though counted later"
        );
    }

    #[test]
    fn a_crossing_not_yet_settled_counts_when_the_source_ends() {
        let mut c = middle();
        run(&mut c, 1, &[0.3, 0.4, 0.46, 0.53]);
        assert_eq!(c.count_in(), 0, "not settled yet");
        let rest = c.finish();
        assert_eq!((rest.len(), c.count_in()), (1, 1));
        assert_eq!(rest[0].frame, 3);
    }

    #[test]
    fn stopping_on_the_line_then_going_on_counts_once() {
        let mut c = middle();
        let mut ys = vec![0.3, 0.4, 0.48];
        ys.extend([0.5; 30]);
        ys.extend([0.505, 0.495, 0.6, 0.7]);
        run(&mut c, 1, &ys);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
    }

    #[test]
    fn walking_slowly_over_the_line_is_dated_where_it_crossed_the_centre() {
        // Walking right along the line, drifting down 0.003 a frame: off it above in frame 3
        // (0.489), off it below in frame 11 (0.513), over the centre at frame 7.
        let mut c = middle();
        let path = (0..30).map(|f| (0.2 + 0.02 * f as f32, 0.48 + 0.003 * f as f32));
        let crossings = walk(&mut c, 1, path);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
        assert_eq!(
            crossings[0].frame, 7,
            "not frame 11, where it left the line"
        );
    }

    #[test]
    fn walking_along_the_line_over_its_centre_is_dated_where_it_went_over() {
        // Onto the line at frame 1, over its centre between frames 2 and 3 (a quarter of the way
        // from 3), then along it just past the centre for two seconds, off it at frame 22: it
        // crossed at 3, not where it left the line (frame 22, as someone who stood there would).
        let mut c = middle();
        let mut ys = vec![0.48, 0.492, 0.497, 0.501];
        ys.extend([0.503, 0.507, 0.504, 0.506].repeat(5).into_iter().take(18));
        ys.extend([0.515, 0.6, 0.7]);
        let path = (0..).zip(ys).map(|(f, y)| (0.1 + 0.03 * f as f32, y));
        let crossings = walk(&mut c, 1, path);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
        assert_eq!(
            crossings[0].frame, 3,
            "not frame 22, where it left the line"
        );
    }

    #[test]
    fn standing_on_the_line_crosses_when_it_leaves() {
        let mut c = middle();
        // Over the line at frame 3, then on it (inside the band) for 3 s, then away.
        let mut ys = vec![0.3, 0.4, 0.47, 0.52];
        ys.extend([0.505; 30]);
        ys.extend([0.53, 0.6, 0.7]);
        let crossings = run(&mut c, 1, &ys);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
        assert_eq!(crossings[0].frame, 34, "the frame it left the line");
    }

    #[test]
    fn walking_along_the_line_after_crossing_it_keeps_the_crossing() {
        // Over the line at frame 2, back onto it (past its centre) walking along it for 1.5 s,
        // three heights, then away: it crossed at 2, where standing there would cross at 18.
        let mut c = middle();
        let mut path = vec![(0.2, 0.4), (0.2, 0.45), (0.2, 0.53)];
        path.extend((3..18).map(|f| (0.2 + 0.02 * (f - 2) as f32, 0.505)));
        path.extend([(0.52, 0.53), (0.52, 0.6), (0.52, 0.7)]);
        let crossings = walk(&mut c, 1, path);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
        assert_eq!(crossings[0].frame, 2);
    }

    #[test]
    fn a_box_flickering_back_into_the_band_does_not_move_the_crossing() {
        let mut c = middle();
        // Off the line at frame 3, then one box short enough to dip into the band (still past
        // the centre) at frame 5, then on: crossed at 3, not again at 6.
        let mut ys = vec![0.3, 0.4, 0.48, 0.515, 0.52, 0.505, 0.515, 0.518];
        ys.extend([0.52; 10]);
        let crossings = run(&mut c, 1, &ys);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
        assert_eq!(crossings[0].frame, 3);
        // The same dip over the centre and back (a step back onto the line) does move it.
        let mut c = middle();
        let mut ys = vec![0.3, 0.4, 0.48, 0.515, 0.52, 0.495, 0.515, 0.518];
        ys.extend([0.52; 10]);
        let crossings = run(&mut c, 1, &ys);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
        assert_eq!(crossings[0].frame, 6);
    }

    #[test]
    fn reversal_before_crossing_counts_nothing() {
        let mut c = middle();
        run(&mut c, 1, &[0.3, 0.4, 0.49, 0.508, 0.49, 0.4, 0.3]);
        assert_eq!((c.count_in(), c.count_out()), (0, 0));
    }

    #[test]
    fn a_fast_object_that_skips_the_band_counts() {
        let mut c = middle();
        run(&mut c, 1, &[0.1, 0.9, 0.92]);
        assert_eq!(c.count_in(), 1);
    }

    #[test]
    fn leaving_the_picture_just_past_a_line_near_its_edge_counts() {
        let mut c = Counter::new(CounterConfig::new(
            "0.1,0.96,0.9,0.96".parse().expect("line"),
        ));
        run(&mut c, 1, &[0.9, 0.92, 0.94, 0.96, 0.98, 0.99, 1.0]);
        assert_eq!(c.count_in(), 0, "not settled: it may still come back");
        // Gone: nobody takes its place within the hand-off time.
        for i in 7..19 {
            c.update(&[], i, i as f64 / 10.0);
        }
        assert_eq!(c.count_in(), 1);
    }

    /// A line 5 % above the bottom of the picture; walking down over it is `in`.
    fn bottom_line() -> Counter {
        Counter::new(CounterConfig::new(
            "0.1,0.95,0.9,0.95".parse().expect("line"),
        ))
    }

    #[test]
    fn a_runner_through_the_strip_between_a_line_and_the_edge_is_never_seen_there() {
        // A box that reaches the bottom edge (0.99 or more) hides the feet.
        // Out through the bottom: a walker's feet, last seen at 0.95, are past the line a frame
        // later, still in the picture, though its box is cut there; a runner's, last seen at
        // 0.91, are out of the picture a frame later.
        let mut c = bottom_line();
        run(&mut c, 1, &[0.85, 0.87, 0.89, 0.91, 0.93, 0.95, 0.99, 1.0]);
        assert_eq!(gone(&mut c, 8), (1, 0), "the walker");
        let mut c = bottom_line();
        run(&mut c, 1, &[0.55, 0.67, 0.79, 0.91, 1.0]);
        assert_eq!(gone(&mut c, 5), (0, 0), "the runner");
        // In from the bottom: the runner, first seen whole at 0.9 going up 0.12 a frame, was out
        // of the picture a frame before; the walker was seen below the line.
        let mut c = bottom_line();
        run(&mut c, 1, &[1.0, 0.9, 0.78, 0.66, 0.54, 0.42]);
        assert_eq!(gone(&mut c, 6), (0, 0), "the runner");
        let mut c = bottom_line();
        run(&mut c, 1, &[1.0, 0.99, 0.97, 0.95, 0.93, 0.91, 0.89]);
        assert_eq!(gone(&mut c, 7), (0, 1), "the walker");
        // One who turned: last seen whole walking up, away from the edge, then cut by it. Its
        // pace says nothing of how it got there, so the crossing stands.
        let mut c = bottom_line();
        run(&mut c, 1, &[0.85, 0.88, 0.91, 0.88, 0.85, 0.82, 0.79, 1.0]);
        assert_eq!(gone(&mut c, 8), (1, 0), "the one who turned");
    }

    #[test]
    fn a_runner_last_seen_whole_over_the_lines_centre_was_seen_past_it() {
        // Out through the bottom at 0.12 a frame, last found whole on the line just past its
        // centre (inside the dead band), then cut by the edge: its feet were in the picture past
        // the line in that frame, though out of it a frame later.
        let mut c = bottom_line();
        run(&mut c, 1, &[0.596, 0.716, 0.836, 0.956, 1.0]);
        assert_eq!(gone(&mut c, 5), (1, 0), "over the centre");
        // Found whole short of the centre instead, it never was (as above).
        let mut c = bottom_line();
        run(&mut c, 1, &[0.584, 0.704, 0.824, 0.944, 1.0]);
        assert_eq!(gone(&mut c, 5), (0, 0), "short of the centre");
    }

    #[test]
    fn a_fast_mover_lost_short_of_a_line_next_to_the_edge_went_out_over_it() {
        // A runner at 0.065 a frame is last found whole just short of the line: at its pace its
        // box reaches the edge by the next frame, with its feet past the line and still in the
        // picture, where the detector no longer finds it.
        let mut c = bottom_line();
        run(&mut c, 1, &[0.605, 0.67, 0.735, 0.8, 0.865, 0.93]);
        assert_eq!(gone(&mut c, 6), (1, 0), "the runner");
        let crossing = c.finish();
        assert!(crossing.is_empty(), "counted once: {crossing:?}");
        // A walker lost at the same place is not near the edge a frame later: it may be hidden,
        // or have turned, and counts nothing.
        let mut c = bottom_line();
        run(&mut c, 1, &[0.83, 0.85, 0.87, 0.89, 0.91, 0.93]);
        assert_eq!(gone(&mut c, 6), (0, 0), "the walker");
        // One twice as fast would be out of the picture a frame later: its feet were never seen
        // past the line (rule 4).
        let mut c = bottom_line();
        run(&mut c, 1, &[0.33, 0.45, 0.57, 0.69, 0.81, 0.93]);
        assert_eq!(gone(&mut c, 6), (0, 0), "the sprinter");
    }

    #[test]
    fn the_edge_of_the_part_looked_at_hides_the_feet_as_the_pictures_does() {
        // The detector looks at the top 80 % of the picture only; the same line 5 % above that
        // part's bottom, and the same runner and walker as at the picture's own edge.
        let edge_line = || {
            let mut c = Counter::new(CounterConfig::new(
                "0.1,0.75,0.9,0.75".parse().expect("line"),
            ));
            c.set_view(BBox::new(0.0, 0.0, 1.0, 0.8));
            c
        };
        let mut c = edge_line();
        run(&mut c, 1, &[0.35, 0.47, 0.59, 0.71, 0.8]);
        assert_eq!(gone(&mut c, 5), (0, 0), "the runner");
        let mut c = edge_line();
        run(&mut c, 1, &[0.65, 0.67, 0.69, 0.71, 0.73, 0.75, 0.79, 0.8]);
        assert_eq!(gone(&mut c, 8), (1, 0), "the walker");
        // Seen whole there, the runner counts: the picture goes on below the part looked at.
        let mut c = edge_line();
        c.set_view(BBox::FULL);
        run(&mut c, 1, &[0.35, 0.47, 0.59, 0.71, 0.83]);
        assert_eq!(gone(&mut c, 5), (1, 0), "the runner in the whole picture");
    }

    #[test]
    fn passing_beside_the_segment_counts_nothing() {
        let mut c = Counter::new(CounterConfig::new("0.6,0.5,0.9,0.5".parse().expect("line")));
        run(&mut c, 1, &[0.3, 0.4, 0.5, 0.6, 0.7]);
        assert_eq!((c.count_in(), c.count_out()), (0, 0));
    }

    #[test]
    fn two_objects_crossing_together_count_two() {
        let mut c = middle();
        for (i, y) in [0.3f32, 0.4, 0.5, 0.6, 0.7].into_iter().enumerate() {
            c.update(&[at(1, 0.3, y), at(2, 0.35, y)], i as u64, i as f64 / 10.0);
        }
        assert_eq!(c.count_in(), 2);
    }

    #[test]
    fn an_id_switch_mid_crossing_counts_once() {
        let mut c = middle();
        run(&mut c, 1, &[0.3, 0.4, 0.48, 0.5]);
        // Track 1 is lost on the line; the tracker brings the object back as track 2.
        run_from(&mut c, 2, 5, &[0.51, 0.55, 0.6, 0.7]);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
    }

    #[test]
    fn an_id_switch_after_crossing_does_not_count_again() {
        let mut c = middle();
        run(&mut c, 1, &[0.3, 0.4, 0.6, 0.62]);
        run_from(&mut c, 2, 5, &[0.63, 0.64, 0.4, 0.7]);
        assert_eq!(
            (c.count_in(), c.count_out()),
            (1, 0),
            "the new id inherits the counted in; its one frame at 0.4 is a touch"
        );
    }

    #[test]
    fn a_fast_mover_lost_before_the_line_is_found_again_ahead_and_counts() {
        let mut c = middle();
        // Half the picture a second towards the line, then unseen for four frames (0.2 past its
        // last sighting by then, farther than the hand-off radius)...
        run(&mut c, 1, &[0.2, 0.25, 0.3, 0.35]);
        // ...then back as track 2, already past the line, where it would be by its speed.
        run_from(&mut c, 2, 8, &[0.58, 0.63, 0.68, 0.73]);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
        // Someone appearing there with no one heading that way is nobody's successor.
        let mut c = middle();
        run(&mut c, 1, &[0.35, 0.35, 0.35, 0.35]);
        run_from(&mut c, 2, 8, &[0.58, 0.63, 0.68, 0.73]);
        assert_eq!((c.count_in(), c.count_out()), (0, 0));
    }

    #[test]
    fn someone_found_first_on_a_line_came_from_the_edge_or_the_side_they_are_on() {
        // A line 5 % below the top of the picture; walking down it is `in`.
        let mut c = Counter::new(CounterConfig::new(
            "0.2,0.05,0.8,0.05".parse().expect("line"),
        ));
        let entering = TrackedObject {
            bbox: BBox::new(0.48, 0.0, 0.52, 0.05),
            ..at(1, 0.5, 0.05)
        };
        c.update(&[entering], 0, 0.0);
        run_from(&mut c, 1, 1, &[0.1, 0.15, 0.2, 0.25]);
        assert_eq!((c.count_in(), c.count_out()), (1, 0));
        // Found first on a line in the middle of the picture: from the side of its centre they
        // are on, when they are clearly on one (the band is 0.01 each way)...
        let mut c = middle();
        run(&mut c, 1, &[0.507, 0.5, 0.47, 0.44, 0.4, 0.35]);
        assert_eq!((c.count_in(), c.count_out()), (0, 1));
        // ...else from nowhere known.
        for first in [0.5, 0.503] {
            let mut c = middle();
            run(&mut c, 1, &[first, 0.5, 0.55, 0.6, 0.65, 0.7]);
            assert_eq!((c.count_in(), c.count_out()), (0, 0), "first at {first}");
        }
    }

    #[test]
    fn someone_last_seen_half_out_of_the_picture_beyond_the_line_left_through_it() {
        // A line down the picture 5 % from its right edge; walking right over it is `out`.
        let line: Line = "0.95,0.2,0.95,0.9".parse().expect("line");
        let walk = |xs: &[f32], last: BBox| {
            let mut c = Counter::new(CounterConfig::new(line));
            let mut crossings = vec![];
            for (i, &x) in xs.iter().enumerate() {
                c.update(&[at(1, x, 0.6)], i as u64, i as f64 / 10.0);
            }
            let n = xs.len() as u64;
            let half_out = TrackedObject {
                bbox: last,
                ..at(1, 0.0, 0.0)
            };
            crossings.extend(c.update(&[half_out], n, n as f64 / 10.0));
            // Then nobody, for longer than a hand-off.
            for i in n + 1..n + 15 {
                crossings.extend(c.update(&[], i, i as f64 / 10.0));
            }
            (c.count_in(), c.count_out(), crossings)
        };
        // Walking right; last seen with the box at the edge, the feet still short of the line.
        let at_the_edge = BBox::new(0.86, 0.5, 1.0, 0.6);
        let (ins, outs, crossings) = walk(&[0.8, 0.84, 0.88, 0.91], at_the_edge);
        assert_eq!((ins, outs), (0, 1));
        assert_eq!(crossings[0].frame, 4, "dated when last seen");
        // Lost before the edge, or at the edge while walking away from it: nothing known.
        let short = BBox::new(0.88, 0.5, 0.96, 0.6);
        assert_eq!(walk(&[0.8, 0.84, 0.88, 0.91], short).1, 0);
        assert_eq!(walk(&[0.93, 0.935, 0.94, 0.94], at_the_edge).1, 0);
    }

    #[test]
    fn a_new_track_far_away_starts_fresh() {
        let mut c = middle();
        run(&mut c, 1, &[0.3, 0.4, 0.48]);
        for (i, y) in [0.3f32, 0.4, 0.6, 0.62].into_iter().enumerate() {
            c.update(&[at(2, 0.9, y)], 5 + i as u64, 0.5 + i as f64 / 10.0);
        }
        assert_eq!(c.count_in(), 1, "track 2 crossed on its own");
    }

    #[test]
    fn watches_tracks_near_the_segment_or_crossing() {
        let mut c = Counter::new(CounterConfig::new("0.2,0.5,0.8,0.5".parse().expect("line")));
        assert!(!c.is_watching(0.0), "nobody there");
        c.update(&[at(1, 0.5, 0.1)], 0, 0.0);
        assert!(!c.is_watching(0.0), "far above");
        c.update(&[at(2, 0.97, 0.5)], 1, 0.1);
        assert!(
            !c.is_watching(0.1),
            "beside the segment's end, past the watch distance"
        );
        c.update(&[at(3, 0.5, 0.4)], 2, 0.2);
        assert!(c.is_watching(0.2), "near the line");
        assert!(!c.is_watching(1.0), "not seen for 0.8 s");
        let l: Line = "0,0,1,0".parse().expect("line");
        assert!((l.distance_to_segment(Point::new(0.5, 0.3)) - 0.3).abs() < 1e-6);
        assert!((l.distance_to_segment(Point::new(1.3, 0.4)) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn anchor_choice_moves_the_tested_point() {
        let b = BBox::new(0.2, 0.2, 0.4, 0.6);
        assert_eq!(Anchor::BottomCenter.of(&b), Point::new(0.3, 0.6));
        assert_eq!(Anchor::TopCenter.of(&b), Point::new(0.3, 0.2));
        assert_eq!("center".parse::<Anchor>(), Ok(Anchor::Center));
        assert!("feet".parse::<Anchor>().is_err());
    }

    proptest! {
        /// For every orientation of the line, crossing from its left to its right is one `in`,
        /// and the reverse path one `out`, whatever small jitter rides on the path.
        #[test]
        fn every_orientation(angle in 0.0f32..std::f32::consts::TAU, jitter in proptest::collection::vec(-0.01f32..0.01, 12), steps in 3usize..12) {
            let (dx, dy) = (angle.cos() * 0.3, angle.sin() * 0.3);
            let line = Line { p1: Point::new(0.5 - dx, 0.5 - dy), p2: Point::new(0.5 + dx, 0.5 + dy) };
            // The unit normal pointing to the line's right (cross(d, r) > 0 with y down).
            let r = Point::new(-angle.sin(), angle.cos());
            let path: Vec<Point> = (0..=steps)
                .map(|i| {
                    let s = -0.2 + 0.4 * i as f32 / steps as f32;
                    Point::new(0.5 + r.x * s + jitter[i % 12], 0.5 + r.y * s + jitter[(i + 5) % 12])
                })
                .collect();
            for (reverse, want) in [(false, (1, 0)), (true, (0, 1))] {
                let mut c = Counter::new(CounterConfig { anchor: Anchor::Center, ..CounterConfig::new(line) });
                let mut pts = path.clone();
                if reverse {
                    pts.reverse();
                }
                for (i, p) in pts.iter().enumerate() {
                    let obj = TrackedObject { id: 1, class: 0, score: 1.0, bbox: BBox::from_cxcywh(p.x, p.y, 0.01, 0.01) };
                    c.update(&[obj], i as u64, i as f64 / 10.0);
                }
                prop_assert_eq!((c.count_in(), c.count_out()), want);
            }
        }
    }
}
