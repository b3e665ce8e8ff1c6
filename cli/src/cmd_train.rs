//! `a4mer train`: self-supervised pre-training, head fine-tuning, held-out evaluation and
//! export to an `.a4m` artifact.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use a4mer_burn_model::BurnArtifact;
use a4mer_measure::eval::{Scored, Split, evaluate, fit_damping_tau};
use a4mer_measure::forecaster::ModelForecaster;
use a4mer_motion::{collect_motion_files, import_motion};
use a4mer_runtime::artifact::{Artifact, DataFile, Provenance};
use a4mer_train::fit::{
    Foundation, Progress, TrainConfig, TrainReport, refit_decode, report::motif_report, train_from,
};

use crate::args::{SourceArgs, print_json};

#[derive(Args)]
pub struct TrainArgs {
    /// Recordings: BVH files, DeepMimic clips or directories of them. Only the first 80 % of each is used;
    /// the last 20 % is the held-out split the model is evaluated on.
    #[arg(long, required = true, num_args = 1.., value_name = "FILE|DIR")]
    data: Vec<PathBuf>,
    /// Recordings left out of training and model selection entirely (file name, stem or
    /// path, repeatable): the model is then also scored on them, whole. Reported numbers on
    /// unseen people and rigs come from these, not from a later slice of a training take.
    #[arg(long = "hold-out", num_args = 1.., value_name = "NAME")]
    hold_out: Vec<String>,
    /// Leave a whole source out (repeatable): every recording under this directory, at any
    /// depth, is held out as with --hold-out. One source per rig or studio gives
    /// leave-one-source-out: numbers on a rig the model never saw (scripts/loso.sh).
    #[arg(long = "hold-out-source", num_args = 1.., value_name = "DIR")]
    hold_out_source: Vec<PathBuf>,
    /// Where to write the model artifact.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Self-supervised pre-training epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Head fine-tuning epochs.
    #[arg(long)]
    finetune_epochs: Option<usize>,
    /// End-to-end fine-tuning: after the heads are fitted on the frozen encoders, train
    /// encoders and heads together on the heads' losses, the encoders at this share of the
    /// heads' learning rate; the motif vocabulary is then rebuilt and the next-motif head
    /// refitted on it. 0 keeps the encoders frozen. Not resumable.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    finetune_encoders_lr_scale: f64,
    /// Epochs of end-to-end fine-tuning (with --finetune-encoders-lr-scale > 0).
    #[arg(long, value_name = "N")]
    finetune_encoders_epochs: Option<usize>,
    /// Also augment each bone's length (0.8–1.25×) and the source's frame rate (24, 60,
    /// 120 Hz) in training: for rigs and people whose proportions and cameras differ from
    /// the training data's. Off in the shipped recipe until leave-one-source-out decides.
    #[arg(long)]
    augment_rig: bool,
    /// Seed of every random choice; a run is deterministic for a seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Checkpoint file, written after every epoch (default: <out>.ckpt).
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Continue from the checkpoint instead of starting over.
    #[arg(long)]
    resume: bool,
    /// Keep this trained model's network, vocabulary and normalisation and refit only its
    /// calibrated decode (the recent velocities' and the residual's gains per motion regime,
    /// and the spread's factor) on the training windows the same --data, --hold-out and
    /// --seed give. Minutes instead of a full training run.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["resume", "epochs", "finetune_epochs", "finetune_encoders_epochs"])]
    decode_from: Option<PathBuf>,
    /// Keep this trained model (f32 or int8) as it is and refit only its anticipation
    /// prior (motif durations, transitions and the change model over the next-motif head)
    /// by streaming the training recordings the same --data and --hold-out give through
    /// its engine; written to --out. Gives a model from before the prior (artifact format
    /// 1–2) one without retraining its network.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["resume", "epochs", "finetune_epochs", "finetune_encoders_epochs", "decode_from", "encoders_from"])]
    anticipation_from: Option<PathBuf>,
    /// Keep this trained model (f32 or int8) as it is and refit only how it fills gaps:
    /// per gap length, the Hermite curve's share of the end velocities and the head's share
    /// of its residual, chosen on the last 20 % of the training recordings the same --data
    /// and --hold-out give (the part the heads did not train on); written to --out.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["resume", "epochs", "finetune_epochs", "finetune_encoders_epochs", "decode_from", "encoders_from", "anticipation_from"])]
    interpolation_from: Option<PathBuf>,
    /// Train on this model's pre-trained encoders and normalisation instead of pre-training:
    /// only the heads, the motif vocabulary and the calibrated decode are fitted on --data.
    /// For a few recordings of your own people and cell on top of the shipped model. Not
    /// resumable (the run is the heads' stage alone).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["resume", "epochs", "decode_from"])]
    encoders_from: Option<PathBuf>,
    /// With --encoders-from: keep its normalisation but initialise the encoders from the
    /// seed, as a run without pre-training would (the transfer ablation's baseline).
    #[arg(long, requires = "encoders_from")]
    random_encoders: bool,
    /// Skip the held-out evaluation (the artifact then carries no eval metrics).
    #[arg(long)]
    no_eval: bool,
    /// Frames between evaluation window origins.
    #[arg(long, default_value_t = 5)]
    eval_stride: usize,
    /// Print one JSON summary object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

fn git_revision() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Indices of the files each `--hold-out` name picks (by file name, stem or path); a name
/// that picks nothing is an error, so a typo never trains on the recording it meant to hold out.
fn held_out_files(files: &[PathBuf], names: &[String]) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for name in names {
        let hits: Vec<usize> = files
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                f.file_name().is_some_and(|n| n == name.as_str())
                    || f.file_stem().is_some_and(|n| n == name.as_str())
                    || f.as_path() == Path::new(name)
            })
            .map(|(i, _)| i)
            .collect();
        if hits.is_empty() {
            bail!(
                "train: --hold-out {name:?} matches none of the {} recordings",
                files.len()
            );
        }
        out.extend(hits);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Indices of the files under each `--hold-out-source` directory; a directory that holds
/// none of the recordings is an error, like a --hold-out name that picks nothing.
fn held_out_sources(files: &[PathBuf], sources: &[PathBuf]) -> Result<Vec<usize>> {
    let canonical = |p: &Path| std::fs::canonicalize(p).with_context(|| format!("train: {}", p.display()));
    let files: Vec<PathBuf> = files.iter().map(|f| canonical(f)).collect::<Result<_>>()?;
    let mut out = Vec::new();
    for source in sources {
        let dir = canonical(source).context("--hold-out-source")?;
        if !dir.is_dir() {
            bail!("train: --hold-out-source {}: not a directory", source.display());
        }
        let hits: Vec<usize> = (0..files.len()).filter(|i| files[*i].starts_with(&dir)).collect();
        if hits.is_empty() {
            bail!(
                "train: --hold-out-source {}: none of the {} recordings given by --data is under it",
                source.display(),
                files.len()
            );
        }
        out.extend(hits);
    }
    Ok(out)
}

pub fn run(args: TrainArgs) -> Result<()> {
    let started = Instant::now();
    let files = collect_motion_files(&args.data).context("finding recordings")?;
    if files.is_empty() {
        bail!("train: no recordings (.bvh or DeepMimic clips) under {:?}", args.data);
    }
    let mut held_out = held_out_files(&files, &args.hold_out)?;
    held_out.extend(held_out_sources(&files, &args.hold_out_source)?);
    held_out.sort_unstable();
    held_out.dedup();
    if held_out.len() == files.len() {
        bail!(
            "train: every one of the {} recordings is held out{}: nothing is left to train on",
            files.len(),
            if args.hold_out_source.is_empty() {
                ""
            } else {
                " (give --data the sources to train on beside the one --hold-out-source leaves out)"
            }
        );
    }
    let options = args.source.import_options();
    let mut motions = Vec::new();
    let mut unseen = Vec::new();
    let mut data = Vec::new();
    let mut held_out_data = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let m = import_motion(f, &options).with_context(|| format!("importing {}", f.display()))?;
        let record = DataFile {
            path: f.display().to_string(),
            sha256: a4mer_runtime::digest::sha256_file(f).with_context(|| format!("reading {}", f.display()))?,
            frames: m.frames.len() as u64,
        };
        if held_out.contains(&i) {
            held_out_data.push(record);
            unseen.push(m);
        } else {
            data.push(record);
            motions.push(m);
        }
    }
    let train_frames: Vec<_> = motions
        .iter()
        .map(|m| Split::Train.frames(&m.frames).to_vec())
        .collect();
    let calibration_frames: Vec<_> = motions
        .iter()
        .map(|m| Split::Heldout.frames(&m.frames).to_vec())
        .collect();

    if !args.no_eval {
        // The held-out evaluation runs after training: find out now if it cannot, rather
        // than after the minutes of training whose model it would then not write.
        evaluate(&motions, Split::Heldout, args.eval_stride, None)
            .context("train: the held-out evaluation that follows training would fail (--no-eval skips it)")?;
    }
    // The damped-velocity baseline's τ, on the training part of the training recordings
    // only: the guard's fourth source and the protocol's third baseline for this model.
    let damping_tau_s = {
        let streams: Vec<Scored<'_>> = train_frames.iter().map(|f| Scored { observed: f, truth: f }).collect();
        fit_damping_tau(&streams, args.eval_stride).context(
            "train: no training recording is long enough for one window (3 s) to fit the damping time constant",
        )?
    };
    if let Some(from) = &args.interpolation_from {
        return crate::cmd_train_interpolation::refit(
            from,
            &args.out,
            &motions,
            args.eval_stride,
            damping_tau_s,
            args.json,
        );
    }
    if let Some(from) = &args.anticipation_from {
        return crate::cmd_train_anticipation::refit(
            from,
            &args.out,
            &train_frames,
            &calibration_frames,
            damping_tau_s,
            args.json,
        );
    }
    let mut cfg = TrainConfig::small(args.seed);
    if let Some(e) = args.epochs {
        cfg.pretrain_epochs = e;
    }
    if let Some(e) = args.finetune_epochs {
        cfg.finetune_epochs = e;
    }
    cfg.augment_rig = args.augment_rig;
    if !(args.finetune_encoders_lr_scale.is_finite() && args.finetune_encoders_lr_scale >= 0.0) {
        bail!(
            "train: --finetune-encoders-lr-scale must be a finite share >= 0, not {}",
            args.finetune_encoders_lr_scale
        );
    }
    cfg.finetune_encoders_lr_scale = args.finetune_encoders_lr_scale;
    if let Some(e) = args.finetune_encoders_epochs {
        cfg.finetune_encoders_epochs = e;
    }
    let ckpt = args
        .checkpoint
        .clone()
        .unwrap_or_else(|| args.out.with_extension("a4m.ckpt"));
    if !args.resume && ckpt.exists() {
        std::fs::remove_file(&ckpt).with_context(|| format!("removing stale checkpoint {}", ckpt.display()))?;
    }

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut on_progress = |p: &Progress| {
        bar.set_prefix(format!("{} {}/{}", p.stage, p.epoch, p.epochs));
        bar.set_length(p.steps as u64);
        bar.set_position(p.step as u64);
        let losses: Vec<String> = p.losses.iter().map(|(n, v)| format!("{n} {v:.4}")).collect();
        bar.set_message(format!("{} | {:.0} windows/s", losses.join(" "), p.windows_per_s));
    };
    let (mut model, report, mut created_by) = match &args.decode_from {
        Some(from) => {
            let (mut model, prov) = a4mer_burn_model::load_model(from, &a4mer_burn_model::device::inference_device())
                .with_context(|| format!("loading {}", from.display()))?;
            if prov.seed != args.seed {
                bail!(
                    "train --decode-from {}: the model was trained with --seed {}, not {}; the decode must be fitted on the same augmented clips",
                    from.display(),
                    prov.seed,
                    args.seed
                );
            }
            cfg.pretrain_epochs = prov.pretrain_epochs as usize;
            cfg.finetune_epochs = prov.finetune_epochs as usize;
            let report = TrainReport {
                decode_windows_per_regime: refit_decode(&mut model, &train_frames, &cfg)?,
                ..TrainReport::default()
            };
            let by = format!("{}; decode refitted from {}", prov.created_by, from.display());
            (model, report, by)
        }
        None => {
            let base = match &args.encoders_from {
                Some(from) => Some(
                    a4mer_burn_model::load_model(from, &a4mer_burn_model::device::inference_device())
                        .with_context(|| format!("loading {}", from.display()))?
                        .0,
                ),
                None => None,
            };
            let foundation = base.as_ref().map(|model| Foundation {
                model,
                random_encoders: args.random_encoders,
            });
            if foundation.is_some() {
                cfg.pretrain_epochs = 0;
            }
            let (model, report) = train_from(&train_frames, &cfg, foundation.as_ref(), Some(&ckpt), &mut on_progress)
                .with_context(|| match &args.encoders_from {
                Some(from) => format!("training on the encoders of {}", from.display()),
                None => "training".into(),
            })?;
            let mut by = format!("a4mer {} train", env!("CARGO_PKG_VERSION"));
            if let Some(from) = &args.encoders_from {
                let what = if args.random_encoders {
                    "normalisation (encoders random)"
                } else {
                    "encoders and normalisation"
                };
                by += &format!("; {what} from {}", from.display());
            }
            (model, report, by)
        }
    };
    bar.finish_and_clear();
    let (prior, anticipation_fit) = crate::cmd_train_anticipation::fit_for(&model, &train_frames, &calibration_frames)?;
    model.anticipation = Some(prior);
    model.interpolation = crate::cmd_train_interpolation::fit_for(&model, &motions, args.eval_stride);
    if cfg.augment_rig {
        created_by += "; bone lengths and source rates augmented (--augment-rig)";
    }

    let heldout: Vec<_> = motions.iter().map(|m| Split::Heldout.frames(&m.frames)).collect();
    let motifs = motif_report(&model, &heldout)?;
    let mut eval_json = None;
    let mut failures = 0;
    if !args.no_eval {
        let mut fc = ModelForecaster::new(&model).with_damping_tau_s(damping_tau_s);
        let rep = evaluate(&motions, Split::Heldout, args.eval_stride, Some(&mut fc))?;
        failures = fc.failures;
        eval_json = Some(serde_json::to_string(&rep)?);
    }
    let mut unseen_eval = None;
    if !args.no_eval && !unseen.is_empty() {
        let mut fc = ModelForecaster::new(&model).with_damping_tau_s(damping_tau_s);
        unseen_eval = Some(evaluate(&unseen, Split::All, args.eval_stride, Some(&mut fc))?);
    }
    let notes = serde_json::json!({
        "motifs_heldout": motifs,
        "train": report,
        "model_failures_heldout": failures,
        "held_out_recordings": held_out_data,
        "held_out_sources": args.hold_out_source.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "eval_held_out_recordings": unseen_eval,
    });
    let prov = Provenance {
        created_by,
        git_revision: git_revision(),
        data,
        seed: args.seed,
        pretrain_epochs: cfg.pretrain_epochs as u32,
        finetune_epochs: cfg.finetune_epochs as u32,
        train_wall_s: started.elapsed().as_secs_f64(),
        eval_json: eval_json.clone(),
        notes_json: Some(notes.to_string()),
        damping_tau_s: Some(damping_tau_s),
    };
    Artifact::from_model(&model, prov).save(&args.out)?;
    let summary = serde_json::json!({
        "out": args.out.display().to_string(),
        "wall_s": started.elapsed().as_secs_f64(),
        "pretrain_epoch_loss": report.pretrain_epoch_loss,
        "finetune_epoch_loss": report.finetune_epoch_loss,
        "val_mpjpe_mm": report.val_mpjpe_mm,
        "best_epoch": report.best_epoch,
        "encoder_finetune_val_mpjpe_mm": report.encoder_finetune_val_mpjpe_mm,
        "encoder_finetune_best_epoch": report.encoder_finetune_best_epoch,
        "tau": report.tau,
        "damping_tau_s": damping_tau_s,
        "anticipation_fit": anticipation_fit,
        "interpolation": model.interpolation,
        "motifs_heldout": motifs,
        "eval_heldout": eval_json.as_deref().map(serde_json::from_str::<serde_json::Value>).transpose()?,
        "eval_held_out_recordings": unseen_eval,
    });
    if args.json {
        return print_json(&summary);
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
