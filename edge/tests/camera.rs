//! Frame sources on real footage (fetched by scripts/setup.sh).

use std::path::PathBuf;

use baycount_edge::vision::camera::{self, Band, CameraError, OpenOptions, Region, SourceSpec};
use baycount_edge::vision::counting_line::Line;
use baycount_edge::vision::geometry::BBox;

fn footage() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/footage/vtest.avi"
    ))
}

#[test]
fn ffmpeg_decodes_every_frame_of_a_file_at_the_asked_size() {
    let spec = SourceSpec::File(footage());
    let options = OpenOptions {
        width: 300,
        height: 300,
        realtime: false,
        region: Default::default(),
    };
    let mut src = camera::open(&spec, &options).expect("vtest.avi opens");
    assert_eq!(src.native_size(), (768, 576));
    assert_eq!(src.fps(), Some(10.0));
    let mut n = 0;
    let mut last = None;
    while let Some(f) = src.next_frame().expect("frame") {
        assert_eq!((f.width, f.height, f.rgb.len()), (300, 300, 300 * 300 * 3));
        assert_eq!(f.index, n);
        last = Some(f.time);
        n += 1;
    }
    assert_eq!(n, 795);
    assert_eq!(last, Some(79.4));
}

#[test]
fn missing_and_broken_files_are_clear_errors() {
    let options = OpenOptions {
        width: 64,
        height: 64,
        realtime: false,
        region: Default::default(),
    };
    let err = camera::open(&SourceSpec::File("/nonexistent.avi".into()), &options)
        .err()
        .expect("missing");
    assert!(matches!(err, CameraError::Open { .. }), "{err}");
    assert!(err.to_string().contains("no such file"), "{err}");
    let dir = tempfile::tempdir().expect("tmp");
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, b"this is not a video").expect("write");
    let err = camera::open(&SourceSpec::File(junk), &options)
        .err()
        .expect("junk");
    assert!(err.to_string().contains("junk.mp4"), "{err}");
}

#[test]
fn mjpeg_frames_decode_like_a_usb_camera_sends_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let jpg = dir.path().join("frame.jpg");
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(footage())
        .args(["-frames:v", "1", "-y"])
        .arg(&jpg)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    let data = std::fs::read(&jpg).expect("jpeg");
    let (rgb, w, h) = camera::v4l::decode_mjpeg(&data).expect("decodes");
    assert_eq!((w, h, rgb.len()), (768, 576, 768 * 576 * 3));
    let mut resizer = fast_image_resize::Resizer::new();
    let small =
        camera::v4l::resize(&rgb, (w, h), &BBox::FULL, (300, 300), &mut resizer).expect("resize");
    assert_eq!(small.len(), 300 * 300 * 3);
}

#[test]
fn a_region_is_cut_out_alike_by_ffmpeg_and_by_the_usb_camera_path() {
    let part = BBox::new(0.25, 0.25, 0.75, 0.75);
    let options = OpenOptions {
        width: 96,
        height: 72,
        realtime: false,
        region: Region::Part(part),
    };
    let mut src = camera::open(&SourceSpec::File(footage()), &options).expect("opens");
    let cut = src.next_frame().expect("frame").expect("a first frame");
    assert_eq!(
        cut.region, part,
        "192 px of 768 and 144 of 576 are whole pixels"
    );
    assert_eq!(cut.rgb.len(), 96 * 72 * 3);
    // The same part of the same frame, decoded whole and cut by the USB camera's resizer.
    let whole = OpenOptions {
        width: 768,
        height: 576,
        region: Region::Full,
        ..options.clone()
    };
    let full = camera::open(&SourceSpec::File(footage()), &whole)
        .expect("opens")
        .next_frame()
        .expect("frame")
        .expect("a first frame");
    let mut resizer = fast_image_resize::Resizer::new();
    let ours =
        camera::v4l::resize(&full.rgb, (768, 576), &part, (96, 72), &mut resizer).expect("resize");
    let differ = |a: &[u8], b: &[u8]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y) as f64)
            .sum::<f64>()
            / a.len() as f64
    };
    let alike = differ(&cut.rgb, &ours);
    // The whole picture squeezed into the same size is another picture altogether.
    let squeezed = camera::v4l::resize(&full.rgb, (768, 576), &BBox::FULL, (96, 72), &mut resizer)
        .expect("resize");
    let unlike = differ(&cut.rgb, &squeezed);
    assert!(
        alike < 6.0 && unlike > 3.0 * alike,
        "alike {alike:.1}, unlike {unlike:.1}"
    );
}

#[test]
fn a_long_lines_band_comes_beside_each_frame_as_the_camera_sees_it() {
    let line: Line = "0.05,0.6,0.95,0.6".parse().expect("line");
    let open = |region: Region, width, height| {
        camera::open(
            &SourceSpec::File(footage()),
            &OpenOptions {
                width,
                height,
                realtime: false,
                region,
            },
        )
        .expect("opens")
    };
    let lines = Region::lines().with_lines([line]);
    let mut with_band = open(lines.clone(), 300, 300);
    let mut alone = open(
        "lines:1"
            .parse::<Region>()
            .expect("region")
            .with_lines([line]),
        300,
        300,
    );
    let mut whole = open(Region::Full, 768, 576);
    let band = Band::of(&lines, (768, 576), (300, 300)).expect("a band for a long line");
    let mut resizer = fast_image_resize::Resizer::new();
    for _ in 0..25 {
        let f = with_band.next_frame().expect("frame").expect("a frame");
        let one = alone.next_frame().expect("frame").expect("a frame");
        let full = whole.next_frame().expect("frame").expect("a frame");
        assert!(one.windows.is_none(), "lines:1 never looks in windows");
        // The frame is the same, to the byte, as without the band beside it.
        assert_eq!(
            (f.width, f.height, f.region),
            (one.width, one.height, one.region)
        );
        assert!(f.rgb == one.rgb, "frame {}", f.index);
        // The band is the camera's own pixels there, as the USB camera path cuts them.
        let b = f.windows.expect("the band beside the frame");
        assert_eq!(
            (b.width, b.height, b.region),
            (band.size.0, band.size.1, band.region)
        );
        assert_eq!((b.index, b.time), (f.index, f.time));
        let cut = camera::v4l::cut_out(&full.rgb, (768, 576), &band, &mut resizer).expect("cut");
        assert_eq!(cut.len(), b.rgb.len());
        let differ = b
            .rgb
            .iter()
            .zip(&cut)
            .filter(|(x, y)| x.abs_diff(**y) > 2)
            .count();
        assert!(
            differ * 100 < cut.len(),
            "{differ} of {} bytes differ",
            cut.len()
        );
    }
}
