//! The clean background plate: the per-pixel median of frames sampled across the footage, so
//! that people, who stay at one pixel for only a few of the samples, drop out of it.

use anyhow::{Result, bail};

use crate::image::Rgb;

/// The per-pixel, per-channel median of `frames` (all the same size; the upper median when
/// their number is even).
pub fn median(frames: &[Rgb]) -> Result<Rgb> {
    let Some(first) = frames.first() else {
        bail!("no frames to make a plate from");
    };
    if frames.iter().any(|f| (f.w, f.h) != (first.w, first.h)) {
        bail!("frames of different sizes cannot make one plate");
    }
    let mut out = Rgb::new(first.w, first.h);
    let mut values = vec![0u8; frames.len()];
    let mid = frames.len() / 2;
    for (i, o) in out.data.iter_mut().enumerate() {
        for (v, f) in values.iter_mut().zip(frames) {
            *v = f.data[i];
        }
        *o = *values.select_nth_unstable(mid).1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_drops_what_passes_by() {
        // A grey background; a dark "person" covers pixel (1, 0) in 2 of 5 frames and pixel
        // (2, 1) in 1 of them.
        let mut frames = vec![];
        for k in 0..5 {
            let mut f = Rgb::new(3, 2);
            f.data.fill(128);
            if k < 2 {
                f.set(1, 0, [10, 20, 30]);
            }
            if k == 4 {
                f.set(2, 1, [250, 0, 0]);
            }
            frames.push(f);
        }
        let p = median(&frames).unwrap();
        assert!(p.data.iter().all(|&v| v == 128));
    }

    #[test]
    fn median_is_per_channel_and_rejects_mixed_sizes() {
        let mk = |c: [u8; 3]| {
            let mut f = Rgb::new(1, 1);
            f.set(0, 0, c);
            f
        };
        let p = median(&[mk([1, 9, 5]), mk([3, 7, 5]), mk([2, 8, 6])]).unwrap();
        assert_eq!(p.px(0, 0), [2, 8, 5]);
        assert!(median(&[Rgb::new(1, 1), Rgb::new(2, 1)]).is_err());
        assert!(median(&[]).is_err());
    }
}
