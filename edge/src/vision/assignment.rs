//! Pairing two lists by the greatest total weight (the Hungarian method): the tracker pairs
//! tracks with detections and `eval` pairs counted crossings with true ones the same way.

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

/// The (row, column) pairs of greatest total `weight`, each row and column at most once; pairs
/// of weight 0 or less are not pairs.
pub fn pairs(
    rows: usize,
    cols: usize,
    weight: impl Fn(usize, usize) -> i64,
) -> Vec<(usize, usize)> {
    if rows == 0 || cols == 0 {
        return vec![];
    }
    // The method wants no more rows than columns.
    let transpose = rows > cols;
    let m = if transpose {
        Matrix::from_fn(cols, rows, |(c, r)| weight(r, c))
    } else {
        Matrix::from_fn(rows, cols, |(r, c)| weight(r, c))
    };
    let (_, assignment) = kuhn_munkres(&m);
    assignment
        .into_iter()
        .enumerate()
        .filter(|&(a, b)| m[(a, b)] > 0)
        .map(|(a, b)| if transpose { (b, a) } else { (a, b) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_for_the_greatest_total_either_way_round() {
        // Row 0 would take column 0 greedily; the best total gives it column 1.
        let w = [[5, 4], [4, 0], [0, 0]];
        let sorted = |mut v: Vec<(usize, usize)>| {
            v.sort();
            v
        };
        assert_eq!(sorted(pairs(3, 2, |r, c| w[r][c])), vec![(0, 1), (1, 0)]);
        let t = |r: usize, c: usize| w[c][r];
        assert_eq!(sorted(pairs(2, 3, t)), vec![(0, 1), (1, 0)]);
        assert!(pairs(0, 3, t).is_empty());
        assert!(pairs(2, 2, |_, _| 0).is_empty(), "weight 0 is no pair");
    }
}
