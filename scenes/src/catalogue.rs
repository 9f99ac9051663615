//! The validation scenes themselves: each a hard case for the counter (the line's `kind`), with
//! near misses that must not count. Coordinates are scene pixels of the feet; speeds px a frame.
//! The training split's scenes, other scripts of the same kinds, are in `training.rs`.

use crate::script::{Actor, FPS, LineDef, Scene, View};
use crate::training;

/// Which set of scenes: the validation set (what accuracy is reported on; nothing is tuned on
/// it) or the training set (what the counter's defaults may be tuned on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    Validation,
    Training,
}

impl Split {
    /// The split's scenes, with their actors walking in and out by the edges.
    pub fn scenes(self) -> Vec<Scene> {
        match self {
            Split::Validation => all(),
            Split::Training => training::all(),
        }
    }

    /// Where the split's videos at `fps` go, from the repository root: beside the ones at the
    /// scripts' own [`FPS`], in a folder of their own for another rate.
    pub fn videos(self, fps: u32) -> String {
        let dir = match self {
            Split::Validation => "assets/scenes",
            Split::Training => "assets/scenes-training",
        };
        if fps == FPS {
            dir.to_string()
        } else {
            format!("{dir}-{fps}fps")
        }
    }

    /// Where the split's truth files are committed, from the repository root.
    #[cfg(test)]
    pub fn truth_dir(self) -> &'static str {
        match self {
            Split::Validation => "edge/tests/data/validation/scenes",
            Split::Training => "edge/tests/data/training/scenes",
        }
    }
}

/// 640x360 from the footage's lower 768x432, scaled: the square and the grass, smaller.
const WIDE: View = View {
    crop: [0, 144, 768, 432],
    size: (640, 360),
};
/// 640x360 cut out of the footage unscaled: the square around the lamp post.
const CROP: View = View {
    crop: [64, 150, 640, 360],
    size: (640, 360),
};

pub fn line(name: &'static str, line: &'static str, kind: &'static str) -> LineDef {
    LineDef { name, line, kind }
}

/// Every validation scene, with its actors walking in and out by the edges (`Scene::walk_in_and_out`).
pub fn all() -> Vec<Scene> {
    let scenes = vec![
        runners(),
        step_back(),
        opposite(),
        edge(),
        stream(),
        pairs(),
        occlusion(),
        stand(),
        hover(),
        diagonal(),
        mixed(),
    ];
    walk_in_and_out(scenes)
}

/// `scenes` with their actors walking in and out by the edges (`Scene::walk_in_and_out`).
pub fn walk_in_and_out(scenes: Vec<Scene>) -> Vec<Scene> {
    scenes
        .into_iter()
        .map(|s| {
            let name = s.name;
            s.walk_in_and_out()
                .unwrap_or_else(|e| panic!("scene {name}: {e:#}"))
        })
        .collect()
}

/// Runners at 40-60 px a frame across a vertical line (x 384, y 202-490).
fn runners() -> Scene {
    let sprites = [
        "navy", "glasses", "black", "red", "bluebag", "papers", "hood", "navy",
    ];
    let ys = [300.0, 420.0, 250.0, 460.0, 310.0, 400.0, 230.0, 380.0];
    let speeds = [40.0, 45.0, 50.0, 55.0, 60.0, 48.0, 42.0, 58.0];
    let mut actors = vec![];
    for i in 0..8 {
        let (a, b) = if i % 2 == 0 {
            (-40.0, 810.0)
        } else {
            (810.0, -40.0)
        };
        actors.push(
            Actor::new(
                format!("runner {} at {} px/frame", i + 1, speeds[i]),
                sprites[i],
                (i * 12) as f64,
                (a, ys[i]),
            )
            .to(b, ys[i] + 15.0, speeds[i]),
        );
    }
    // Runners up and down over R2 (y 357), clear of R.
    for (i, (x, t, up, sprite, speed)) in [
        (150.0, 10.0, false, "glasses", 40.0),
        (620.0, 35.0, true, "puffer", 45.0),
        (250.0, 60.0, false, "red", 50.0),
        (660.0, 85.0, true, "puffer", 42.0),
    ]
    .into_iter()
    .enumerate()
    {
        let (a, b) = if up { (620.0, 150.0) } else { (150.0, 620.0) };
        actors.push(
            Actor::new(
                format!("runner {} at {speed} px/frame", i + 9),
                sprite,
                t,
                (x, a),
            )
            .to(x + 10.0, b, speed),
        );
    }
    actors.push(
        Actor::new(
            "runner below the line's end",
            "black",
            100.0,
            (-40.0, 530.0),
        )
        .to(810.0, 535.0, 50.0)
        .miss(
            "R",
            "runs past below the segment's lower end (y 490), over its extension",
        ),
    );
    actors.push(
        Actor::new("runner turning short", "red", 40.0, (810.0, 200.0))
            .to(420.0, 220.0, 45.0)
            .to(810.0, 215.0, 45.0)
            .miss(
                "R",
                "runs in from the right and back out, turning 36 px short of the line",
            ),
    );
    Scene {
        name: "runners",
        view: View::FULL,
        frames: 120,
        lines: vec![
            line("R", "0.5,0.35,0.5,0.85", "runner"),
            line("R2", "0.1,0.62,0.9,0.62", "runner"),
        ],
        actors,
    }
}

/// Steps over a vertical line (x 384) and straight back; and crossing, staying, coming back.
fn step_back() -> Scene {
    let actors = vec![
        Actor::new("man stepping over and back", "navy", 0.0, (150.0, 300.0))
            .to(404.0, 300.0, 6.0)
            .wait(2.0)
            .to(150.0, 305.0, 6.0)
            .miss("S", "steps 20 px over the line and back within 0.9 s"),
        Actor::new(
            "man stepping over and back",
            "glasses",
            20.0,
            (640.0, 390.0),
        )
        .to(360.0, 390.0, 6.0)
        .wait(1.0)
        .to(640.0, 380.0, 6.0)
        .miss("S", "steps 24 px over the line and back within 0.9 s"),
        Actor::new(
            "woman crossing, staying 3 s, coming back",
            "red",
            5.0,
            (120.0, 430.0),
        )
        .to(520.0, 430.0, 6.0)
        .wait(30.0)
        .to(120.0, 440.0, 6.0),
        Actor::new(
            "man crossing, staying 2.5 s, coming back",
            "black",
            30.0,
            (700.0, 250.0),
        )
        .to(300.0, 255.0, 6.0)
        .wait(25.0)
        .to(700.0, 250.0, 6.0),
        Actor::new("woman touching the line", "hood", 60.0, (200.0, 215.0))
            .to(384.0, 215.0, 5.0)
            .wait(5.0)
            .to(200.0, 210.0, 5.0)
            .miss("S", "walks up to the line, feet on it for 0.5 s, goes back"),
        Actor::new(
            "man dithering, then crossing",
            "papers",
            70.0,
            (200.0, 470.0),
        )
        .to(402.0, 470.0, 6.0)
        .wait(1.0)
        .to(366.0, 470.0, 6.0)
        .wait(12.0)
        .to(700.0, 470.0, 6.0),
    ];
    Scene {
        name: "step-back",
        view: View::FULL,
        frames: 170,
        lines: vec![line("S", "0.5,0.3,0.5,0.9", "step-back")],
        actors,
    }
}

/// Two people walking opposite ways, crossing a vertical line (x 384) at the same moment.
fn opposite() -> Scene {
    let pairs = [
        ("navy", "red", 300.0, 0.0),
        ("glasses", "bluebag", 390.0, 28.0),
        ("black", "navy", 450.0, 56.0),
        ("papers", "hood", 250.0, 84.0),
    ];
    let mut actors = vec![];
    for (i, (l, r, y, t)) in pairs.into_iter().enumerate() {
        // Both 30 frames (180 px) from the line: they meet on it.
        actors.push(
            Actor::new(format!("pair {}: walking right", i + 1), l, t, (204.0, y))
                .to(650.0, y, 6.0),
        );
        actors.push(
            Actor::new(
                format!("pair {}: walking left", i + 1),
                r,
                t,
                (564.0, y + 14.0),
            )
            .to(120.0, y + 14.0, 6.0),
        );
    }
    actors.push(
        Actor::new(
            "man meeting someone short of the line",
            "black",
            115.0,
            (150.0, 340.0),
        )
        .to(366.0, 340.0, 6.0)
        .wait(10.0)
        .to(150.0, 345.0, 6.0)
        .miss(
            "O",
            "walks up to 18 px short of the line, stops facing the other, goes back",
        ),
    );
    actors.push(
        Actor::new(
            "woman meeting someone short of the line",
            "red",
            115.0,
            (620.0, 352.0),
        )
        .to(402.0, 352.0, 6.0)
        .wait(10.0)
        .to(620.0, 357.0, 6.0)
        .miss(
            "O",
            "walks up to 18 px short of the line from the other side, goes back",
        ),
    );
    Scene {
        name: "opposite",
        view: View::FULL,
        frames: 175,
        lines: vec![line("O", "0.5,0.3,0.5,0.9", "opposite")],
        actors,
    }
}

/// Lines 40 px from the left, right and bottom edges: people coming in and going out through
/// the edge count only if their feet are seen on both sides inside the picture.
fn edge() -> Scene {
    let actors = vec![
        Actor::new(
            "man walking in at the left, out at the right",
            "navy",
            0.0,
            (-30.0, 300.0),
        )
        .to(800.0, 330.0, 7.0),
        Actor::new(
            "woman walking in at the left, out at the right",
            "red",
            40.0,
            (-30.0, 420.0),
        )
        .to(800.0, 440.0, 7.0),
        Actor::new(
            "runner in at the left, out at the right, 60 px/frame",
            "black",
            20.0,
            (-10.0, 380.0),
        )
        .to(830.0, 380.0, 60.0)
        .miss(
            "EL",
            "runs in through the left edge: feet first seen at x 50, already past the line",
        )
        .miss(
            "ER",
            "runs out through the right edge: feet last seen at x 710, before the line",
        ),
        Actor::new(
            "runner in at the right, out at the left, 45 px/frame",
            "bluebag",
            60.0,
            (775.0, 350.0),
        )
        .to(-40.0, 350.0, 45.0),
        Actor::new(
            "man walking out at the left",
            "glasses",
            22.0,
            (808.0, 120.0),
        )
        // In along the far lawn, above the side lines' upper ends (y 144).
        .to(380.0, 120.0, 6.0)
        .to(300.0, 260.0, 6.0)
        .to(-40.0, 250.0, 6.0),
        Actor::new(
            "woman walking along the left edge",
            "hood",
            60.0,
            (20.0, 180.0),
        )
        .to(20.0, 330.0, 5.0)
        .miss(
            "EL",
            "walks down between the left edge and the line, never over it",
        ),
        Actor::new(
            "woman coming up from below the picture",
            "blonde",
            10.0,
            (200.0, 620.0),
        )
        .to(200.0, 440.0, 6.0)
        .to(80.0, 380.0, 6.0)
        // Out above the left line's upper end.
        .to(120.0, 135.0, 6.0)
        .to(-40.0, 120.0, 6.0),
        Actor::new(
            "woman running up from below the picture, 60 px/frame",
            "blonde",
            100.0,
            (330.0, 580.0),
        )
        .to(330.0, 340.0, 60.0)
        .wait(20.0)
        .to(380.0, 125.0, 6.0)
        .to(808.0, 120.0, 6.0)
        .miss(
            "EB",
            "runs up from below the picture: feet first seen at y 520, already past the line",
        ),
        Actor::new(
            "man walking out at the bottom",
            "papers",
            16.0,
            (808.0, 120.0),
        )
        .to(450.0, 125.0, 6.0)
        .to(420.0, 450.0, 6.0)
        .to(380.0, 620.0, 6.0),
    ];
    Scene {
        name: "edge",
        view: View::FULL,
        frames: 175,
        lines: vec![
            line("EL", "0.052,0.25,0.052,0.9", "edge"),
            line("ER", "0.948,0.25,0.948,0.9", "edge"),
            line("EB", "0.15,0.93,0.6,0.93", "edge"),
        ],
        actors,
    }
}

/// A steady one-way stream of 10 people, 1-2 s apart, over two vertical lines.
fn stream() -> Scene {
    let sprites = [
        "navy", "red", "glasses", "hood", "black", "bluebag", "papers", "navy", "red", "black",
    ];
    let gaps = [0.0, 12.0, 15.0, 18.0, 11.0, 20.0, 14.0, 13.0, 17.0, 16.0];
    let ys = [
        300.0, 360.0, 330.0, 250.0, 410.0, 340.0, 280.0, 390.0, 320.0, 360.0,
    ];
    let mut t = 0.0;
    let mut actors = vec![];
    for i in 0..10 {
        t += gaps[i];
        actors.push(
            Actor::new(
                format!("stream walker {}", i + 1),
                sprites[i],
                t,
                (800.0, ys[i]),
            )
            .to(-40.0, ys[i] + 20.0, 8.0),
        );
    }
    actors.push(
        Actor::new(
            "man walking along the line",
            "glasses",
            30.0,
            (520.0, 200.0),
        )
        .to(520.0, 460.0, 4.0)
        .miss(
            "ST1",
            "walks down beside the line, 44 px from it, against the stream",
        ),
    );
    Scene {
        name: "stream",
        view: View::FULL,
        frames: 200,
        lines: vec![
            line("ST1", "0.62,0.3,0.62,0.85", "stream"),
            line("ST2", "0.25,0.3,0.25,0.85", "stream"),
        ],
        actors,
    }
}

/// Pairs walking side by side, crossing together (640x360, scaled).
fn pairs() -> Scene {
    let mut actors = vec![];
    let horizontal = [
        ("navy", "red", 100.0, 0.0, 1.0),
        ("glasses", "black", 200.0, 25.0, -1.0),
        ("hood", "papers", 120.0, 50.0, 1.0),
        ("bluebag", "navy", 250.0, 75.0, -1.0),
        ("red", "glasses", 215.0, 100.0, 1.0),
        ("black", "hood", 270.0, 125.0, -1.0),
    ];
    for (i, (a, b, y, t, dir)) in horizontal.into_iter().enumerate() {
        let (x0, x1) = if dir > 0.0 {
            (-30.0, 670.0)
        } else {
            (670.0, -30.0)
        };
        actors
            .push(Actor::new(format!("pair {} (far)", i + 1), a, t, (x0, y)).to(x1, y + 5.0, 5.0));
        actors.push(
            Actor::new(
                format!("pair {} (near)", i + 1),
                b,
                t,
                (x0 + 6.0 * dir, y + 26.0),
            )
            .to(x1 + 6.0 * dir, y + 31.0, 5.0),
        );
    }
    actors.push(Actor::new("pair 5 (left)", "puffer", 20.0, (470.0, 380.0)).to(460.0, 60.0, 4.0));
    actors.push(Actor::new("pair 5 (right)", "bluebag", 20.0, (505.0, 378.0)).to(495.0, 58.0, 4.0));
    actors.push(
        Actor::new(
            "pair walking along the line (far)",
            "black",
            90.0,
            (-30.0, 185.0),
        )
        .to(300.0, 185.0, 5.0)
        .miss(
            "P2",
            "walks along 7 px from the horizontal line and turns away",
        ),
    );
    Scene {
        name: "pairs",
        view: WIDE,
        frames: 200,
        lines: vec![
            line("P1", "0.5,0.2,0.5,0.95", "pair"),
            line("P2", "0.6,0.5,0.95,0.5", "pair"),
        ],
        actors,
    }
}

/// One person passing in front of another who is crossing.
fn occlusion() -> Scene {
    let mut actors = vec![];
    // Walking away up across OC (y 317) while someone passes right in front, along y 345.
    for (i, (x, t, occluder)) in [(300.0, 0.0, "black"), (480.0, 50.0, "red")]
        .into_iter()
        .enumerate()
    {
        // The crosser's feet reach the line 25 frames after t, when the passer-by (7 px a
        // frame from 175 px to its left) is right in front.
        actors.push(
            Actor::new(
                format!("man walking away, hidden at the line ({})", i + 1),
                "puffer",
                t,
                (x, 417.0),
            )
            .to(x, 150.0, 4.0),
        );
        actors.push(
            Actor::new(
                format!("passer-by in front ({})", i + 1),
                occluder,
                t,
                (x - 175.0, 345.0),
            )
            .to(x + 200.0, 345.0, 7.0)
            .miss("OC", "walks along below the line, in front of the crosser"),
        );
    }
    // Two walking right across OC2 (x 600), the nearer and faster overtaking at the line.
    actors.push(
        Actor::new("man overtaken at the line", "navy", 60.0, (450.0, 240.0)).to(800.0, 240.0, 5.0),
    );
    actors.push(
        Actor::new(
            "man overtaking at the line",
            "glasses",
            60.0,
            (360.0, 268.0),
        )
        .to(800.0, 268.0, 8.0),
    );
    actors.push(
        Actor::new("woman overtaken at the line", "hood", 100.0, (800.0, 380.0))
            .to(300.0, 380.0, 4.0),
    );
    actors.push(
        Actor::new(
            "man overtaking at the line",
            "papers",
            117.0,
            (800.0, 410.0),
        )
        .to(300.0, 410.0, 6.0),
    );
    Scene {
        name: "occlusion",
        view: View::FULL,
        frames: 160,
        lines: vec![
            line("OC", "0.2,0.55,0.8,0.55", "occlusion"),
            line("OC2", "0.78,0.3,0.78,0.75", "occlusion"),
        ],
        actors,
    }
}

/// Standing on the line for seconds, then leaving to the far side (once) or back (nothing).
fn stand() -> Scene {
    // SD: y = 0.6 * 576 = 345.6; SD2: x = 0.3 * 768 = 230.4.
    let actors = vec![
        Actor::new(
            "man standing on the line, leaving to the far side",
            "navy",
            0.0,
            (-20.0, 400.0),
        )
        .to(230.4, 400.0, 6.0)
        .wait(40.0)
        .to(800.0, 410.0, 6.0),
        Actor::new(
            "woman standing on the line, going back",
            "red",
            10.0,
            (790.0, 300.0),
        )
        .to(230.4, 300.0, 7.0)
        .wait(50.0)
        .to(790.0, 305.0, 7.0)
        .miss(
            "SD2",
            "stands on the line 5 s and goes back the way she came",
        ),
        Actor::new(
            "man standing on the line, walking on away",
            "puffer",
            0.0,
            (500.0, 560.0),
        )
        .to(500.0, 345.6, 4.0)
        .wait(35.0)
        .to(500.0, 170.0, 4.0),
        Actor::new(
            "man standing on the line, going back",
            "glasses",
            20.0,
            (340.0, 200.0),
        )
        .to(340.0, 345.6, 5.0)
        .wait(40.0)
        .to(340.0, 200.0, 5.0)
        .miss(
            "SD",
            "walks down onto the line, stands on it 4 s, goes back up",
        ),
        Actor::new(
            "woman standing next to the line",
            "hood",
            40.0,
            (-20.0, 220.0),
        )
        .to(220.4, 220.0, 6.0)
        .wait(40.0)
        .to(-20.0, 225.0, 6.0)
        .miss("SD2", "stands 10 px short of the line for 4 s, goes back"),
        Actor::new(
            "man standing on the line, crossing, coming back",
            "black",
            60.0,
            (700.0, 450.0),
        )
        .to(620.0, 345.6, 5.0)
        .wait(30.0)
        .to(600.0, 250.0, 5.0)
        .wait(25.0)
        .to(640.0, 470.0, 5.0),
    ];
    Scene {
        name: "stand",
        view: View::FULL,
        frames: 200,
        lines: vec![
            line("SD", "0.2,0.6,0.85,0.6", "stand"),
            line("SD2", "0.3,0.3,0.3,0.8", "stand"),
        ],
        actors,
    }
}

/// Hovering near a line without crossing it (640x360, an unscaled crop).
fn hover() -> Scene {
    // H: y = 180, x 96-544; H2: x = 384, y 36-324.
    let actors = vec![
        Actor::new(
            "man walking along just above the line",
            "navy",
            0.0,
            (670.0, 170.0),
        )
        .to(-30.0, 172.0, 6.0)
        .miss("H", "walks the whole length of the line 8-10 px above it"),
        Actor::new(
            "woman walking along just below the line",
            "red",
            20.0,
            (670.0, 192.0),
        )
        .to(-30.0, 194.0, 6.0)
        .miss("H", "walks the whole length of the line 12-14 px below it"),
        Actor::new(
            "man pacing short of the line",
            "papers",
            5.0,
            (250.0, 300.0),
        )
        .to(250.0, 186.0, 5.0)
        .wait(20.0)
        .to(330.0, 188.0, 5.0)
        .to(330.0, 300.0, 5.0)
        .miss(
            "H",
            "comes up to 6 px below the line, stands 2 s, walks along it, goes back",
        ),
        Actor::new("man pacing above the line", "black", 30.0, (150.0, 160.0))
            .to(300.0, 158.0, 6.0)
            .to(150.0, 162.0, 6.0)
            .to(300.0, 160.0, 6.0)
            .to(150.0, 160.0, 6.0)
            .miss("H", "paces back and forth 20 px above the line"),
        Actor::new(
            "man passing beyond the line's end",
            "glasses",
            40.0,
            (590.0, 90.0),
        )
        .to(600.0, 320.0, 5.0)
        .miss(
            "H",
            "walks down past the segment's right end (x 544), over its extension",
        ),
        Actor::new(
            "woman hovering above the line, then crossing",
            "hood",
            60.0,
            (420.0, 110.0),
        )
        .to(470.0, 166.0, 5.0)
        .wait(30.0)
        .to(500.0, 260.0, 5.0),
    ];
    Scene {
        name: "hover",
        view: CROP,
        frames: 150,
        lines: vec![
            line("H", "0.15,0.5,0.85,0.5", "hover"),
            line("H2", "0.6,0.1,0.6,0.9", "hover"),
        ],
        actors,
    }
}

/// Shallow crossings, paths at 15-20 degrees to the line.
fn diagonal() -> Scene {
    // D: y = 316.8, x 115-653; a 17 degree path drops 0.306 px a px.
    let mut actors = vec![];
    let people = [
        ("navy", 0.0, 100.0, 1.0),
        ("red", 20.0, 680.0, -1.0),
        ("glasses", 40.0, 120.0, 1.0),
        ("bluebag", 60.0, 660.0, -1.0),
        ("black", 80.0, 140.0, 1.0),
        ("papers", 100.0, 650.0, -1.0),
    ];
    for (i, (s, t, x0, dir)) in people.into_iter().enumerate() {
        // Going right: down across; going left: up across (starting below).
        let (y0, y1) = if i % 2 == 0 {
            (250.0, 250.0 + 0.306 * 450.0)
        } else {
            (400.0, 400.0 - 0.306 * 450.0)
        };
        actors.push(
            Actor::new(format!("walker {} at 17 degrees", i + 1), s, t, (x0, y0)).to(
                x0 + dir * 450.0,
                y1,
                6.0,
            ),
        );
    }
    actors.push(
        Actor::new("woman grazing the line", "hood", 30.0, (120.0, 270.0))
            .to(380.0, 312.0, 5.0)
            .to(650.0, 270.0, 5.0)
            .miss(
                "D",
                "comes down at 9 degrees to 5 px above the line and turns up again",
            ),
    );
    actors.push(
        Actor::new(
            "man crossing beyond the line's end",
            "navy",
            110.0,
            (500.0, 260.0),
        )
        .to(760.0, 340.0, 6.0)
        .miss(
            "D",
            "crosses the line's extension beyond its right end (x 653)",
        ),
    );
    Scene {
        name: "diagonal",
        view: View::FULL,
        frames: 190,
        lines: vec![line("D", "0.15,0.55,0.85,0.55", "diagonal")],
        actors,
    }
}

/// An ordinary busy minute in miniature: people in both directions over two lines, some
/// stopping, some turning (640x360, scaled).
fn mixed() -> Scene {
    let actors = vec![
        Actor::new("man crossing left to right", "navy", 0.0, (-30.0, 150.0)).to(670.0, 170.0, 5.0),
        Actor::new("woman crossing right to left", "red", 10.0, (670.0, 230.0))
            .to(-30.0, 210.0, 5.0),
        Actor::new("man walking away up", "puffer", 15.0, (200.0, 380.0)).to(230.0, 40.0, 3.5),
        Actor::new("man turning at the line", "glasses", 30.0, (-30.0, 270.0))
            .to(300.0, 270.0, 5.0)
            .to(305.0, 120.0, 5.0)
            .to(-30.0, 110.0, 5.0),
        Actor::new(
            "man crossing, waiting 3 s, coming back",
            "black",
            40.0,
            (670.0, 120.0),
        )
        .to(260.0, 125.0, 6.0)
        .wait(30.0)
        .to(670.0, 130.0, 6.0),
        Actor::new("woman crossing diagonally", "hood", 50.0, (100.0, 60.0)).to(560.0, 300.0, 5.0),
        Actor::new(
            "man crossing right to left",
            "bluebag",
            70.0,
            (670.0, 290.0),
        )
        .to(-30.0, 260.0, 7.0),
        Actor::new("man crossing left to right", "papers", 90.0, (-30.0, 200.0))
            .to(670.0, 200.0, 6.0),
        Actor::new(
            "man crossing right to left",
            "glasses",
            110.0,
            (670.0, 100.0),
        )
        .to(-30.0, 140.0, 6.0),
        Actor::new("man crossing up", "navy", 100.0, (420.0, 360.0)).to(400.0, 60.0, 4.0),
        Actor::new("woman crossing the grass", "blonde", 130.0, (-30.0, 290.0))
            .to(330.0, 310.0, 6.0)
            .to(420.0, 390.0, 6.0),
        Actor::new("woman stepping over and back", "red", 120.0, (100.0, 310.0))
            .to(334.0, 305.0, 6.0)
            .wait(1.0)
            .to(100.0, 310.0, 6.0)
            .miss("M1", "steps 14 px over the line and back within 0.9 s"),
    ];
    Scene {
        name: "mixed",
        view: WIDE,
        frames: 200,
        lines: vec![
            line("M1", "0.5,0.1,0.5,0.95", "mixed"),
            line("M2", "0.1,0.5,0.9,0.5", "mixed"),
        ],
        actors,
    }
}
