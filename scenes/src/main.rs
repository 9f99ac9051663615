//! `baycount-scenes`: makes the composite scenes of the validation or the training split
//! (videos and their exact truth) or checks that the committed truth files are what the
//! scripts give.

mod catalogue;
mod image;
mod plate;
mod render;
mod script;
mod sprites;
mod training;
#[cfg(test)]
mod true_boxes;
mod truth;
mod video;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::catalogue::Split;
use crate::image::Rgb;
use crate::script::{FPS, Scene};
use crate::sprites::{SPECS, Sprite};

/// How much of a person must be in view for `--boxes`' `.seen.boxes` to hold them.
const SEEN_SHARE: f64 = 0.5;

/// Composite scenes: people cut out of vtest.avi walk scripted paths over a clean plate; each
/// scene's truth is computed from the script.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Which scenes: the validation set (nothing is tuned on it) or the training set.
    #[arg(long, value_enum, default_value_t = Split::Validation)]
    split: Split,
    /// Where to write the videos (`<scene>.mkv`); none are made without it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where the truth files (`<scene>.json`) are written or, with --check, compared.
    #[arg(long)]
    truth_dir: Option<PathBuf>,
    /// Compute the truth in memory and fail if it differs from the files in --truth-dir.
    #[arg(long, requires = "truth_dir")]
    check: bool,
    /// The footage the people and the plate come from.
    #[arg(long, default_value = "assets/footage/vtest.avi")]
    footage: PathBuf,
    /// Only these scenes (by name; repeatable).
    #[arg(long)]
    only: Vec<String>,
    /// Also write the plate and each sprite's cutouts as PNGs here, for looking at.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Film the scenes at this many frames a second (the scripts are written at 10): the same
    /// paths in the same seconds, for checking that a count does not depend on the camera's
    /// rate. The truth's `source` then names `<videos>-<fps>fps/`.
    #[arg(long, default_value_t = FPS, value_parser = clap::value_parser!(u32).range(1..=60))]
    fps: u32,
    /// Also write every person's box in every frame here (`<scene>.boxes`: one line a frame,
    /// `index time` then `class score x1 y1 x2 y2` normalised for each, class 0 and score 1):
    /// what a perfect detector would find, for the `replay` example's `BOXES`; and in
    /// `<scene>.seen.boxes` the box of what can be seen of each, for those at least half seen.
    #[arg(long)]
    boxes: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baycount-scenes: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The sprite's description for the truth's notes.
fn who(name: &str) -> String {
    SPECS
        .iter()
        .find(|s| s.name == name)
        .map_or_else(|| name.to_string(), |s| s.who.to_string())
}

fn run(cli: Cli) -> Result<()> {
    let mut scenes: Vec<Scene> = cli
        .split
        .scenes()
        .into_iter()
        .map(|s| s.at_fps(cli.fps))
        .collect();
    if !cli.only.is_empty() {
        if let Some(bad) = cli
            .only
            .iter()
            .find(|n| !scenes.iter().any(|s| s.name == *n))
        {
            let names: Vec<&str> = scenes.iter().map(|s| s.name).collect();
            bail!("no scene {bad:?}; the scenes are {}", names.join(", "));
        }
        scenes.retain(|s| cli.only.iter().any(|n| n == s.name));
    }
    if let Some(dir) = &cli.truth_dir {
        let mut stale = vec![];
        for s in &scenes {
            let text = truth::to_json(&truth::truth(s, cli.split, cli.fps, who)?)?;
            let path = dir.join(format!("{}.json", s.name));
            if cli.check {
                let old = std::fs::read_to_string(&path).unwrap_or_default();
                if old != text {
                    stale.push(path.display().to_string());
                }
            } else {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        if !stale.is_empty() {
            bail!(
                "the truth of {} differs from what the scene scripts give; if the scripts \
                 changed on purpose, rewrite it with `scripts/make-scenes.sh --truth` (or \
                 baycount-scenes --split {} --truth-dir {}) and commit the result",
                stale.join(", "),
                split_name(cli.split),
                dir.display()
            );
        }
        if cli.check {
            println!("baycount-scenes: {} truth files up to date", scenes.len());
        }
    }
    if cli.check || (cli.out.is_none() && cli.dump.is_none() && cli.boxes.is_none()) {
        return Ok(());
    }
    let (plate, sprites) = load(&cli.footage)?;
    if let Some(dir) = &cli.dump {
        dump(dir, &plate, &sprites)?;
    }
    if let Some(dir) = &cli.boxes {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for s in &scenes {
            write_boxes(s, cli.fps, &plate, &sprites, dir)?;
        }
    }
    if let Some(out) = &cli.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        for s in &scenes {
            make_video(s, cli.fps, &plate, &sprites, out)?;
        }
    }
    Ok(())
}

/// The split as `--split` takes it.
fn split_name(split: Split) -> &'static str {
    match split {
        Split::Validation => "validation",
        Split::Training => "training",
    }
}

/// vtest.avi's size and length.
const FOOTAGE: (usize, usize, usize) = (768, 576, 795);
/// Every this many frames one goes into the plate's median.
const PLATE_EVERY: usize = 8;

/// The plate and the sprites, from one pass over the footage.
fn load(footage: &Path) -> Result<(Rgb, HashMap<&'static str, Sprite>)> {
    let (w, h, n) = FOOTAGE;
    let mut dec = video::Decoder::open(footage, w, h)?;
    let mut samples = vec![];
    let mut wanted: Vec<Vec<Rgb>> = vec![vec![]; SPECS.len()];
    let mut k = 0;
    while let Some(f) = dec.next_frame()? {
        let needed = SPECS
            .iter()
            .enumerate()
            .filter(|(_, s)| (s.first..s.first + s.frames).contains(&k))
            .map(|(i, _)| i)
            .collect::<Vec<_>>();
        for i in needed {
            wanted[i].push(f.clone());
        }
        if k % PLATE_EVERY == 0 {
            samples.push(f);
        }
        k += 1;
    }
    dec.finish()?;
    if k != n {
        bail!(
            "{} has {k} frames, not {n}: is it vtest.avi? (scripts/fetch-assets.sh checks it)",
            footage.display()
        );
    }
    let plate = plate::median(&samples)?;
    drop(samples);
    let mut sprites = HashMap::new();
    for (spec, frames) in SPECS.iter().zip(&wanted) {
        sprites.insert(spec.name, sprites::build(spec, frames, &plate)?);
    }
    Ok((plate, sprites))
}

/// The plate, and per sprite its cutouts side by side over magenta, with its numbers.
fn dump(dir: &Path, plate: &Rgb, sprites: &HashMap<&str, Sprite>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    video::write_png(&dir.join("plate.png"), plate)?;
    for spec in SPECS {
        let s = &sprites[spec.name];
        let cw = s.cycle.iter().map(|c| c.w).max().unwrap_or(1) + 4;
        let ch = s.cycle.iter().map(|c| c.h).max().unwrap_or(1) + 4;
        let mut sheet = Rgb::new(cw * s.cycle.len(), ch);
        for px in sheet.data.chunks_mut(3) {
            px.copy_from_slice(&[255, 0, 255]);
        }
        for (i, c) in s.cycle.iter().enumerate() {
            let fx = (i * cw) as f64 + cw as f64 / 2.0;
            render::draw(&mut sheet, c, fx, ch as f64 - 2.0, 1.0, false);
        }
        video::write_png(&dir.join(format!("sprite-{}.png", spec.name)), &sheet)?;
        println!(
            "{} ({}): feet y {:.0}, height {:.0}, step {:.1} px/frame, heading {}, stand {}",
            s.name, s.who, s.src_feet_y, s.height, s.step, s.heading_x, s.stand
        );
    }
    Ok(())
}

/// Writes `<scene>.boxes` and `<scene>.seen.boxes` in `dir` (see `--boxes`).
fn write_boxes(
    scene: &Scene,
    fps: u32,
    plate: &Rgb,
    sprites: &HashMap<&str, Sprite>,
    dir: &Path,
) -> Result<()> {
    let (w, h) = (scene.view.size.0 as f64, scene.view.size.1 as f64);
    let front = render::occluders(plate, &scene.view);
    let whole = render::boxes(scene, sprites)?;
    let seen = render::seen_boxes(scene, sprites, &front, SEEN_SHARE)?;
    for (name, frames) in [("boxes", whole), ("seen.boxes", seen)] {
        let mut text = String::new();
        for (f, boxes) in frames.iter().enumerate() {
            text += &format!("{f} {}", f as f64 / f64::from(fps));
            for b in boxes {
                text += &format!(" 0 1 {} {} {} {}", b[0] / w, b[1] / h, b[2] / w, b[3] / h);
            }
            text += "\n";
        }
        let path = dir.join(format!("{}.{name}", scene.name));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn make_video(
    scene: &Scene,
    fps: u32,
    plate: &Rgb,
    sprites: &HashMap<&str, Sprite>,
    out: &Path,
) -> Result<()> {
    let path = out.join(format!("{}.mkv", scene.name));
    let bg = render::background(plate, &scene.view);
    let front = render::occluders(plate, &scene.view);
    let (w, h) = scene.view.size;
    let mut enc = video::Encoder::create(&path, w, h, fps)?;
    render::render(scene, sprites, &bg, &front, |img| enc.push(img))
        .with_context(|| format!("rendering {}", path.display()))?;
    enc.finish()?;
    println!(
        "baycount-scenes: {} ({w}x{h}, {} frames)",
        path.display(),
        scene.frames
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPLITS: [Split; 2] = [Split::Validation, Split::Training];

    /// The committed truth files of both splits are what the scene scripts give (else:
    /// `scripts/make-scenes.sh --truth`), and there is one for every scene and no other.
    #[test]
    fn committed_truth_is_current() {
        for split in SPLITS {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(split.truth_dir());
            let scenes = split.scenes();
            for s in &scenes {
                let path = dir.join(format!("{}.json", s.name));
                let want = truth::to_json(&truth::truth(s, split, FPS, who).unwrap()).unwrap();
                let got = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(
                    got == want,
                    "{} is stale: run scripts/make-scenes.sh --truth",
                    path.display()
                );
            }
            let files = std::fs::read_dir(&dir).unwrap().count();
            assert_eq!(
                files,
                scenes.len(),
                "a truth file in {} has no scene",
                dir.display()
            );
        }
    }

    /// True crossings of a split's scenes.
    fn crossings(split: Split) -> usize {
        split
            .scenes()
            .iter()
            .map(|s| {
                let t = truth::truth(s, split, FPS, who).unwrap();
                t.lines.iter().map(|l| l.events.len()).sum::<usize>()
            })
            .sum()
    }

    #[test]
    fn scenes_have_unique_names_and_enough_crossings() {
        // Unique across both splits, so that an eval's per-scene rows never mix them up.
        let scenes: Vec<Scene> = SPLITS.iter().flat_map(|s| s.scenes()).collect();
        let mut names: Vec<&str> = scenes.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), scenes.len());
        let total = crossings(Split::Validation);
        assert!(total >= 100, "{total} validation crossings");
        let total = crossings(Split::Training);
        assert!((80..=170).contains(&total), "{total} training crossings");
    }

    /// The training scenes share no counting line and no scripted path with the validation
    /// scenes, so that tuning on them says nothing about the validation set's scripts.
    #[test]
    fn training_never_reuses_validation_scripts() {
        let val = Split::Validation.scenes();
        let lines: Vec<(&str, (usize, usize))> = val
            .iter()
            .flat_map(|s| s.lines.iter().map(|l| (l.line, s.view.size)))
            .collect();
        let paths: Vec<Vec<script::Key>> = val
            .iter()
            .flat_map(|s| s.actors.iter().map(|a| a.keys().unwrap()))
            .collect();
        for s in Split::Training.scenes() {
            for l in &s.lines {
                assert!(
                    !lines.contains(&(l.line, s.view.size)),
                    "{}: line {} is a validation line",
                    s.name,
                    l.name
                );
            }
            for a in &s.actors {
                let k = a.keys().unwrap();
                let same = |p: &Vec<script::Key>| {
                    p.len() == k.len()
                        && p.iter().zip(&k).all(|(a, b)| {
                            (a.x - b.x).abs() < 15.0
                                && (a.y - b.y).abs() < 15.0
                                && (a.t - b.t).abs() < 15.0
                        })
                };
                assert!(
                    !paths.iter().any(same),
                    "{}: {} walks a validation path",
                    s.name,
                    a.label
                );
            }
        }
    }
}
