//! Ground truth made by eye for recorded footage, and how well a count matches it: used by the
//! end-to-end tests and by the tuning example.

use std::path::Path;

use crate::vision::counting_line::Line;

/// One line of a ground-truth file, with its crossings.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthLine {
    pub line: Line,
    /// (frame, whether the crossing is `in`), in frame order.
    pub events: Vec<(u64, bool)>,
}

impl TruthLine {
    pub fn count_in(&self) -> u64 {
        self.events.iter().filter(|e| e.1).count() as u64
    }

    pub fn count_out(&self) -> u64 {
        self.events.len() as u64 - self.count_in()
    }
}

/// Reads line `name` of a ground-truth JSON file (`{"L1": {"segment_norm": [[x1,y1],[x2,y2]],
/// "events": [{"frame", "direction"}]}}`); directions east and south are on the lines' right: `in`.
pub fn load(path: &Path, name: &str) -> Result<TruthLine, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let gt: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let l = &gt[name];
    let s = &l["segment_norm"];
    let line = format!("{},{},{},{}", s[0][0], s[0][1], s[1][0], s[1][1])
        .parse::<Line>()
        .map_err(|e| format!("{name}: {e}"))?;
    let events = l["events"]
        .as_array()
        .ok_or_else(|| format!("{name}: no events"))?
        .iter()
        .map(|e| {
            let frame = e["frame"]
                .as_u64()
                .ok_or_else(|| format!("{name}: event without a frame"))?;
            Ok((
                frame,
                matches!(e["direction"].as_str(), Some("east" | "south" | "in")),
            ))
        })
        .collect::<Result<_, String>>()?;
    Ok(TruthLine { line, events })
}

/// Events of the truth and crossings counted that have no partner of the same direction within
/// `window` frames (each pairs once, nearest first).
pub fn unmatched(truth: &[(u64, bool)], got: &[(u64, bool)], window: u64) -> usize {
    let mut used = vec![false; got.len()];
    let mut missed = 0;
    for &(f, dir) in truth {
        let best = (0..got.len())
            .filter(|&i| !used[i] && got[i].1 == dir && got[i].0.abs_diff(f) <= window)
            .min_by_key(|&i| got[i].0.abs_diff(f));
        match best {
            Some(i) => used[i] = true,
            None => missed += 1,
        }
    }
    missed + used.iter().filter(|u| !**u).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_misses_and_extras() {
        let truth = [(10, true), (50, false), (90, true)];
        assert_eq!(
            unmatched(&truth, &[(12, true), (49, false), (91, true)], 10),
            0
        );
        assert_eq!(
            unmatched(&truth, &[(12, true), (49, true)], 10),
            3,
            "wrong direction: a miss and an extra; one miss"
        );
        assert_eq!(
            unmatched(&truth, &[(30, true), (50, false), (90, true)], 10),
            2,
            "too far off: a miss and an extra"
        );
    }
}
