//! How well a count matches the truth: counted crossings paired one to one with true ones of the
//! same direction within a frame window, so a count that is right in total but wrong in its
//! crossings (a miss and an extra) shows as two errors.

use baycount_protocol::Direction;

use crate::vision::assignment;
use crate::vision::truth::TruthEvent;

/// One crossing a counter reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub frame: u64,
    pub direction: Direction,
    /// The track that crossed, when the counter says.
    pub track: Option<u64>,
}

/// The pairing of one line's counted crossings with its true ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pairing {
    /// (truth index, counted index).
    pub matched: Vec<(usize, usize)>,
    /// Truth indices nobody counted.
    pub missed: Vec<usize>,
    /// Counted indices that match no true crossing.
    pub extra: Vec<usize>,
}

/// Pairs as many crossings as possible (same direction, at most `window` frames apart), and
/// among those pairings the one whose frames are closest.
pub fn pair(truth: &[TruthEvent], counted: &[Counted], window: u64) -> Pairing {
    let mut p = Pairing::default();
    for direction in [Direction::In, Direction::Out] {
        let t: Vec<usize> = (0..truth.len())
            .filter(|&i| truth[i].direction == direction)
            .collect();
        let c: Vec<usize> = (0..counted.len())
            .filter(|&i| counted[i].direction == direction)
            .collect();
        let close = |ti: usize, ci: usize| {
            let d = truth[t[ti]].frame.abs_diff(counted[c[ci]].frame);
            (d <= window).then_some(d)
        };
        // A pair is worth more than any saving in distance, so the count of pairs comes first.
        let unit = (window as i64 + 1) * (t.len().max(c.len()) as i64 + 1);
        let matched: Vec<(usize, usize)> = assignment::pairs(t.len(), c.len(), |ti, ci| {
            close(ti, ci).map_or(0, |d| unit - d as i64)
        })
        .into_iter()
        .map(|(ti, ci)| (t[ti], c[ci]))
        .collect();
        p.missed
            .extend(t.iter().filter(|&&ti| !matched.iter().any(|m| m.0 == ti)));
        p.extra
            .extend(c.iter().filter(|&&ci| !matched.iter().any(|m| m.1 == ci)));
        p.matched.extend(matched);
    }
    p.matched.sort_unstable();
    p.missed.sort_unstable();
    p.extra.sort_unstable();
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{In, Out};

    fn truth(events: &[(u64, Direction)]) -> Vec<TruthEvent> {
        events
            .iter()
            .map(|&(frame, direction)| TruthEvent {
                frame,
                direction,
                ambiguous: false,
            })
            .collect()
    }

    fn counted(events: &[(u64, Direction)]) -> Vec<Counted> {
        events
            .iter()
            .map(|&(frame, direction)| Counted {
                frame,
                direction,
                track: None,
            })
            .collect()
    }

    #[test]
    fn pairs_within_the_window_one_to_one() {
        let t = truth(&[(10, In), (50, Out), (90, In)]);
        let p = pair(&t, &counted(&[(12, In), (49, Out), (91, In)]), 5);
        assert_eq!(p.matched, vec![(0, 0), (1, 1), (2, 2)]);
        assert!(p.missed.is_empty() && p.extra.is_empty());
    }

    #[test]
    fn the_wrong_direction_is_a_miss_and_an_extra() {
        let p = pair(&truth(&[(10, In)]), &counted(&[(10, Out)]), 5);
        assert_eq!((p.missed, p.extra), (vec![0], vec![0]));
    }

    #[test]
    fn too_far_off_is_a_miss_and_an_extra() {
        let p = pair(&truth(&[(10, In)]), &counted(&[(16, In)]), 5);
        assert_eq!((p.missed, p.extra), (vec![0], vec![0]));
        let p = pair(&truth(&[(10, In)]), &counted(&[(15, In)]), 5);
        assert_eq!(p.matched, vec![(0, 0)], "the window's edge is inside");
    }

    #[test]
    fn a_double_count_is_one_extra() {
        let p = pair(&truth(&[(10, In)]), &counted(&[(9, In), (12, In)]), 5);
        assert_eq!(p.matched, vec![(0, 0)], "the nearer one pairs");
        assert_eq!(p.extra, vec![1]);
    }

    #[test]
    fn pairs_as_many_as_possible_not_just_the_nearest() {
        // Nearest-first would pair truth 12 with counted 10 and leave truth 6 alone.
        let t = truth(&[(6, In), (12, In)]);
        let p = pair(&t, &counted(&[(10, In), (16, In)]), 4);
        assert_eq!(p.matched, vec![(0, 0), (1, 1)]);
        assert!(p.missed.is_empty() && p.extra.is_empty());
    }

    #[test]
    fn nothing_counted_or_nothing_true() {
        let p = pair(&truth(&[(1, In), (2, Out)]), &[], 5);
        assert_eq!(p.missed, vec![0, 1]);
        let p = pair(&[], &counted(&[(1, In)]), 5);
        assert_eq!(p.extra, vec![0]);
    }
}
