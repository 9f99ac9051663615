//! Frame sources on real footage (fetched by scripts/setup.sh).

use std::path::PathBuf;

use baycount_edge::vision::camera::{self, CameraError, OpenOptions, SourceSpec};

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
    let small = camera::v4l::resize(rgb, (w, h), (300, 300), &mut resizer).expect("resize");
    assert_eq!(small.len(), 300 * 300 * 3);
}
