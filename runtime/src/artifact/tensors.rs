//! How one tensor is stored: f32 as little-endian bytes, or int8 with per-channel scales,
//! tagged by dtype so an older reader refuses what it does not know by name.

use serde::{Deserialize, Serialize};

use crate::model::quant::QTensor;
use crate::model::tensors::NamedTensor;

/// Values of one tensor, tagged by dtype; a reader that does not know a dtype rejects the
/// artifact by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dtype")]
pub enum TensorValues {
    /// Little-endian IEEE-754 f32, row-major.
    #[serde(rename = "f32")]
    F32 {
        #[serde(with = "serde_bytes")]
        le_bytes: Vec<u8>,
    },
    /// A 2-D weight `[n_in, n_out]`, symmetric int8 (two's complement bytes, row-major,
    /// -127..=127) with one little-endian f32 scale per output channel
    /// (`channel_axis` = 1): `w[i][j] = q[i][j] * scale[j]`.
    #[serde(rename = "i8")]
    I8 {
        #[serde(with = "serde_bytes")]
        values: Vec<u8>,
        #[serde(with = "serde_bytes")]
        scales_le: Vec<u8>,
        channel_axis: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorRecord {
    pub shape: Vec<u64>,
    pub values: TensorValues,
}

impl TensorRecord {
    pub fn from_f32(t: &NamedTensor) -> Self {
        let mut le = Vec::with_capacity(t.values.len() * 4);
        for v in &t.values {
            le.extend_from_slice(&v.to_le_bytes());
        }
        Self {
            shape: t.shape.iter().map(|&s| s as u64).collect(),
            values: TensorValues::F32 { le_bytes: le },
        }
    }

    pub fn from_qtensor(q: &QTensor) -> Self {
        Self {
            shape: vec![q.n_in as u64, q.n_out as u64],
            values: TensorValues::I8 {
                values: q.values.iter().map(|v| *v as u8).collect(),
                scales_le: q.scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
                channel_axis: 1,
            },
        }
    }

    fn dims(&self) -> Result<(Vec<usize>, usize), String> {
        let shape: Vec<usize> = self
            .shape
            .iter()
            .map(|&s| usize::try_from(s).map_err(|_| format!("dimension {s} too large")))
            .collect::<Result<_, _>>()?;
        let n = shape
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b))
            .ok_or("shape overflows")?;
        Ok((shape, n))
    }

    /// The int8 tensor, checked; `None` for an f32 tensor.
    pub fn to_qtensor(&self) -> Result<Option<QTensor>, String> {
        let TensorValues::I8 {
            values,
            scales_le,
            channel_axis,
        } = &self.values
        else {
            return Ok(None);
        };
        let (shape, _) = self.dims()?;
        let [n_in, n_out] = shape[..] else {
            return Err(format!(
                "int8 tensor of shape {shape:?}: only 2-D weights are quantized"
            ));
        };
        if *channel_axis != 1 {
            return Err(format!(
                "int8 channel axis {channel_axis}: only per-output-channel (axis 1) scales are supported"
            ));
        }
        if scales_le.len() % 4 != 0 {
            return Err(format!("{} bytes of f32 scales", scales_le.len()));
        }
        let q = QTensor {
            n_in,
            n_out,
            values: values.iter().map(|v| *v as i8).collect(),
            scales: scales_le
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        };
        q.check()?;
        Ok(Some(q))
    }

    pub fn is_int8(&self) -> bool {
        matches!(self.values, TensorValues::I8 { .. })
    }

    /// The values as f32 (int8 tensors dequantized).
    pub fn to_f32(&self) -> Result<NamedTensor, String> {
        let (shape, n) = self.dims()?;
        if let Some(q) = self.to_qtensor()? {
            return Ok(NamedTensor {
                shape,
                values: q.dequantize(),
            });
        }
        match &self.values {
            TensorValues::F32 { le_bytes } => {
                if le_bytes.len() != n * 4 {
                    return Err(format!(
                        "{} bytes of f32 for shape {:?} ({} values expected)",
                        le_bytes.len(),
                        shape,
                        n
                    ));
                }
                let values = le_bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                Ok(NamedTensor { shape, values })
            }
            TensorValues::I8 { .. } => Err("int8 tensor could not be read".into()),
        }
    }
}
