//! The trained model behind the evaluation protocol's [`Forecaster`] interface.

use a4mer_runtime::PoseFrame;
use a4mer_runtime::model::Model;

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
