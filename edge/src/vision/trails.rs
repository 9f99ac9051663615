//! Where each track has been lately (its last box and the path of its anchor), so the picture
//! of a counted crossing can show the object and the way it came, whenever the count is decided.

use std::collections::{HashMap, VecDeque};

use crate::vision::counting_line::Anchor;
use crate::vision::geometry::{BBox, Point};
use crate::vision::tracker::TrackedObject;

/// Anchor points kept per track: a few seconds of walking.
const POINTS: usize = 40;
/// A track unseen for this long is forgotten.
const FORGET_SECONDS: f64 = 10.0;

/// One track's trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Trail {
    pub bbox: BBox,
    pub path: VecDeque<Point>,
    seen: f64,
}

/// Every recent track's trail.
#[derive(Debug, Clone, Default)]
pub struct Trails {
    anchor: Anchor,
    trails: HashMap<u64, Trail>,
}

impl Trails {
    pub fn new(anchor: Anchor) -> Self {
        Self {
            anchor,
            trails: HashMap::new(),
        }
    }

    /// Adds where the tracks are at `time` (seconds of the source).
    pub fn update(&mut self, tracks: &[TrackedObject], time: f64) {
        for t in tracks {
            let point = self.anchor.of(&t.bbox);
            let trail = self.trails.entry(t.id).or_insert_with(|| Trail {
                bbox: t.bbox,
                path: VecDeque::new(),
                seen: time,
            });
            if trail.path.back() != Some(&point) {
                if trail.path.len() == POINTS {
                    trail.path.pop_front();
                }
                trail.path.push_back(point);
            }
            trail.bbox = t.bbox;
            trail.seen = time;
        }
        self.trails
            .retain(|_, t| time - t.seen <= FORGET_SECONDS && t.seen <= time);
    }

    pub fn get(&self, track: u64) -> Option<&Trail> {
        self.trails.get(&track)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: u64, x: f32) -> TrackedObject {
        TrackedObject {
            id,
            class: 0,
            score: 0.9,
            bbox: BBox::new(x, 0.2, x + 0.1, 0.6),
        }
    }

    #[test]
    fn a_trail_is_the_recent_path_of_a_tracks_anchor_and_its_last_box() {
        let mut trails = Trails::new(Anchor::BottomCenter);
        for i in 0..60 {
            trails.update(&[track(1, i as f32 * 0.01)], i as f64 * 0.1);
        }
        let t = trails.get(1).expect("track 1");
        assert_eq!(t.path.len(), POINTS, "only the recent path");
        let last = *t.path.back().expect("a point");
        assert!(last.dist(Point::new(0.64, 0.6)) < 1e-5, "{last:?}");
        assert_eq!(t.bbox, track(1, 0.59).bbox);
        // A track not seen for long is forgotten; one seen lately is kept.
        trails.update(&[track(2, 0.5)], 6.0 + FORGET_SECONDS + 0.1);
        assert!(trails.get(1).is_none() && trails.get(2).is_some());
    }
}
