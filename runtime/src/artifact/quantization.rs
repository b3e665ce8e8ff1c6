//! The `quantization` section of an int8 artifact, and which layers it makes int8.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DataFile;
use crate::model::quant::ActScale;

/// `Quantization::activations` of an artifact whose int8 layers quantize each input vector
/// with its own scale at run time; its int8 layers are `int8_layers`.
pub const ACTIVATIONS_DYNAMIC: &str = "dynamic-per-vector";
/// `Quantization::activations` of an artifact with one calibrated scale per layer input
/// (`activation_scales`). Artifacts made before the field existed have none and are read
/// as this.
pub const ACTIVATIONS_STATIC: &str = "static-per-tensor";

/// How an int8 artifact was made: its scheme, calibration and measured accuracy. The
/// engine runs the layers in `int8_layers` (dynamic) or `activation_scales` (static) in
/// int8; all else stays f32.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantization {
    /// e.g. "int8 symmetric: weights per output channel, activations per vector".
    pub scheme: String,
    /// [`ACTIVATIONS_DYNAMIC`] or [`ACTIVATIONS_STATIC`]; empty (absent) in artifacts
    /// that predate dynamic scales, which are static.
    #[serde(default)]
    pub activations: String,
    /// How static scales were calibrated (`minmax` or `percentile`); `none` for dynamic.
    pub method: String,
    pub percentile: Option<f64>,
    /// Dynamic: the engine layers that run in int8.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub int8_layers: Vec<String>,
    /// Static: per int8 layer (burn module path, e.g. `forecast.l1`), the scale of its
    /// input. Empty for dynamic.
    pub activation_scales: BTreeMap<String, f32>,
    /// Engine layers deliberately kept in f32, with the reason.
    pub kept_f32: BTreeMap<String, String>,
    /// SHA-256 of the f32 artifact this was made from.
    pub source_sha256: String,
    /// The calibration recordings (split, hashes, frames streamed).
    pub calibration: Vec<DataFile>,
    pub calibration_split: String,
    pub calibration_frames: u64,
    /// The accuracy and speed report of `a4mer quantize` (JSON), measured before saving.
    pub report_json: Option<String>,
}

impl Quantization {
    /// The int8 layers and how each quantizes its input, checked against the scheme named
    /// in `activations`.
    pub fn int8_inputs(&self) -> Result<Vec<(String, ActScale)>, String> {
        match self.activations.as_str() {
            ACTIVATIONS_DYNAMIC => {
                if let Some(layer) = self.activation_scales.keys().next() {
                    return Err(format!(
                        "activations are `{ACTIVATIONS_DYNAMIC}` but layer `{layer}` has a static activation scale"
                    ));
                }
                if self.int8_layers.is_empty() {
                    return Err(format!(
                        "activations are `{ACTIVATIONS_DYNAMIC}` but `int8_layers` is empty"
                    ));
                }
                let mut seen = std::collections::BTreeSet::new();
                self.int8_layers
                    .iter()
                    .map(|l| {
                        if seen.insert(l) {
                            Ok((l.clone(), ActScale::Dynamic))
                        } else {
                            Err(format!("int8 layer `{l}` is listed twice in `int8_layers`"))
                        }
                    })
                    .collect()
            }
            "" | ACTIVATIONS_STATIC => {
                if let Some(layer) = self.int8_layers.first() {
                    return Err(format!(
                        "activations are `{ACTIVATIONS_STATIC}` but `int8_layers` lists `{layer}` (static layers are the keys of `activation_scales`)"
                    ));
                }
                Ok(self
                    .activation_scales
                    .iter()
                    .map(|(l, s)| (l.clone(), ActScale::Static(*s)))
                    .collect())
            }
            other => Err(format!(
                "activations `{other}` is not a scheme this runtime knows (`{ACTIVATIONS_DYNAMIC}` or `{ACTIVATIONS_STATIC}`)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The section as written before `activations` and `int8_layers` existed.
    #[derive(Serialize)]
    struct Before {
        scheme: String,
        method: String,
        percentile: Option<f64>,
        activation_scales: BTreeMap<String, f32>,
        kept_f32: BTreeMap<String, String>,
        source_sha256: String,
        calibration: Vec<DataFile>,
        calibration_split: String,
        calibration_frames: u64,
        report_json: Option<String>,
    }

    fn dynamic(layers: &[&str]) -> Quantization {
        Quantization {
            activations: ACTIVATIONS_DYNAMIC.into(),
            method: "none".into(),
            int8_layers: layers.iter().map(|l| l.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_section_from_before_dynamic_scales_reads_as_static() {
        let before = Before {
            scheme: "int8 symmetric".into(),
            method: "percentile".into(),
            percentile: Some(99.99),
            activation_scales: BTreeMap::from([("forecast.l1".into(), 0.25f32), ("atom.embed".into(), 0.5)]),
            kept_f32: BTreeMap::new(),
            source_sha256: "00".into(),
            calibration: vec![],
            calibration_split: "train".into(),
            calibration_frames: 900,
            report_json: None,
        };
        let bytes = crate::codec::encode(&before, "test").unwrap();
        let q: Quantization = crate::codec::decode(&bytes, "test").unwrap();
        assert_eq!(q.activations, "");
        assert_eq!(
            q.int8_inputs().unwrap(),
            vec![
                ("atom.embed".to_string(), ActScale::Static(0.5)),
                ("forecast.l1".to_string(), ActScale::Static(0.25)),
            ]
        );
    }

    #[test]
    fn a_dynamic_section_round_trips_and_lists_its_layers() {
        let q = dynamic(&["forecast.l1", "atom.embed"]);
        let back: Quantization = crate::codec::decode(&crate::codec::encode(&q, "test").unwrap(), "test").unwrap();
        assert_eq!(back, q);
        assert_eq!(
            back.int8_inputs().unwrap(),
            vec![
                ("forecast.l1".to_string(), ActScale::Dynamic),
                ("atom.embed".to_string(), ActScale::Dynamic),
            ]
        );
    }

    #[test]
    fn contradictory_sections_are_refused_by_field() {
        let mut q = dynamic(&["forecast.l1"]);
        q.activation_scales.insert("atom.embed".into(), 0.1);
        let e = q.int8_inputs().unwrap_err();
        assert!(e.contains("atom.embed") && e.contains("static activation scale"), "{e}");

        let e = dynamic(&[]).int8_inputs().unwrap_err();
        assert!(e.contains("`int8_layers` is empty"), "{e}");

        let e = dynamic(&["forecast.l1", "forecast.l1"]).int8_inputs().unwrap_err();
        assert!(e.contains("forecast.l1") && e.contains("twice"), "{e}");

        let mut q = dynamic(&["forecast.l1"]);
        q.activations = ACTIVATIONS_STATIC.into();
        let e = q.int8_inputs().unwrap_err();
        assert!(e.contains("forecast.l1") && e.contains("int8_layers"), "{e}");

        let mut q = dynamic(&["forecast.l1"]);
        q.activations = "per-token".into();
        let e = q.int8_inputs().unwrap_err();
        assert!(e.contains("`per-token`") && e.contains(ACTIVATIONS_DYNAMIC), "{e}");
    }
}
