//! The trained model behind the evaluation protocol's [`Forecaster`] interface.

use std::sync::Arc;

use a4mer_burn_model::Model;
use a4mer_runtime::PoseFrame;
use a4mer_runtime::stream::{Engine, EngineConfig, StreamModel};

use crate::eval::{Forecast, Forecaster, HORIZON_STEPS, ZeroVelocity};

/// Forecasts with a model. A window the model rejects (e.g. no valid pelvis) is refused
/// (`Forecaster::refused_last`; the protocol scores nothing on it) and counted in
/// `failures` so a report can say so.
pub struct ModelForecaster<'a> {
    pub model: &'a Model,
    pub failures: usize,
    pub last_error: Option<String>,
    refused: bool,
    /// The model's damped-velocity τ, from its provenance (the burn modules do not carry it).
    damping_tau_s: Option<f32>,
}

impl<'a> ModelForecaster<'a> {
    pub fn new(model: &'a Model) -> Self {
        Self {
            model,
            failures: 0,
            last_error: None,
            refused: false,
            damping_tau_s: None,
        }
    }

    /// The τ the protocol's damped baseline uses beside this model.
    pub fn with_damping_tau_s(mut self, tau_s: f32) -> Self {
        self.damping_tau_s = Some(tau_s);
        self
    }
}

impl Forecaster for ModelForecaster<'_> {
    fn refused_last(&self) -> bool {
        self.refused
    }

    fn damping_tau_s(&self) -> Option<f32> {
        self.damping_tau_s
    }

    fn forecast(&mut self, observed: &[PoseFrame]) -> Forecast {
        self.refused = false;
        match self.model.forecast(observed) {
            Ok(f) if f.steps.len() >= HORIZON_STEPS => std::array::from_fn(|k| f.steps[k].joints_in_world),
            Ok(f) => {
                self.failures += 1;
                self.refused = true;
                self.last_error = Some(format!("model horizon {} < {HORIZON_STEPS}", f.steps.len()));
                ZeroVelocity.forecast(observed)
            }
            Err(e) => {
                self.failures += 1;
                self.refused = true;
                self.last_error = Some(e.to_string());
                ZeroVelocity.forecast(observed)
            }
        }
    }
}

/// Forecasts with the streaming engine, what the node publishes. Consecutive windows of one
/// recording stream through one engine, as the node sees a person: only the frames newer
/// than the engine's newest are pushed, so the guard has the history it has live. A window
/// that does not continue the last one (another recording or condition) starts a fresh
/// engine. For an int8 artifact this is where the int8 kernels run (the burn modules hold
/// dequantized weights). A window the engine cannot forecast is refused
/// (`Forecaster::refused_last`) and counted in `failures`.
pub struct EngineForecaster {
    pub model: Arc<StreamModel>,
    pub config: EngineConfig,
    pub failures: usize,
    pub last_error: Option<String>,
    engine: Option<Engine>,
    /// The newest frame the engine was given.
    newest: Option<PoseFrame>,
    refused: bool,
}

impl EngineForecaster {
    /// The engine as the node runs it (guard on).
    pub fn new(model: Arc<StreamModel>) -> Self {
        Self::with_config(model, EngineConfig::default())
    }

    pub fn with_config(model: Arc<StreamModel>, config: EngineConfig) -> Self {
        Self {
            model,
            config,
            failures: 0,
            last_error: None,
            engine: None,
            newest: None,
            refused: false,
        }
    }

    fn fail(&mut self, why: String, observed: &[PoseFrame]) -> Forecast {
        self.failures += 1;
        self.refused = true;
        self.last_error = Some(why);
        ZeroVelocity.forecast(observed)
    }
}

impl Forecaster for EngineForecaster {
    fn refused_last(&self) -> bool {
        self.refused
    }

    fn damping_tau_s(&self) -> Option<f32> {
        Some(self.model.damping_tau().seconds())
    }

    fn forecast(&mut self, observed: &[PoseFrame]) -> Forecast {
        self.refused = false;
        // The same stamp and the same joints, bit for bit: the same recording.
        let resume = self
            .newest
            .and_then(|n| observed.iter().rposition(|f| f.stamp_ns == n.stamp_ns && *f == n))
            .filter(|_| self.engine.is_some());
        let new_frames = match resume {
            Some(i) => &observed[i + 1..],
            None => {
                match Engine::new(self.model.clone(), self.config.clone()) {
                    Ok(e) => self.engine = Some(e),
                    Err(e) => return self.fail(e.to_string(), observed),
                }
                observed
            }
        };
        let Some(engine) = self.engine.as_mut() else {
            return self.fail("no engine".into(), observed);
        };
        let mut last = Ok(());
        for f in new_frames {
            last = engine.push_ref(f).map(|_| ());
        }
        self.newest = observed.last().copied();
        match (last, engine.latest()) {
            (Ok(()), Some(a)) if a.forecast.len() >= HORIZON_STEPS => {
                std::array::from_fn(|k| a.forecast[k].joints_in_world)
            }
            (Err(e), _) => self.fail(e.to_string(), observed),
            _ => self.fail(format!("the engine gave no {HORIZON_STEPS}-step forecast"), observed),
        }
    }
}
