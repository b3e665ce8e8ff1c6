//! The interpolation calibration of `a4mer train`: per gap length, how much of the Hermite
//! curve's end velocities and of the head's residual to use, chosen on the part of the
//! training recordings the heads did not train on. Fitted after training, or refitted alone
//! onto a trained model (`--interpolation-from`).

use std::path::Path;

use anyhow::{Context, Result, bail};

use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::{Model, load_model};
use a4mer_measure::eval::Split;
use a4mer_measure::interp_eval::fit_interpolation;
use a4mer_motion::Motion;
use a4mer_runtime::artifact::Artifact;
use a4mer_runtime::model::interp::InterpCalibration;

use crate::cmd_train_anticipation::{print_refit, save_refit};

/// The calibration of a trained model on the validation part of its training recordings.
pub fn fit_for(model: &Model, motions: &[Motion], stride: usize) -> Option<InterpCalibration> {
    fit_interpolation(model, motions, Split::Heldout, stride)
}

/// Refit the calibration of the model at `from` (f32 or int8) and write it to `out`; the
/// rest of the artifact is kept as it is ([`save_refit`]).
pub fn refit(from: &Path, out: &Path, motions: &[Motion], stride: usize, damping_tau_s: f32, json: bool) -> Result<()> {
    let origin = from.display().to_string();
    let mut art = Artifact::load(from).with_context(|| format!("loading {origin}"))?;
    let (model, _) = load_model(from, &inference_device()).with_context(|| format!("loading {origin}"))?;
    let Some(cal) = fit_for(&model, motions, stride) else {
        bail!(
            "train: no training recording's validation part (its last 20 %) is long enough for one gap window (2 s of history and the gap): nothing to calibrate the interpolation on"
        );
    };
    art.payload.interpolation = Some(cal.clone());
    let what = format!(
        "interpolation calibrated from {origin} on {} training recordings",
        motions.len()
    );
    let tau_given = save_refit(&mut art, out, damping_tau_s, &what)?;
    print_refit(
        serde_json::json!({
            "out": out.display().to_string(),
            "interpolation_from": origin,
            "interpolation": cal,
            "damping_tau_s_fitted": tau_given,
        }),
        json,
    )
}
