//! The training scenes: the same hard cases as the validation scenes (`catalogue.rs`), with
//! scripts of their own (other lines, mostly at an angle, other speeds, people, roles, picture
//! sizes and timing), so that the counter's defaults can be tuned on them without looking at
//! the validation set. Coordinates are scene pixels of the feet; speeds px a frame. Paths are
//! mostly written relative to a counting line: `Geo::at(u, off)` is the point at `u` along the
//! segment (0 at its first end, 1 at its second) and `off` px to its right (the side `in` goes
//! to; negative: its left).

use crate::catalogue::{line, walk_in_and_out};
use crate::script::{Actor, LineDef, Scene, View};

/// 704x576 cut out of the footage unscaled (its left 40 and right 24 columns dropped).
const TALL: View = View {
    crop: [40, 0, 704, 576],
    size: (704, 576),
};
/// 640x480 cut out of the footage unscaled: the square, the lamp post and the lower grass.
const VGA: View = View {
    crop: [96, 96, 640, 480],
    size: (640, 480),
};
/// The whole picture scaled to 640x480.
const SMALL: View = View {
    crop: [0, 0, 768, 576],
    size: (640, 480),
};

/// Every training scene, with its actors walking in and out by the edges.
pub fn all() -> Vec<Scene> {
    walk_in_and_out(vec![
        dash(),
        hesitate(),
        headon(),
        borders(),
        queue(),
        couples(),
        screen(),
        linger(),
        slant(),
        plaza(),
        depth(),
        throng(),
    ])
}

/// A counting line's geometry in scene pixels, to script paths relative to it.
struct Geo {
    p1: (f64, f64),
    d: (f64, f64),
    /// Unit normal to the line's right (looking along p1→p2, y down): the side `in` goes to.
    n: (f64, f64),
}

impl Geo {
    fn new(l: &LineDef, view: View) -> Geo {
        let [p1, p2] = l
            .points(view.size)
            .unwrap_or_else(|e| panic!("line {}: {e:#}", l.name));
        let d = (p2.0 - p1.0, p2.1 - p1.1);
        let len = d.0.hypot(d.1);
        Geo {
            p1,
            d,
            n: (-d.1 / len, d.0 / len),
        }
    }

    /// The point `u` of the way along the segment and `off` px to its right.
    fn at(&self, u: f64, off: f64) -> (f64, f64) {
        (
            self.p1.0 + u * self.d.0 + off * self.n.0,
            self.p1.1 + u * self.d.1 + off * self.n.1,
        )
    }

    /// The unit vector along the line turned by `deg` degrees towards its right.
    fn dir(&self, deg: f64) -> (f64, f64) {
        let len = self.d.0.hypot(self.d.1);
        let (c, s) = (deg.to_radians().cos(), deg.to_radians().sin());
        (
            (self.d.0 * c + self.n.0 * len * s) / len,
            (self.d.1 * c + self.n.1 * len * s) / len,
        )
    }
}

/// Walking to points given as pairs.
trait Go {
    fn go(self, p: (f64, f64), speed: f64) -> Self;
}

impl Go for Actor {
    fn go(self, p: (f64, f64), speed: f64) -> Self {
        self.to(p.0, p.1, speed)
    }
}

/// `label` walking straight through `g` at `u`, from `from` px on its left to `to` px on its
/// right (or the other way when `from` is positive), reaching the line at frame `tc`.
#[allow(clippy::too_many_arguments)]
fn through(
    g: &Geo,
    label: impl Into<String>,
    sprite: &'static str,
    tc: f64,
    u: f64,
    from: f64,
    to: f64,
    speed: f64,
) -> Actor {
    Actor::new(label, sprite, tc - from.abs() / speed, g.at(u, from)).go(g.at(u, to), speed)
}

/// Runners at 26-38 px a frame, and two sprinters at 65-70, over a steep diagonal line and a
/// shallow one (704x576).
fn dash() -> Scene {
    let da = line("DA", "0.3,0.4,0.55,0.88", "runner");
    let db = line("DA2", "0.55,0.3,0.95,0.42", "runner");
    let mut actors = vec![];
    // Across DA, left and right, between y 280 and 470 (below DA2's right end, y 242).
    for (i, (sprite, y0, y1, speed, t)) in [
        ("puffer", 290.0, 320.0, 30.0, 0.0),
        ("bluebag", 460.0, 430.0, 36.0, 10.0),
        ("hood", 330.0, 350.0, 26.0, 18.0),
        ("papers", 400.0, 380.0, 65.0, 30.0),
        ("glasses", 360.0, 400.0, 32.0, 41.0),
        ("red", 280.0, 300.0, 28.0, 52.0),
        ("navy", 430.0, 470.0, 70.0, 61.0),
        ("black", 370.0, 340.0, 38.0, 72.0),
    ]
    .into_iter()
    .enumerate()
    {
        let (a, b) = if i % 2 == 0 {
            (-40.0, 750.0)
        } else {
            (750.0, -40.0)
        };
        actors.push(
            Actor::new(
                format!("runner {} at {speed} px/frame", i + 1),
                sprite,
                t,
                (a, y0),
            )
            .to(b, y1, speed),
        );
    }
    // Across DA2, down from the far lawn and up the square, right of DA (x 211-387).
    actors.push(
        Actor::new("runner 9 at 30 px/frame", "black", 5.0, (-40.0, 110.0))
            .to(520.0, 115.0, 30.0)
            .to(540.0, 620.0, 30.0),
    );
    actors.push(
        Actor::new("runner 10 at 28 px/frame", "red", 20.0, (480.0, 620.0))
            .to(460.0, 100.0, 28.0)
            .to(750.0, 95.0, 28.0),
    );
    actors.push(
        Actor::new("runner 11 at 33 px/frame", "navy", 48.0, (750.0, 100.0))
            .to(600.0, 110.0, 33.0)
            .to(610.0, 620.0, 33.0),
    );
    actors.push(
        Actor::new("runner 12 at 35 px/frame", "glasses", 66.0, (640.0, 620.0))
            .to(430.0, 130.0, 35.0)
            .to(-40.0, 120.0, 35.0),
    );
    // DA at y 350 is at x 287: turning 37 px (31 px square to it) short.
    actors.push(
        Actor::new("runner turning short", "papers", 80.0, (-40.0, 350.0))
            .to(250.0, 350.0, 30.0)
            .to(-40.0, 362.0, 30.0)
            .miss(
                "DA",
                "runs in from the left and back, turning 31 px short of the line",
            ),
    );
    actors.push(
        Actor::new(
            "runner below the line's lower end",
            "puffer",
            88.0,
            (750.0, 545.0),
        )
        .to(-40.0, 540.0, 35.0)
        .miss(
            "DA",
            "runs over the line's extension 33 px below its lower end (y 507)",
        ),
    );
    actors.push(
        Actor::new("runner beyond the right end", "hood", 40.0, (692.0, 620.0))
            .to(690.0, 90.0, 30.0)
            .to(750.0, 85.0, 30.0)
            .miss(
                "DA2",
                "runs up over the line's extension 21 px beyond its right end (x 669)",
            ),
    );
    Scene {
        name: "dash",
        view: TALL,
        frames: 110,
        lines: vec![da, db],
        actors,
    }
}

/// Steps over a diagonal line and back, a half-second stand just over it, a stumble back onto
/// it before going on, and crossings with returns 2-3 s later (640x480).
fn hesitate() -> Scene {
    let hs = line("HS", "0.25,0.2,0.75,0.9", "step-back");
    let g = Geo::new(&hs, VGA);
    // Right of HS (positive offsets) is its lower left: the grass; left is the square.
    let actors = vec![
        Actor::new("man stepping over and back", "navy", 0.0, g.at(0.3, -170.0))
            .go(g.at(0.3, 25.0), 7.0)
            .wait(1.0)
            .go(g.at(0.3, -170.0), 7.0)
            .miss("HS", "steps 25 px over the line and back within 0.8 s"),
        Actor::new(
            "woman stepping over and back twice",
            "blonde",
            12.0,
            g.at(0.82, 170.0),
        )
        .go(g.at(0.82, -20.0), 6.0)
        .wait(2.0)
        .go(g.at(0.8, 60.0), 6.0)
        .wait(15.0)
        .go(g.at(0.78, -18.0), 6.0)
        .wait(1.0)
        .go(g.at(0.75, 170.0), 6.0)
        .miss(
            "HS",
            "steps 20 px over the line and back, waits, does it again, goes back",
        ),
        Actor::new(
            "woman crossing, staying 2.5 s, coming back",
            "red",
            20.0,
            g.at(0.55, -200.0),
        )
        .go(g.at(0.55, 40.0), 6.0)
        .wait(12.0)
        .go(g.at(0.6, -200.0), 6.0),
        Actor::new(
            "man stepping over and back, then crossing further on",
            "papers",
            30.0,
            g.at(0.45, 200.0),
        )
        .go(g.at(0.45, -30.0), 8.0)
        .wait(2.0)
        .go(g.at(0.44, 40.0), 8.0)
        .go(g.at(0.15, 40.0), 6.0)
        .go(g.at(0.15, -200.0), 6.0),
        Actor::new(
            "woman standing just over the line for 0.5 s",
            "hood",
            45.0,
            g.at(0.2, -150.0),
        )
        .go(g.at(0.2, 12.0), 6.0)
        .wait(5.0)
        .go(g.at(0.22, -150.0), 6.0)
        .miss(
            "HS",
            "walks 12 px over the line, stands there 0.5 s, goes back",
        ),
        Actor::new(
            "man crossing three times, 2-3 s apart",
            "glasses",
            60.0,
            g.at(0.65, -180.0),
        )
        .go(g.at(0.65, 50.0), 6.0)
        .wait(10.0)
        .go(g.at(0.7, -45.0), 6.0)
        .wait(10.0)
        .go(g.at(0.72, 200.0), 6.0),
        Actor::new(
            "man stumbling back onto his side, then going on",
            "black",
            85.0,
            g.at(0.4, 180.0),
        )
        .go(g.at(0.4, -15.0), 5.0)
        .go(g.at(0.42, 8.0), 5.0)
        .wait(1.0)
        .go(g.at(0.44, -200.0), 5.0),
        Actor::new(
            "man stepping over and back from the grass",
            "bluebag",
            100.0,
            g.at(0.9, 160.0),
        )
        .go(g.at(0.9, -22.0), 6.0)
        .wait(2.0)
        .go(g.at(0.92, 160.0), 6.0)
        .miss(
            "HS",
            "steps 22 px over the line from the grass side and back",
        ),
        through(&g, "man crossing", "puffer", 130.0, 0.3, 200.0, -200.0, 4.5),
    ];
    Scene {
        name: "hesitate",
        view: VGA,
        frames: 180,
        lines: vec![hs],
        actors,
    }
}

/// People walking opposite ways at different speeds, meeting on a diagonal line; a two
/// against one; two meeting short of it; one side-stepping along it (768x576).
fn headon() -> Scene {
    let ho = line("HO", "0.22,0.35,0.48,0.92", "opposite");
    let g = Geo::new(&ho, View::FULL);
    let mut actors = vec![];
    for (i, (u, tc, a, va, b, vb)) in [
        (0.25, 25.0, "glasses", 7.0, "papers", 4.0),
        (0.55, 50.0, "red", 5.0, "puffer", 6.0),
        (0.8, 75.0, "bluebag", 4.5, "navy", 7.5),
        (0.4, 100.0, "black", 6.0, "hood", 5.0),
    ]
    .into_iter()
    .enumerate()
    {
        actors.push(through(
            &g,
            format!("pair {}: from the left, {va} px/frame", i + 1),
            a,
            tc,
            u,
            -220.0,
            220.0,
            va,
        ));
        actors.push(through(
            &g,
            format!("pair {}: from the right, {vb} px/frame", i + 1),
            b,
            tc,
            u + 0.03,
            220.0,
            -220.0,
            vb,
        ));
    }
    // Two abreast against one.
    actors.push(through(
        &g,
        "two abreast (1)",
        "navy",
        128.0,
        0.62,
        -240.0,
        200.0,
        5.0,
    ));
    actors.push(through(
        &g,
        "two abreast (2)",
        "glasses",
        128.0,
        0.72,
        -240.0,
        200.0,
        5.0,
    ));
    actors.push(through(
        &g,
        "one against two",
        "red",
        128.0,
        0.67,
        200.0,
        -240.0,
        6.0,
    ));
    actors.push(
        Actor::new(
            "man meeting short of the line",
            "black",
            135.0,
            g.at(0.3, -200.0),
        )
        .go(g.at(0.3, -16.0), 6.0)
        .wait(30.0)
        .go(g.at(0.28, -200.0), 6.0)
        .miss(
            "HO",
            "stops 16 px short facing the other for 3 s, goes back",
        ),
    );
    actors.push(
        Actor::new(
            "woman meeting short of the line",
            "hood",
            135.0,
            g.at(0.32, 200.0),
        )
        .go(g.at(0.32, 16.0), 6.0)
        .wait(30.0)
        .go(g.at(0.35, 200.0), 6.0)
        .miss(
            "HO",
            "stops 16 px short on the other side for 3 s, goes back",
        ),
    );
    actors.push(
        Actor::new(
            "man side-stepping along the line",
            "bluebag",
            60.0,
            g.at(0.9, -200.0),
        )
        .go(g.at(0.9, -10.0), 5.0)
        .go(g.at(0.75, -10.0), 3.0)
        .go(g.at(0.75, -200.0), 5.0)
        .miss(
            "HO",
            "walks up to 10 px short, side-steps along the line, goes back",
        ),
    );
    Scene {
        name: "headon",
        view: View::FULL,
        frames: 170,
        lines: vec![ho],
        actors,
    }
}

/// Lines 32-58 px from the left edge (slanted), 24 px from the top and 26-45 px from the right
/// (slanted): in and out through the edges, runners never seen between edge and line, someone
/// standing in the strip (640x480).
fn borders() -> Scene {
    // BL: x 32 at y 144 to x 58 at y 442. BT: y 24, x 160-448. BR: x 614 at y 120 to 595 at 408.
    let actors = vec![
        Actor::new(
            "man in at the left, out at the top",
            "navy",
            0.0,
            (-30.0, 260.0),
        )
        .to(300.0, 250.0, 6.0)
        .to(310.0, -40.0, 6.0),
        Actor::new(
            "runner in at the right, out at the left, 50 px/frame",
            "bluebag",
            10.0,
            (645.0, 300.0),
        )
        .to(-60.0, 305.0, 50.0)
        .miss(
            "BR",
            "runs in through the right edge: feet first seen at x 595, already past the line",
        ),
        Actor::new("woman out at the right", "red", 20.0, (200.0, 380.0))
            .to(700.0, 370.0, 5.0),
        Actor::new(
            "woman standing in the left strip",
            "hood",
            15.0,
            (-30.0, 200.0),
        )
        .to(18.0, 205.0, 4.0)
        .wait(25.0)
        .to(-30.0, 210.0, 4.0)
        .miss(
            "BL",
            "walks in through the left edge, stands 2.5 s between the edge and the line, goes back out",
        ),
        Actor::new(
            "man in at the top, out at the right",
            "glasses",
            30.0,
            (380.0, -30.0),
        )
        .to(400.0, 290.0, 6.0)
        .to(700.0, 300.0, 6.0),
        Actor::new(
            "runner in at the top, 40 px/frame",
            "black",
            46.0,
            (250.0, -10.0),
        )
        .to(255.0, 300.0, 40.0)
        .wait(5.0)
        .to(-40.0, 320.0, 8.0)
        .miss(
            "BT",
            "runs down in through the top edge: feet first seen at y 30, already past the line",
        ),
        Actor::new("man out at the left", "papers", 60.0, (330.0, 520.0))
            .to(300.0, 400.0, 6.0)
            .to(-40.0, 380.0, 6.0),
        Actor::new("man in at the right, up and out at the top", "puffer", 70.0, (680.0, 180.0))
            .to(420.0, 170.0, 5.0)
            .to(430.0, -40.0, 4.0),
        Actor::new("woman walking down the right strip", "red", 90.0, (628.0, 140.0))
            .to(630.0, 420.0, 5.0)
            .miss("BR", "walks down between the line and the right edge, never over it"),
        Actor::new("man in at the left, back out", "black", 110.0, (-30.0, 420.0))
            .to(140.0, 410.0, 6.0)
            .wait(20.0)
            .to(-30.0, 400.0, 6.0),
        Actor::new("runner out at the right, 55 px/frame", "navy", 120.0, (150.0, 230.0))
            .to(700.0, 235.0, 55.0)
            .miss(
                "BR",
                "runs out through the right edge: feet last seen at x 590, before the line",
            ),
    ];
    Scene {
        name: "borders",
        view: VGA,
        frames: 170,
        lines: vec![
            line("BL", "0.05,0.3,0.09,0.92", "edge"),
            line("BT", "0.25,0.05,0.7,0.05", "edge"),
            line("BR", "0.96,0.25,0.93,0.85", "edge"),
        ],
        actors,
    }
}

/// A stream of nine coming down the road from the bend and along to the left, 0.8-1.6 s apart,
/// over two slanted lines; two walking up against it; one turning back (640x480 scaled).
fn queue() -> Scene {
    let sprites = [
        "bluebag", "hood", "papers", "navy", "puffer", "red", "black", "glasses", "hood",
    ];
    let gaps = [0.0, 9.0, 14.0, 8.0, 16.0, 10.0, 12.0, 9.0, 15.0];
    let jit = [0.0, 12.0, -8.0, 20.0, 4.0, -14.0, 16.0, -4.0, 8.0];
    let mut t = 0.0;
    let mut actors = vec![];
    for i in 0..sprites.len() {
        t += gaps[i];
        actors.push(
            Actor::new(
                format!("stream walker {}", i + 1),
                sprites[i],
                t,
                (680.0, 120.0 + jit[i] / 2.0),
            )
            .to(470.0, 190.0 + jit[i], 6.5)
            .to(-40.0, 215.0 + jit[i], 6.5),
        );
    }
    actors.push(
        Actor::new(
            "man walking against the stream",
            "glasses",
            40.0,
            (-40.0, 250.0),
        )
        .to(480.0, 235.0, 5.0)
        .to(680.0, 160.0, 5.0),
    );
    actors.push(
        Actor::new(
            "woman walking against the stream",
            "red",
            95.0,
            (-40.0, 180.0),
        )
        .to(450.0, 170.0, 5.5)
        .to(680.0, 105.0, 5.5),
    );
    actors.push(
        Actor::new(
            "man turning back before the second line",
            "black",
            60.0,
            (680.0, 140.0),
        )
        .to(470.0, 200.0, 6.0)
        .to(150.0, 205.0, 6.0)
        .wait(8.0)
        .to(400.0, 270.0, 6.0)
        .to(680.0, 330.0, 6.0)
        .miss(
            "Q2",
            "walks with the stream to 20 px short of the line, turns back down the square",
        ),
    );
    Scene {
        name: "queue",
        view: SMALL,
        frames: 210,
        lines: vec![
            line("Q1", "0.73,0.2,0.8,0.5", "stream"),
            line("Q2", "0.18,0.33,0.21,0.6", "stream"),
        ],
        actors,
    }
}

/// Pairs abreast (the same distance away, side by side) walking up and down over a shallow
/// line, one close behind another, three abreast; pairs one nearer than the other over a
/// slanted line on the left; a pair turning back short (704x576).
fn couples() -> Scene {
    let cp = line("CP", "0.3,0.55,0.85,0.48", "pair");
    let g = Geo::new(&cp, TALL);
    let mut actors = vec![];
    // Right of CP is below it: down the picture is `in`.
    for (i, (u, tc, names, down)) in [
        (0.12, 20.0, ["navy", "red"].as_slice(), true),
        (0.7, 40.0, ["glasses", "papers"].as_slice(), false),
        (0.35, 65.0, ["hood", "black"].as_slice(), true),
        (0.88, 85.0, ["bluebag", "puffer"].as_slice(), false),
        (0.25, 130.0, ["red", "navy", "hood"].as_slice(), false),
    ]
    .into_iter()
    .enumerate()
    {
        for (k, sprite) in names.iter().enumerate() {
            let (a, b) = if down {
                (-230.0, 240.0)
            } else {
                (260.0, -230.0)
            };
            actors.push(through(
                &g,
                format!("group {} abreast ({})", i + 1, k + 1),
                sprite,
                tc,
                u + 0.075 * k as f64,
                a,
                b,
                5.0,
            ));
        }
    }
    actors.push(through(
        &g,
        "man close behind another (front)",
        "black",
        105.0,
        0.55,
        -220.0,
        240.0,
        6.0,
    ));
    actors.push(through(
        &g,
        "man close behind another (behind)",
        "glasses",
        108.0,
        0.56,
        -220.0,
        240.0,
        6.0,
    ));
    actors.push(
        Actor::new(
            "pair turning back short (1)",
            "papers",
            150.0,
            g.at(0.5, 250.0),
        )
        .go(g.at(0.5, 22.0), 5.0)
        .wait(6.0)
        .go(g.at(0.52, 250.0), 5.0)
        .miss(
            "CP",
            "walks up abreast to 22 px short of the line and turns back",
        ),
    );
    actors.push(
        Actor::new(
            "pair turning back short (2)",
            "puffer",
            150.0,
            g.at(0.575, 250.0),
        )
        .go(g.at(0.575, 22.0), 5.0)
        .wait(6.0)
        .go(g.at(0.595, 250.0), 5.0)
        .miss(
            "CP",
            "walks up abreast to 22 px short of the line and turns back",
        ),
    );
    // CP2, on the left: x 70 at y 173 to 113 at 432; pairs walking across it, the nearer 24
    // px lower.
    for (i, (y, t, far, near, right)) in [
        (230.0, 10.0, "hood", "bluebag", true),
        (300.0, 55.0, "navy", "glasses", false),
    ]
    .into_iter()
    .enumerate()
    {
        let (a, b) = if right {
            (-40.0, 330.0)
        } else {
            (330.0, -40.0)
        };
        actors.push(
            Actor::new(format!("pair {} over CP2 (far)", i + 1), far, t, (a, y)).to(
                b,
                y - 10.0,
                5.5,
            ),
        );
        actors.push(
            Actor::new(
                format!("pair {} over CP2 (near)", i + 1),
                near,
                t + 1.0,
                (a, y + 24.0),
            )
            .to(b, y + 14.0, 5.5),
        );
    }
    // CP2 at y 370 is at x 102: a pair coming from the right, turning back 28 px short.
    for (k, (sprite, y)) in [("red", 360.0), ("black", 384.0)].into_iter().enumerate() {
        actors.push(
            Actor::new(
                format!("pair turning back short of CP2 ({})", k + 1),
                sprite,
                100.0 + k as f64,
                (330.0, y),
            )
            .to(132.0, y + 2.0, 5.5)
            .wait(8.0)
            .to(330.0, y + 12.0, 5.5)
            .miss(
                "CP2",
                "walks in abreast from the right, turns back about 25 px short of the line",
            ),
        );
    }
    Scene {
        name: "couples",
        view: TALL,
        frames: 190,
        lines: vec![cp, line("CP2", "0.1,0.3,0.16,0.75", "pair")],
        actors,
    }
}

/// Crossings hidden behind other people: a crosser behind two walking the same way, slower,
/// in front; one nearly behind another; someone standing in front of the line while two
/// cross behind; crossings behind the lamp post and its sign (768x576).
fn screen() -> Scene {
    let sc = line("SC", "0.25,0.75,0.62,0.66", "occlusion");
    let g = Geo::new(&sc, View::FULL);
    let mut actors = vec![
        // Crossing down-left (the line's right is below it) while two walk the same way just
        // in front, a little slower.
        through(
            &g,
            "man crossing behind two",
            "navy",
            25.0,
            0.35,
            -160.0,
            140.0,
            5.0,
        ),
        through(
            &g,
            "woman in front (1)",
            "red",
            28.0,
            0.32,
            -140.0,
            140.0,
            4.6,
        ),
        through(
            &g,
            "man in front (2)",
            "bluebag",
            28.0,
            0.42,
            -140.0,
            140.0,
            4.6,
        ),
        // One right behind another (the nearer 8 px lower), walking up.
        through(
            &g,
            "man nearly hidden behind another (far)",
            "glasses",
            60.0,
            0.7,
            160.0,
            -180.0,
            5.0,
        ),
        through(
            &g,
            "man in front of him (near)",
            "black",
            58.5,
            0.7,
            168.0,
            -172.0,
            5.0,
        ),
    ];
    // Someone standing 30 px below the line for 7 s while two cross behind him.
    actors.push(
        Actor::new(
            "man standing in front of the line",
            "papers",
            60.0,
            g.at(0.55, 220.0),
        )
        .go(g.at(0.55, 30.0), 5.0)
        .wait(70.0)
        .go(g.at(0.6, 220.0), 5.0)
        .miss(
            "SC",
            "stands 30 px in front of (below) the line for 7 s while two cross behind him",
        ),
    );
    actors.push(through(
        &g,
        "woman crossing behind the stander",
        "hood",
        105.0,
        0.53,
        -180.0,
        150.0,
        4.0,
    ));
    actors.push(through(
        &g,
        "man crossing behind the stander",
        "puffer",
        125.0,
        0.58,
        150.0,
        -180.0,
        4.0,
    ));
    // SC2 passes just behind the lamp post (the pole at x 431-438, the sign at y 202-245):
    // walkers with their feet at y 250-330 cross it behind the pole and the sign.
    for (i, (y, t, sprite, right)) in [
        (255.0, 10.0, "hood", true),
        (300.0, 45.0, "black", false),
        (330.0, 80.0, "red", true),
        (275.0, 95.0, "glasses", false),
    ]
    .into_iter()
    .enumerate()
    {
        let (a, b) = if right {
            (-40.0, 810.0)
        } else {
            (810.0, -40.0)
        };
        actors.push(
            Actor::new(format!("behind the lamp post {}", i + 1), sprite, t, (a, y)).to(
                b,
                y + 8.0,
                6.0,
            ),
        );
    }
    Scene {
        name: "screen",
        view: View::FULL,
        frames: 170,
        lines: vec![sc, line("SC2", "0.57,0.4,0.57,0.6", "occlusion")],
        actors,
    }
}

/// Standing on a slanted line (then off to the far side, or back), two standing on it
/// together; hovering beside a steep line, pacing, passing beyond its end, waiting then
/// crossing (640x480).
fn linger() -> Scene {
    let lg = line("LG", "0.15,0.45,0.6,0.65", "stand");
    let lh = line("LH", "0.72,0.15,0.8,0.8", "hover");
    let g = Geo::new(&lg, VGA);
    let h = Geo::new(&lh, VGA);
    // LG's right is below it; LH's right is its left (towards the square).
    let actors = vec![
        Actor::new(
            "man standing on the line 6 s, going on",
            "navy",
            0.0,
            g.at(0.3, -200.0),
        )
        .go(g.at(0.3, 0.0), 5.0)
        .wait(60.0)
        .go(g.at(0.28, 200.0), 5.0),
        Actor::new(
            "man standing on the line 3 s, going back",
            "puffer",
            10.0,
            g.at(0.7, 200.0),
        )
        .go(g.at(0.7, 0.0), 4.0)
        .wait(30.0)
        .go(g.at(0.72, 200.0), 4.0)
        .miss(
            "LG",
            "walks up onto the line, stands on it 3 s, goes back down",
        ),
        Actor::new(
            "man standing on the line with her 5 s",
            "glasses",
            40.0,
            g.at(0.5, -180.0),
        )
        .go(g.at(0.5, 0.0), 5.0)
        .wait(50.0)
        .go(g.at(0.48, 200.0), 5.0),
        Actor::new(
            "woman standing on the line with him 5 s",
            "red",
            45.0,
            g.at(0.55, 180.0),
        )
        .go(g.at(0.55, 0.0), 5.0)
        .wait(47.0)
        .go(g.at(0.58, -180.0), 5.0),
        Actor::new(
            "woman standing 6 px over the line 4 s",
            "hood",
            30.0,
            g.at(0.12, -180.0),
        )
        .go(g.at(0.12, 6.0), 5.0)
        .wait(40.0)
        .go(g.at(0.1, 200.0), 5.0),
        Actor::new(
            "man stopping on the line 2 s, on, back 2.5 s later",
            "black",
            100.0,
            g.at(0.85, -150.0),
        )
        .go(g.at(0.85, 0.0), 5.0)
        .wait(20.0)
        .go(g.at(0.85, 60.0), 5.0)
        .wait(13.0)
        .go(g.at(0.9, -150.0), 5.0),
        // Hovering beside LH.
        Actor::new(
            "man walking down beside the line",
            "papers",
            0.0,
            h.at(-0.2, -11.0),
        )
        .go(h.at(1.15, -11.0), 4.0)
        .miss(
            "LH",
            "walks its whole length 11 px to its right (the outer side)",
        ),
        Actor::new(
            "man pacing beside the line",
            "bluebag",
            20.0,
            h.at(0.3, 200.0),
        )
        .go(h.at(0.3, 15.0), 5.0)
        .go(h.at(0.6, 15.0), 4.0)
        .go(h.at(0.35, 16.0), 4.0)
        .go(h.at(0.6, 15.0), 4.0)
        .go(h.at(0.6, 200.0), 5.0)
        .miss("LH", "paces up and down 15 px from the line, goes back"),
        Actor::new(
            "woman hovering 3.5 s, then crossing",
            "red",
            110.0,
            h.at(0.45, -150.0),
        )
        .go(h.at(0.45, -8.0), 5.0)
        .wait(35.0)
        .go(h.at(0.5, 200.0), 5.0),
        Actor::new(
            "man passing below the line's end",
            "navy",
            80.0,
            h.at(1.06, 250.0),
        )
        .go(h.at(1.06, -150.0), 5.0)
        .miss(
            "LH",
            "walks over the line's extension 25 px beyond its lower end",
        ),
    ];
    Scene {
        name: "linger",
        view: VGA,
        frames: 200,
        lines: vec![lg, lh],
        actors,
    }
}

/// Paths at 10-25 degrees to a steep diagonal line, both ways; one grazing to 4 px; one along
/// it 6 px off; one over its extension (640x480 scaled).
fn slant() -> Scene {
    let sl = line("SL", "0.3,0.15,0.7,0.85", "diagonal");
    let g = Geo::new(&sl, SMALL);
    let mut actors = vec![];
    for (i, (sprite, t, u, deg, back)) in [
        ("red", 30.0, 0.3, 12.0, false),
        ("navy", 45.0, 0.55, -20.0, true),
        ("bluebag", 60.0, 0.75, 25.0, false),
        ("hood", 80.0, 0.2, -15.0, false),
        ("papers", 100.0, 0.65, 22.0, true),
        ("glasses", 120.0, 0.45, -10.0, true),
        ("puffer", 140.0, 0.85, 18.0, false),
    ]
    .into_iter()
    .enumerate()
    {
        // Crossing at `u` at frame `t`, heading along the line (or against it, `back`) turned
        // `deg` towards its right.
        let d = g.dir(deg);
        let d = if back { (-d.0, -d.1) } else { d };
        let c = g.at(u, 0.0);
        let v = 5.0;
        let (l0, l1) = (160.0, 160.0);
        actors.push(
            Actor::new(
                format!("walker {} at {} degrees", i + 1, deg.abs()),
                sprite,
                t - l0 / v,
                (c.0 - d.0 * l0, c.1 - d.1 * l0),
            )
            .to(c.0 + d.0 * l1, c.1 + d.1 * l1, v),
        );
    }
    actors.push(
        Actor::new("woman grazing the line", "red", 70.0, g.at(0.25, -60.0))
            .go(g.at(0.5, -4.0), 5.0)
            .go(g.at(0.75, -60.0), 5.0)
            .miss(
                "SL",
                "comes at 8 degrees to 4 px left of the line, turns away",
            ),
    );
    actors.push(
        Actor::new("man walking along the line", "black", 10.0, g.at(0.1, 6.0))
            .go(g.at(0.85, 6.0), 4.0)
            .go(g.at(0.9, 120.0), 4.0)
            .miss(
                "SL",
                "walks along the line 6 px right of it for 3/4 of its length, leaves on that side",
            ),
    );
    actors.push(
        Actor::new(
            "man crossing beyond the upper end",
            "glasses",
            150.0,
            g.at(-0.12, -120.0),
        )
        .go(g.at(-0.12, 120.0), 5.0)
        .miss(
            "SL",
            "crosses the line's extension 40 px beyond its upper end",
        ),
    );
    Scene {
        name: "slant",
        view: SMALL,
        frames: 180,
        lines: vec![sl],
        actors,
    }
}

/// A busy square: both ways over two lines, one stopping on a line to look about, a wait and
/// return, a touch, two meeting (704x576).
fn plaza() -> Scene {
    let pz = line("PZ1", "0.45,0.28,0.78,0.66", "mixed");
    let pz2 = line("PZ2", "0.06,0.6,0.4,0.66", "mixed");
    let g = Geo::new(&pz, TALL);
    let g2 = Geo::new(&pz2, TALL);
    // PZ1's right is its lower left; PZ2's right is below it.
    let actors = vec![
        Actor::new("man crossing the square down", "papers", 0.0, (500.0, 90.0))
            .to(430.0, 470.0, 5.0)
            .to(-40.0, 520.0, 6.0),
        Actor::new(
            "woman crossing the square to the left",
            "red",
            5.0,
            (744.0, 420.0),
        )
        .go(g.at(0.75, -50.0), 5.5)
        .go(g.at(0.7, 80.0), 5.0)
        .to(-40.0, 310.0, 6.0),
        Actor::new("woman on the grass", "blonde", 15.0, (-40.0, 470.0))
            .to(220.0, 390.0, 5.5)
            .to(320.0, 360.0, 5.5)
            .to(744.0, 480.0, 6.0),
        Actor::new(
            "man walking up from the grass",
            "puffer",
            25.0,
            (150.0, 620.0),
        )
        .to(160.0, 300.0, 4.0)
        .to(-40.0, 270.0, 5.0),
        Actor::new(
            "man crossing, waiting 2.5 s, coming back",
            "navy",
            40.0,
            (744.0, 260.0),
        )
        .go(g.at(0.35, 40.0), 6.0)
        .wait(25.0)
        .to(744.0, 230.0, 6.0),
        Actor::new(
            "man stepping over and back",
            "glasses",
            55.0,
            (150.0, 150.0),
        )
        .go(g.at(0.3, 60.0), 6.0)
        .go(g.at(0.32, -17.0), 6.0)
        .wait(1.0)
        .go(g.at(0.3, 60.0), 6.0)
        .to(-40.0, 150.0, 6.0)
        .miss("PZ1", "steps 17 px over the line and back within 0.9 s"),
        Actor::new(
            "man walking down to the grass",
            "bluebag",
            70.0,
            (600.0, 150.0),
        )
        .to(250.0, 420.0, 5.5)
        .to(-40.0, 430.0, 6.0)
        .miss(
            "PZ2",
            "walks down past the line's right end, about 15 px beyond it",
        ),
        Actor::new("woman walking along", "hood", 80.0, (744.0, 170.0)).to(-40.0, 210.0, 6.0),
        Actor::new("man stopping on the line", "black", 95.0, (-40.0, 330.0))
            .go(g2.at(0.55, 0.0), 6.0)
            .wait(25.0)
            .go(g2.at(0.6, 100.0), 5.0)
            .to(744.0, 560.0, 6.0),
        Actor::new(
            "man meeting her short of the line",
            "navy",
            120.0,
            (744.0, 380.0),
        )
        .to(560.0, 365.0, 6.0)
        .wait(30.0)
        .to(744.0, 395.0, 6.0)
        .miss(
            "PZ1",
            "stops 20 px short of the line to talk for 3 s, goes back",
        ),
        Actor::new("woman crossing to meet him", "red", 110.0, (300.0, 150.0))
            .to(520.0, 330.0, 5.0)
            .wait(30.0)
            .to(744.0, 330.0, 5.0),
        Actor::new("man crossing late", "glasses", 120.0, (-40.0, 300.0)).to(744.0, 330.0, 7.0),
    ];
    Scene {
        name: "plaza",
        view: TALL,
        frames: 220,
        lines: vec![pz, pz2],
        actors,
    }
}

/// Short lines at both ends of the scale: one on the far road, where people are about 50 px
/// tall (slow walkers abreast, a low-angle crossing, a turn short of it, a pass at its end, one
/// who crosses, stays and comes back), and one on the near grass, where they are about 130 px
/// (a fifth of the picture) and its window must still hold them (704x576).
fn depth() -> Scene {
    let far = line("DF", "0.42,0.27,0.68,0.27", "far");
    let near = line("DN", "0.3,0.76,0.3,0.9", "near");
    let f = Geo::new(&far, TALL);
    let n = Geo::new(&near, TALL);
    // DF's right is below it; DN's right is its left (p1 is its top end).
    let actors = vec![
        through(
            &f,
            "man walking slowly down, abreast",
            "navy",
            30.0,
            0.45,
            -60.0,
            70.0,
            2.0,
        ),
        through(
            &f,
            "woman walking slowly down, abreast",
            "red",
            31.0,
            0.56,
            -60.0,
            70.0,
            2.0,
        ),
        through(
            &f,
            "man walking slowly up",
            "glasses",
            70.0,
            0.3,
            60.0,
            -70.0,
            2.2,
        ),
        Actor::new(
            "woman crossing at a low angle",
            "hood",
            40.0,
            f.at(-0.3, -30.0),
        )
        .go(f.at(0.75, 12.0), 4.0)
        .go(f.at(1.3, 40.0), 4.0),
        Actor::new(
            "man turning back short of the line",
            "black",
            90.0,
            f.at(0.7, 70.0),
        )
        .go(f.at(0.7, 9.0), 3.0)
        .wait(6.0)
        .go(f.at(0.75, 80.0), 3.0)
        .miss(
            "DF",
            "walks up to 9 px below the line, waits, goes back down",
        ),
        through(
            &f,
            "man crossing at the line's end",
            "papers",
            120.0,
            0.95,
            60.0,
            -70.0,
            3.5,
        ),
        Actor::new(
            "woman crossing, staying 3 s, coming back",
            "bluebag",
            110.0,
            f.at(0.2, -60.0),
        )
        .go(f.at(0.2, 25.0), 3.0)
        .wait(30.0)
        .go(f.at(0.22, -70.0), 3.0),
        // The near line.
        through(
            &n,
            "man crossing the near line",
            "puffer",
            20.0,
            0.5,
            -120.0,
            140.0,
            5.0,
        ),
        through(
            &n,
            "woman crossing it the other way",
            "red",
            60.0,
            0.3,
            120.0,
            -140.0,
            5.0,
        ),
        through(
            &n,
            "man crossing it slowly",
            "black",
            95.0,
            0.6,
            -90.0,
            110.0,
            2.5,
        ),
        Actor::new(
            "woman stepping over it and back",
            "hood",
            130.0,
            n.at(0.45, -120.0),
        )
        .go(n.at(0.45, 15.0), 5.0)
        .go(n.at(0.5, -140.0), 5.0)
        .miss("DN", "steps 15 px over the line and straight back"),
        through(
            &n,
            "man crossing near its end",
            "glasses",
            160.0,
            0.1,
            120.0,
            -140.0,
            5.0,
        ),
    ];
    Scene {
        name: "depth",
        view: TALL,
        frames: 220,
        lines: vec![far, near],
        actors,
    }
}

/// A crowd on the road: a long line across it with eleven people walking along it on either
/// side, six standing by it, and 22 crossings among them, in groups, in pairs both ways and
/// alone (704x576, 300 frames). 19-33 people are in the picture at once (26 at the median),
/// where the default model gives at most 20 boxes a look.
fn throng() -> Scene {
    let th = line("TH", "0.04,0.44,0.96,0.47", "crowd");
    let g = Geo::new(&th, TALL);
    // TH's right is below it.
    let mut actors = vec![];
    // Walking along the road, never over the line: (sprite, frame it is 0.15 of the line's
    // length beyond the end it starts from, px off the line, left to right, speed).
    for (sprite, t, off, ltr, speed) in [
        ("navy", -60.0, -50.0_f64, true, 4.0),
        ("red", -20.0, -95.0, false, 4.5),
        ("hood", 10.0, -70.0, true, 5.0),
        ("black", 40.0, -120.0, false, 4.0),
        ("papers", 70.0, -55.0, false, 5.0),
        ("blonde", 100.0, -100.0, true, 4.5),
        ("glasses", 130.0, -80.0, true, 4.0),
        ("puffer", 160.0, -60.0, false, 5.5),
        ("bluebag", 190.0, -110.0, true, 4.5),
        ("red", 220.0, -75.0, false, 4.0),
        ("navy", 250.0, -50.0, true, 5.0),
        ("glasses", -80.0, 55.0, false, 4.5),
        ("black", -30.0, 95.0, true, 4.0),
        ("bluebag", 0.0, 70.0, false, 5.0),
        ("blonde", 35.0, 130.0, true, 4.0),
        ("puffer", 65.0, 60.0, true, 5.0),
        ("hood", 95.0, 110.0, false, 4.5),
        ("papers", 125.0, 80.0, true, 4.0),
        ("navy", 155.0, 50.0, false, 5.5),
        ("red", 185.0, 120.0, true, 4.5),
        ("black", 215.0, 65.0, false, 4.0),
        ("glasses", 245.0, 90.0, true, 5.0),
    ] {
        let (a, b) = if ltr { (-0.15, 1.15) } else { (1.15, -0.15) };
        actors.push(
            Actor::new(
                format!("walking along the line {} px off it", off.abs()),
                sprite,
                t,
                g.at(a, off),
            )
            .go(g.at(b, off + 8.0), speed),
        );
    }
    // Standing by the line all the time, chatting; their one short step sets which way they
    // face.
    for (sprite, u, off) in [
        ("papers", 0.14, -62.0),
        ("bluebag", 0.17, -58.0),
        ("hood", 0.52, 66.0),
        ("puffer", 0.56, 70.0),
        ("blonde", 0.86, -64.0),
        ("black", 0.33, 85.0),
    ] {
        actors.push(
            Actor::new("standing by the line", sprite, 0.0, g.at(u, off))
                .go(g.at(u + 0.01, off), 1.0)
                .wait(300.0),
        );
    }
    // Through the line: (sprite, frame at the line, u, from px, to px, speed).
    for (sprite, tc, u, from, to, speed) in [
        ("red", 15.0, 0.2, -130.0, 140.0, 4.0),
        ("navy", 16.0, 0.24, -135.0, 140.0, 4.0),
        ("glasses", 15.0, 0.28, -130.0, 145.0, 4.0),
        ("hood", 30.0, 0.7, 140.0, -130.0, 5.0),
        ("black", 45.0, 0.45, 140.0, -130.0, 4.5),
        ("bluebag", 46.0, 0.5, 145.0, -130.0, 4.5),
        ("papers", 60.0, 0.85, -130.0, 140.0, 5.0),
        ("puffer", 75.0, 0.35, -130.0, 140.0, 4.5),
        ("blonde", 75.0, 0.37, 140.0, -130.0, 4.5),
        ("navy", 95.0, 0.6, 140.0, -130.0, 4.0),
        ("red", 96.0, 0.64, 145.0, -130.0, 4.0),
        ("hood", 95.0, 0.68, 140.0, -135.0, 4.0),
        ("glasses", 110.0, 0.1, -130.0, 140.0, 5.0),
        ("black", 130.0, 0.75, -130.0, 140.0, 4.5),
        ("papers", 131.0, 0.79, -135.0, 140.0, 4.5),
        ("puffer", 170.0, 0.25, 140.0, -130.0, 5.0),
        ("bluebag", 190.0, 0.8, -130.0, 140.0, 4.5),
        ("blonde", 190.0, 0.83, 140.0, -130.0, 4.5),
        ("navy", 215.0, 0.4, -130.0, 140.0, 5.0),
        ("red", 240.0, 0.9, 140.0, -130.0, 5.0),
    ] {
        let way = if from < 0.0 { "down" } else { "up" };
        actors.push(through(
            &g,
            format!("crossing {way} in the crowd"),
            sprite,
            tc,
            u,
            from,
            to,
            speed,
        ));
    }
    actors.push(
        Actor::new(
            "woman crossing down, staying 3 s, going back up",
            "hood",
            150.0 - 130.0 / 4.5,
            g.at(0.5, -130.0),
        )
        .go(g.at(0.5, 60.0), 4.5)
        .wait(30.0)
        .go(g.at(0.47, -140.0), 4.5),
    );
    actors.push(
        Actor::new(
            "man stepping over the line and back",
            "glasses",
            200.0,
            g.at(0.57, 130.0),
        )
        .go(g.at(0.57, -15.0), 4.5)
        .go(g.at(0.6, 140.0), 4.5)
        .miss("TH", "steps 15 px over the line and straight back"),
    );
    actors.push(
        Actor::new(
            "woman walking up to the line and back",
            "red",
            255.0,
            g.at(0.3, -130.0),
        )
        .go(g.at(0.3, -10.0), 4.0)
        .go(g.at(0.27, -140.0), 4.0)
        .miss("TH", "walks up to 10 px above the line and goes back"),
    );
    Scene {
        name: "throng",
        view: TALL,
        frames: 300,
        lines: vec![th],
        actors,
    }
}
