//! The trained model behind the evaluation protocol's [`Forecaster`] interface.

use std::sync::Arc;

use a4mer_runtime::PoseFrame;
use a4mer_runtime::model::Model;
use a4mer_runtime::stream::{Engine, EngineConfig, StreamModel};

use crate::eval::{Forecast, Forecaster, HORIZON_STEPS, ZeroVelocity};

/// Forecasts with a model. A window the model rejects (e.g. no valid pelvis) is forecast
/// by holding the last pose, and counted in `failures` so a report can say so.
pub struct ModelForecaster<'a> {
    pub model: &'a Model,
    pub failures: usize,
    pub last_error: Option<String>,
}

impl<'a> ModelForecaster<'a> {
    pub fn new(model: &'a Model) -> Self {
        Self {
            model,
            failures: 0,
            last_error: None,
        }
    }
}

impl Forecaster for ModelForecaster<'_> {
    fn forecast(&mut self, observed: &[PoseFrame]) -> Forecast {
        match self.model.forecast(observed) {
            Ok(f) if f.steps.len() >= HORIZON_STEPS => std::array::from_fn(|k| f.steps[k].joints_in_world),
            Ok(f) => {
                self.failures += 1;
                self.last_error = Some(format!("model horizon {} < {HORIZON_STEPS}", f.steps.len()));
                ZeroVelocity.forecast(observed)
            }
            Err(e) => {
                self.failures += 1;
                self.last_error = Some(e.to_string());
                ZeroVelocity.forecast(observed)
            }
        }
    }
}

/// Forecasts with the streaming engine, what the node publishes: a fresh engine per window
/// streams the observed frames and its last anticipation is the forecast. For an int8
/// artifact this is where the int8 kernels run (the burn modules hold dequantized weights).
/// A window the engine cannot forecast is held as zero velocity and counted in `failures`.
pub struct EngineForecaster {
    pub model: Arc<StreamModel>,
    pub failures: usize,
    pub last_error: Option<String>,
}

impl EngineForecaster {
    pub fn new(model: Arc<StreamModel>) -> Self {
        Self {
            model,
            failures: 0,
            last_error: None,
        }
    }
}

impl Forecaster for EngineForecaster {
    fn forecast(&mut self, observed: &[PoseFrame]) -> Forecast {
        let mut engine = match Engine::new(self.model.clone(), EngineConfig::default()) {
            Ok(e) => e,
            Err(e) => {
                self.failures += 1;
                self.last_error = Some(e.to_string());
                return ZeroVelocity.forecast(observed);
            }
        };
        let mut last = Ok(());
        for f in observed {
            last = engine.push_ref(f).map(|_| ());
        }
        match (last, engine.latest()) {
            (Ok(()), Some(a)) if a.forecast.len() >= HORIZON_STEPS => {
                std::array::from_fn(|k| a.forecast[k].joints_in_world)
            }
            (Err(e), _) => {
                self.failures += 1;
                self.last_error = Some(e.to_string());
                ZeroVelocity.forecast(observed)
            }
            _ => {
                self.failures += 1;
                self.last_error = Some(format!("the engine gave no {HORIZON_STEPS}-step forecast"));
                ZeroVelocity.forecast(observed)
            }
        }
    }
}
