//! Looks at a long line's band in windows while someone small to the model is near the line or a
//! crowd of what is counted fills one look: people at the line are then as big to the model as
//! near a short line, and a crowd is found in full, at several invokes a frame; an empty or thin
//! scene away from the line still costs one.

use std::borrow::Cow;

use fast_image_resize::Resizer;

use crate::vision::camera::Frame;
use crate::vision::camera::v4l::resize;
use crate::vision::detector::{Detection, Detector, DetectorError, Stages};
use crate::vision::geometry::BBox;

/// How long the detector looks in windows after a full look before it tries one look again: a
/// crowd that has thinned is then looked at in one, and one that has not costs one more invoke
/// a second.
pub const WINDOWS_SECONDS: f64 = 1.0;

/// How many tenths of a full look's boxes must be counted objects for it to be a crowd of them
/// (18 of the default model's 20). Chosen on the training set with its crowd scene (`throng`):
/// every box 26 wrong (most full looks in the crowd hold a box or two of something else), nine
/// or three quarters of them 21, half of them 22 (a walker on vtest's L2 across the whole
/// picture missed); nine tenths is the cheaper of the two best. See README.
pub const CROWD_TENTHS: usize = 9;

/// Someone near the line this share of the one look's height tall or more is big enough to the
/// model there (a third of its input, 100 of the default model's 300 px): windows are for people
/// smaller than that. Chosen on the training set: windows only for people under 60, 80, 100 and
/// 130 px of the one look gave 30, 29, 28 and 28 wrong (every size: 28); the validation set 20
/// either way at 100, 150 and every size, with 8 % fewer frames in windows.
pub const BIG_SHARE: f32 = 1.0 / 3.0;

/// Whether the detector looks in one window or in the band's windows (see
/// [`Frame::windows`]).
#[derive(Debug, Default)]
pub struct Windows {
    /// While looking in windows: the time of the full look that started them.
    since: Option<f64>,
    /// Scales the band, its buffers kept from frame to frame.
    resizer: Resizer,
}

impl Windows {
    /// What `detector` finds in `frame`, in the picture's coordinates: in one look, or in the
    /// frame's band in windows, when the source delivers one, while someone is near the line (a
    /// counter is watching a track, see [`crate::vision::counting_line::Counter::watched`]) who
    /// is small in one look (`near`: the least height, of the picture, of those near the line;
    /// see [`BIG_SHARE`]) and from a frame whose one look came back full of counted objects for
    /// [`WINDOWS_SECONDS`] after it.
    pub fn detect(
        &mut self,
        detector: &mut dyn Detector,
        frame: &Frame,
        stages: &mut Stages,
        near: Option<f32>,
    ) -> Result<Vec<Detection>, DetectorError> {
        let Some(band) = frame.windows.as_deref() else {
            self.since = None;
            return look(detector, frame, stages);
        };
        let region = frame.region.height().max(f32::EPSILON);
        if near.is_some_and(|height| height / region < BIG_SHARE) {
            stages.near_frames += 1;
            return self.in_windows(detector, band, stages);
        }
        // A source whose clock went back (a file played again) starts afresh.
        let done = |since: f64| frame.time < since || frame.time - since >= WINDOWS_SECONDS;
        if self.since.is_none_or(done) {
            self.since = None;
            let before = stages.full_looks;
            let one = look(detector, frame, stages)?;
            if stages.full_looks == before || !crowded(one.len(), detector.most()) {
                return Ok(one);
            }
            // Not kept: this frame is looked at again, in windows.
            stages.relooked += 1;
            self.since = Some(frame.time);
        }
        stages.crowd_frames += 1;
        self.in_windows(detector, band, stages)
    }

    /// What `detector` finds in `frame` in one look, whatever is near the line or in view: for
    /// an edge that cannot afford windows now. A crowd's windows start afresh after it.
    pub fn one_look(
        &mut self,
        detector: &mut dyn Detector,
        frame: &Frame,
        stages: &mut Stages,
    ) -> Result<Vec<Detection>, DetectorError> {
        self.since = None;
        look(detector, frame, stages)
    }

    /// What `detector` finds in `band`, scaled to its windows' height, in the picture's
    /// coordinates.
    fn in_windows(
        &mut self,
        detector: &mut dyn Detector,
        band: &Frame,
        stages: &mut Stages,
    ) -> Result<Vec<Detection>, DetectorError> {
        let band = fitted(band, detector.input_size().1, &mut self.resizer)?;
        look(detector, &band, stages)
    }
}

/// Whether a full look of `found` objects counted, of at most `most` boxes, is a crowd of them:
/// at least [`CROWD_TENTHS`] tenths of the boxes it gave are. The model lists its boxes by
/// score, so a look full of other things too has returned the counted objects scored above
/// those.
fn crowded(found: usize, most: Option<usize>) -> bool {
    most.is_none_or(|most| found * 10 >= most * CROWD_TENTHS)
}

/// The band at the windows' size: as high as the detector's input, as wide as keeps its shape
/// (sources hand it over at the camera's resolution, see [`crate::vision::camera::Band`]).
fn fitted<'a>(
    band: &'a Frame,
    height: u32,
    resizer: &mut Resizer,
) -> Result<Cow<'a, Frame>, DetectorError> {
    if band.height == height {
        return Ok(Cow::Borrowed(band));
    }
    let width = (band.width as f32 * height as f32 / band.height.max(1) as f32).round() as u32;
    let rgb = resize(
        &band.rgb,
        (band.width, band.height),
        &BBox::FULL,
        (width.max(1), height),
        resizer,
    )
    .map_err(|e| DetectorError::Inference(format!("cannot scale the band to windows: {e}")))?;
    Ok(Cow::Owned(Frame {
        index: band.index,
        time: band.time,
        captured: band.captured,
        width: width.max(1),
        height,
        rgb,
        region: band.region,
        windows: None,
    }))
}

/// One look at `frame` (its windows side by side when it is wider than the model's input), in
/// the picture's coordinates.
fn look(
    detector: &mut dyn Detector,
    frame: &Frame,
    stages: &mut Stages,
) -> Result<Vec<Detection>, DetectorError> {
    let mut found = detector.detect(frame, stages)?;
    if frame.region != BBox::FULL {
        for d in &mut found {
            d.bbox = d.bbox.out_of(&frame.region);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Windows {
        /// Whether the detector is looking in windows for a crowd.
        fn for_a_crowd(&self) -> bool {
            self.since.is_some()
        }
    }

    /// Finds `one` objects in one look (full at 4, its most, or with `junk`: other things) and
    /// `windows` in the band; notes the size of each frame it is shown.
    #[derive(Default)]
    struct Scripted {
        one: usize,
        windows: usize,
        junk: bool,
        shown: Vec<(u32, u32)>,
    }

    impl Detector for Scripted {
        fn input_size(&self) -> (u32, u32) {
            (10, 10)
        }
        fn detect(
            &mut self,
            frame: &Frame,
            stages: &mut Stages,
        ) -> Result<Vec<Detection>, DetectorError> {
            self.shown.push((frame.width, frame.height));
            let one = frame.width == 10;
            let n = if one { self.one } else { self.windows };
            stages.looks += 1;
            stages.full_looks += u64::from(one && (n >= 4 || self.junk));
            Ok(vec![
                Detection {
                    class: 0,
                    score: 0.9,
                    bbox: BBox::new(0.0, 0.0, 0.5, 0.5),
                };
                n
            ])
        }
        fn describe(&self) -> String {
            "scripted".into()
        }
        fn most(&self) -> Option<usize> {
            Some(4)
        }
    }

    fn frame(width: u32, height: u32, region: BBox, windows: Option<Frame>) -> Frame {
        Frame {
            region,
            windows: windows.map(Box::new),
            ..Frame::grey(width, height, 50)
        }
    }

    #[test]
    fn a_full_look_is_looked_at_again_in_windows_for_a_second_at_a_time() {
        // The band comes at the camera's resolution, 8 px high: looked at 10 high.
        let band = frame(25, 8, BBox::new(0.0, 0.5, 1.0, 1.0), None);
        let mut f = frame(10, 10, BBox::new(0.2, 0.2, 0.8, 0.8), Some(band));
        let mut d = Scripted {
            one: 2,
            windows: 6,
            ..Scripted::default()
        };
        let (mut crowd, mut stages) = (Windows::default(), Stages::default());
        let mut at = |time: f64, d: &mut Scripted, crowd: &mut Windows, stages: &mut Stages| {
            f.time = time;
            crowd.detect(d, &f, stages, None).expect("look")
        };
        let found = at(0.0, &mut d, &mut crowd, &mut stages);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].bbox,
            BBox::new(0.2, 0.2, 0.5, 0.5),
            "out of the frame's region"
        );
        assert_eq!(d.shown, [(10, 10)]);
        assert!(!crowd.for_a_crowd());

        d.one = 4;
        let found = at(0.1, &mut d, &mut crowd, &mut stages);
        assert_eq!(found.len(), 6, "the windows' boxes, not the full look's");
        assert_eq!(
            found[0].bbox,
            BBox::new(0.0, 0.5, 0.5, 0.75),
            "out of the band's region"
        );
        assert_eq!(d.shown[1..], [(10, 10), (31, 10)]);
        assert_eq!(
            (stages.full_looks, stages.relooked, stages.missed_looks()),
            (1, 1, 0)
        );
        assert!(crowd.for_a_crowd());

        // Windows only, for a second.
        for k in 2..11 {
            assert_eq!(
                at(f64::from(k) / 10.0, &mut d, &mut crowd, &mut stages).len(),
                6
            );
        }
        assert_eq!(d.shown[3..], [(31, 10); 9]);
        // Then one look again: still full, so windows for another second.
        at(1.1, &mut d, &mut crowd, &mut stages);
        assert_eq!(d.shown[12..], [(10, 10), (31, 10)]);
        assert!(crowd.for_a_crowd());
        // The crowd has thinned a second later: one look is kept.
        d.one = 3;
        assert_eq!(at(2.1, &mut d, &mut crowd, &mut stages).len(), 3);
        assert_eq!(d.shown[14..], [(10, 10)]);
        assert!(!crowd.for_a_crowd());
        assert_eq!((stages.looks, stages.crowd_frames), (15, 11));
        // A file played again from its start: one look first.
        d.one = 4;
        at(1.5, &mut d, &mut crowd, &mut stages);
        at(0.0, &mut d, &mut crowd, &mut stages);
        assert_eq!(d.shown[15..], [(10, 10), (31, 10), (10, 10), (31, 10)]);
    }

    #[test]
    fn without_a_band_a_full_look_is_kept_and_counted_as_missing_objects() {
        let f = frame(10, 10, BBox::FULL, None);
        let mut d = Scripted {
            one: 4,
            windows: 9,
            ..Scripted::default()
        };
        let (mut crowd, mut stages) = (Windows::default(), Stages::default());
        for _ in 0..3 {
            assert_eq!(
                crowd
                    .detect(&mut d, &f, &mut stages, None)
                    .expect("look")
                    .len(),
                4
            );
        }
        assert_eq!(d.shown, [(10, 10); 3]);
        assert_eq!((stages.missed_looks(), stages.crowd_frames), (3, 0));
        assert!(!crowd.for_a_crowd());
    }

    #[test]
    fn someone_near_the_line_is_looked_at_in_windows_only_while_they_are() {
        let band = frame(25, 8, BBox::new(0.0, 0.5, 1.0, 1.0), None);
        let f = frame(10, 10, BBox::new(0.2, 0.2, 0.8, 0.8), Some(band));
        let mut d = Scripted {
            one: 1,
            windows: 2,
            ..Scripted::default()
        };
        let (mut w, mut stages) = (Windows::default(), Stages::default());
        let mut at =
            |near: Option<f32>, d: &mut Scripted| w.detect(d, &f, &mut stages, near).expect("look");
        assert_eq!(at(None, &mut d).len(), 1);
        // Near, a tenth of the picture tall (a sixth of the one look's 0.6): the band's windows
        // straight away, without a look in one first.
        let found = at(Some(0.1), &mut d);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].bbox,
            BBox::new(0.0, 0.5, 0.5, 0.75),
            "out of the band's region"
        );
        at(Some(0.1), &mut d);
        // Gone from the line: one look again.
        assert_eq!(at(None, &mut d).len(), 1);
        assert_eq!(d.shown, [(10, 10), (31, 10), (31, 10), (10, 10)]);
        // Near but big in the one look (0.21 of the picture, over a third of the look's 0.6):
        // one look; a little smaller, windows.
        assert_eq!(at(Some(0.21), &mut d).len(), 1);
        assert_eq!(at(Some(0.19), &mut d).len(), 2);
        assert_eq!(d.shown[4..], [(10, 10), (31, 10)]);
        assert_eq!((stages.near_frames, stages.crowd_frames), (3, 0));
        // Without a band (a short line, or `lines:1`), near or not, one look.
        let mut d = Scripted {
            one: 1,
            ..Scripted::default()
        };
        let one = frame(10, 10, BBox::FULL, None);
        let mut stages = Stages::default();
        let found = Windows::default()
            .detect(&mut d, &one, &mut stages, Some(0.1))
            .expect("look");
        assert_eq!((found.len(), stages.near_frames), (1, 0));
        assert_eq!(d.shown, [(10, 10)]);
    }

    #[test]
    fn a_look_full_of_other_things_is_kept() {
        let band = frame(40, 10, BBox::FULL, None);
        let f = frame(10, 10, BBox::FULL, Some(band));
        let mut d = Scripted {
            one: 1,
            windows: 3,
            junk: true,
            ..Scripted::default()
        };
        let (mut crowd, mut stages) = (Windows::default(), Stages::default());
        let mut found = |crowd: &mut Windows, d: &mut Scripted| {
            crowd.detect(d, &f, &mut stages, None).expect("look").len()
        };
        assert_eq!(found(&mut crowd, &mut d), 1);
        assert_eq!(d.shown, [(10, 10)]);
        assert!(!crowd.for_a_crowd());
        // Three of its four are not a crowd of what is counted; four are.
        d.one = 3;
        assert_eq!(found(&mut crowd, &mut d), 3);
        assert_eq!(d.shown[1..], [(10, 10)]);
        d.one = 4;
        assert_eq!(found(&mut crowd, &mut d), 3);
        assert_eq!(d.shown[2..], [(10, 10), (40, 10)]);
    }

    #[test]
    fn a_crowd_is_a_full_look_of_nine_tenths_counted_objects() {
        assert!(crowded(20, Some(20)));
        assert!(
            crowded(18, Some(20)),
            "two of twenty boxes may be other things"
        );
        assert!(!crowded(17, Some(20)));
        assert!(!crowded(3, Some(4)) && crowded(4, Some(4)));
    }

    #[test]
    fn a_band_that_cannot_be_scaled_is_a_clear_error() {
        let mut band = frame(25, 8, BBox::FULL, None);
        band.rgb.truncate(10);
        let f = frame(10, 10, BBox::FULL, Some(band));
        let mut d = Scripted {
            one: 4,
            windows: 1,
            ..Scripted::default()
        };
        let e = Windows::default()
            .detect(&mut d, &f, &mut Stages::default(), None)
            .expect_err("a short band");
        assert!(e.to_string().contains("cannot scale the band"), "{e}");
    }
}
