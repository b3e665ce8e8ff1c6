//! `a4mer motifs`: atom segments and motif ids over time, and, over several recordings, how
//! the motif vocabulary lines up with action labels where a source has them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use a4mer_burn_model::device::{Backend, backend_device};
use a4mer_burn_model::{Model, load_model};
use a4mer_measure::motif_labels::{MotifLabelScores, clip_action_label, score_motif_labels};
use a4mer_motion::{Format, collect_motion_files, detect_format, import_motion};
use a4mer_runtime::FPS;
use a4mer_runtime::model::AtomSpan;

use crate::args::{SourceArgs, print_json};
use crate::motifs_plot::{Band, write_svg};

#[derive(Args)]
pub struct MotifsArgs {
    /// The model artifact (.a4m).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Recordings: motion files or directories of them. One file: its atoms and motif runs.
    /// Several, or a directory: each one's motif runs and, over the DeepMimic clips (one
    /// action each, named by the file), how motifs line up with the actions.
    #[arg(long, required = true, num_args = 1.., value_name = "FILE|DIR")]
    data: Vec<PathBuf>,
    /// Backend that runs the model: ndarray, tch-cpu or tch-cuda (the tch ones need a build
    /// with `--features tch`).
    #[arg(long, default_value_t = Backend::Ndarray, value_name = "BACKEND")]
    backend: Backend,
    /// One file: print `[{"start_s","end_s","atoms","motif","confidence"}]`, runs of atoms
    /// sharing a motif. Several: one object, `{"recordings":[...],"labels":{...}}`
    /// (docs/json-output.md).
    #[arg(long)]
    json: bool,
    /// Draw motifs over time to this SVG file: one band per recording, colour = motif id.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Serialize)]
struct MotifRun {
    start_s: f64,
    end_s: f64,
    atoms: usize,
    motif: usize,
    confidence: f32,
}

#[derive(Serialize)]
struct RecordingMotifs {
    path: String,
    /// The action, for a source with one per clip; `None`: left out of the label scores.
    label: Option<String>,
    frames: usize,
    duration_s: f64,
    atoms: usize,
    /// Frames inside a closed atom: the only ones a motif (and a label score) covers.
    frames_in_atoms: usize,
    runs: Vec<MotifRun>,
}

#[derive(Serialize)]
struct LabelReport {
    labelled_recordings: usize,
    /// Recordings whose action is not known (BVH takes, .npy arrays): reported above, not
    /// scored here.
    unlabelled: Vec<String>,
    note: String,
    #[serde(flatten)]
    scores: Option<MotifLabelScores>,
}

#[derive(Serialize)]
struct MotifsReport {
    recordings: Vec<RecordingMotifs>,
    labels: LabelReport,
}

fn secs(frame: usize) -> f64 {
    frame as f64 / FPS as f64
}

/// Runs of consecutive atoms sharing a motif, with their mean confidence.
fn motif_runs(atoms: &[AtomSpan]) -> Vec<MotifRun> {
    let mut runs: Vec<MotifRun> = Vec::new();
    let mut conf_sum = 0.0f32;
    for a in atoms {
        match runs.last_mut() {
            Some(r) if r.motif == a.motif => {
                r.end_s = secs(a.end_frame);
                r.atoms += 1;
                conf_sum += a.confidence;
                r.confidence = conf_sum / r.atoms as f32;
            }
            _ => {
                conf_sum = a.confidence;
                runs.push(MotifRun {
                    start_s: secs(a.start_frame),
                    end_s: secs(a.end_frame),
                    atoms: 1,
                    motif: a.motif,
                    confidence: a.confidence,
                });
            }
        }
    }
    runs
}

/// Each frame's motif: the motif of the atom covering it, `None` outside every atom (before
/// the first atom closes and after the last).
fn frame_motifs(atoms: &[AtomSpan], frames: usize) -> Vec<Option<usize>> {
    let mut out = vec![None; frames];
    for a in atoms {
        for m in out.iter_mut().take(a.end_frame).skip(a.start_frame) {
            *m = Some(a.motif);
        }
    }
    out
}

/// The action a recording shows, where its source says: a DeepMimic clip is one action,
/// named by its file. Other sources hold many actions per take with no labels.
fn recording_label(path: &Path) -> Result<Option<String>> {
    let format = detect_format(path).with_context(|| format!("reading {}", path.display()))?;
    if !matches!(format, Format::DeepMimic) {
        return Ok(None);
    }
    Ok(path.file_stem().and_then(|s| s.to_str()).and_then(clip_action_label))
}

fn band(path: &str, duration_s: f64, runs: &[MotifRun]) -> Band {
    let name = Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string());
    Band {
        name,
        duration_s,
        runs: runs.iter().map(|m| (m.start_s, m.end_s, m.motif)).collect(),
    }
}

fn segment(model: &Model, path: &Path, source: &SourceArgs) -> Result<(usize, Vec<AtomSpan>)> {
    let motion =
        import_motion(path, &source.import_options()).with_context(|| format!("importing {}", path.display()))?;
    let atoms = model
        .motifs(&motion.frames)
        .with_context(|| format!("segmenting {}", path.display()))?;
    Ok((motion.frames.len(), atoms))
}

pub fn run(args: MotifsArgs) -> Result<()> {
    let device = backend_device(args.backend)?;
    let (model, provenance) = load_model(&args.model, &device)
        .with_context(|| format!("loading model {} on {}", args.model.display(), args.backend))?;
    let files = collect_motion_files(&args.data).context("finding recordings")?;
    if files.is_empty() {
        bail!(
            "motifs: no recordings (.bvh, .npy or DeepMimic clips) under {:?}",
            args.data
        );
    }
    let seen = crate::args::recordings_trained_on(files.iter().map(PathBuf::as_path), &provenance)?;
    if !seen.is_empty() {
        eprintln!(
            "a4mer motifs: warning: this model's training read {} of these recordings ({}): its motifs were fitted on them",
            seen.len(),
            seen.join(", ")
        );
    }
    let single = args.data.len() == 1 && !args.data[0].is_dir();
    if single {
        return run_single(&model, &files[0], &args);
    }
    let mut recordings = Vec::new();
    let mut frame_labels: Vec<(usize, usize)> = Vec::new();
    for f in &files {
        let (frames, atoms) = segment(&model, f, &args.source)?;
        let label = recording_label(f)?;
        let motifs = frame_motifs(&atoms, frames);
        if label.is_some() {
            // Pairs of (motif, recording index): the label is looked up below.
            frame_labels.extend(motifs.iter().flatten().map(|&m| (m, recordings.len())));
        }
        recordings.push(RecordingMotifs {
            path: f.display().to_string(),
            label,
            frames,
            duration_s: secs(frames),
            atoms: atoms.len(),
            frames_in_atoms: motifs.iter().flatten().count(),
            runs: motif_runs(&atoms),
        });
    }
    let unlabelled: Vec<String> = recordings
        .iter()
        .filter(|r| r.label.is_none())
        .map(|r| r.path.clone())
        .collect();
    let labelled_recordings = recordings.len() - unlabelled.len();
    let pairs = frame_labels
        .iter()
        .filter_map(|&(m, i)| Some((m, recordings[i].label.as_deref()?)));
    let scores = if labelled_recordings > 0 {
        Some(score_motif_labels(pairs).context("scoring motifs against labels")?)
    } else {
        None
    };
    let note = match (labelled_recordings, unlabelled.len()) {
        (0, _) => "no recording has a known action (only DeepMimic clips do): no label scores".to_string(),
        (_, 0) => "every recording is labelled by its file name (one action per DeepMimic clip); frames outside every atom are not scored".to_string(),
        (_, n) => format!(
            "{n} recording(s) with no known action (BVH takes, .npy arrays) are left out of the label scores; frames outside every atom are not scored"
        ),
    };
    let report = MotifsReport {
        labels: LabelReport {
            labelled_recordings,
            unlabelled,
            note,
            scores,
        },
        recordings,
    };
    if let Some(p) = &args.plot {
        let bands: Vec<Band> = report
            .recordings
            .iter()
            .map(|r| band(&r.path, r.duration_s, &r.runs))
            .collect();
        write_svg(p, &bands)?;
    }
    if args.json {
        return print_json(&report);
    }
    print_report(&report);
    Ok(())
}

fn run_single(model: &Model, path: &Path, args: &MotifsArgs) -> Result<()> {
    let (frames, atoms) = segment(model, path, &args.source)?;
    let runs = motif_runs(&atoms);
    if let Some(p) = &args.plot {
        write_svg(p, &[band(&path.display().to_string(), secs(frames), &runs)])?;
    }
    print_single(path, frames, &atoms, &runs, args.json)
}

fn print_single(path: &Path, frames: usize, atoms: &[AtomSpan], runs: &[MotifRun], json: bool) -> Result<()> {
    if json {
        return print_json(&runs);
    }
    println!(
        "a4mer motifs: {} ({} frames, {:.1} s): {} atoms, {} motif runs",
        path.display(),
        frames,
        secs(frames),
        atoms.len(),
        runs.len()
    );
    println!(
        "{:>8} {:>8} {:>6} {:>6} {:>6}",
        "start_s", "end_s", "frames", "motif", "conf"
    );
    for a in atoms {
        println!(
            "{:>8.2} {:>8.2} {:>6} {:>6} {:>6.2}",
            secs(a.start_frame),
            secs(a.end_frame),
            a.end_frame - a.start_frame,
            a.motif,
            a.confidence
        );
    }
    Ok(())
}

fn print_report(report: &MotifsReport) {
    println!(
        "{:<48} {:<16} {:>7} {:>6} {:>6}",
        "recording", "label", "frames", "atoms", "runs"
    );
    for r in &report.recordings {
        println!(
            "{:<48} {:<16} {:>7} {:>6} {:>6}",
            r.path,
            r.label.as_deref().unwrap_or("(none)"),
            r.frames,
            r.atoms,
            r.runs.len()
        );
    }
    let l = &report.labels;
    println!("\n{}", l.note);
    let Some(s) = &l.scores else { return };
    println!(
        "over {} labelled recording(s), {} frames, {} labels, {} motifs used: NMI {:.3}, purity {:.3}",
        l.labelled_recordings, s.frames, s.labels, s.motifs_used, s.nmi, s.purity
    );
    println!(
        "{:<20} {:>7} {:>15} {:>7}",
        "label", "frames", "dominant motif", "share"
    );
    for p in &s.per_label {
        println!(
            "{:<20} {:>7} {:>15} {:>6.1}%",
            p.label,
            p.frames,
            p.dominant_motif,
            100.0 * p.dominant_share
        );
    }
}
