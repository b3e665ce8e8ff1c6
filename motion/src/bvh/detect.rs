//! What a file does not say: its length unit (from the skeleton's height) and its up
//! axis (from where the head is relative to the feet).

use a4mer_runtime::JointMap;

use super::BvhFile;

/// Length unit of a source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    Metres,
    Centimetres,
    Millimetres,
    Inches,
}

impl Units {
    pub fn metres_per_unit(self) -> f64 {
        match self {
            Units::Metres => 1.0,
            Units::Centimetres => 0.01,
            Units::Millimetres => 0.001,
            Units::Inches => 0.0254,
        }
    }

    /// Guess from a skeleton height given in source units (people are 0.4–2.5 m).
    /// Inches are never guessed: a 65-inch person would pass for a 65 cm child.
    pub(super) fn detect(height_src: f64) -> Units {
        if height_src < 4.0 {
            Units::Metres
        } else if height_src < 400.0 {
            Units::Centimetres
        } else {
            Units::Millimetres
        }
    }
}

impl std::str::FromStr for Units {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "m" | "metres" | "meters" => Ok(Units::Metres),
            "cm" | "centimetres" | "centimeters" => Ok(Units::Centimetres),
            "mm" | "millimetres" | "millimeters" => Ok(Units::Millimetres),
            "in" | "inch" | "inches" => Ok(Units::Inches),
            _ => Err(format!("unknown unit {s:?} (expected m, cm, mm or in)")),
        }
    }
}

/// The source axis that points up, with its sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpAxis {
    pub axis: usize,
    pub positive: bool,
}

impl UpAxis {
    pub const Y: UpAxis = UpAxis {
        axis: 1,
        positive: true,
    };
    pub const Z: UpAxis = UpAxis {
        axis: 2,
        positive: true,
    };

    /// Rotation taking source coordinates to REP-103 (z up). For the usual BVH Y-up
    /// convention (character faces +z, +x is its left) this gives x forward, y left.
    /// The horizontal axes of Z-up sources are kept as they are: only the up direction
    /// is fixed by the data.
    pub(crate) fn to_rep103(self) -> [[f64; 3]; 3] {
        // Cyclic permutation bringing `axis` to z keeps handedness.
        let (a, b, c) = match self.axis {
            0 => (1, 2, 0), // x up: (y, z, x)
            1 => (2, 0, 1), // y up: (z, x, y)
            _ => (0, 1, 2),
        };
        let mut m = [[0.0; 3]; 3];
        m[0][a] = 1.0;
        m[1][b] = 1.0;
        m[2][c] = 1.0;
        if !self.positive {
            // Turn upside down about the new x axis: still a proper rotation.
            for v in &mut m[1] {
                *v = -*v;
            }
            for v in &mut m[2] {
                *v = -*v;
            }
        }
        m
    }
}

impl std::fmt::Display for UpAxis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.positive { "+" } else { "-" };
        write!(f, "{sign}{}", ["x", "y", "z"][self.axis])
    }
}

impl std::str::FromStr for UpAxis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (positive, rest) = match s.strip_prefix('-') {
            Some(r) => (false, r),
            None => (true, s.strip_prefix('+').unwrap_or(s)),
        };
        let axis = match rest.to_ascii_lowercase().as_str() {
            "x" => 0,
            "y" => 1,
            "z" => 2,
            _ => return Err(format!("unknown up axis {s:?} (expected y, z, x, optionally signed)")),
        };
        Ok(UpAxis { axis, positive })
    }
}

/// The up axis from where the head is relative to the feet, averaged over the take;
/// the axis of largest extent when the rig has no head or feet.
pub(super) fn detect_up(positions: &[[f64; 3]], n: usize, map: &JointMap) -> (UpAxis, &'static str) {
    let num_frames = positions.len() / n.max(1);
    let head = map.source_of(15).or(map.source_of(12));
    let feet: Vec<usize> = [7, 8, 10, 11].iter().filter_map(|&j| map.source_of(j)).collect();
    let frames = 0..num_frames;
    if let (Some(h), false) = (head, feet.is_empty()) {
        let mut v = [0.0; 3];
        for f in frames {
            let base = &positions[f * n..(f + 1) * n];
            for k in 0..3 {
                let foot = feet.iter().map(|&j| base[j][k]).sum::<f64>() / feet.len() as f64;
                v[k] += base[h][k] - foot;
            }
        }
        let axis = (0..3).max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs())).unwrap_or(1);
        return (
            UpAxis {
                axis,
                positive: v[axis] >= 0.0,
            },
            "head above feet",
        );
    }
    let mut extent = [0.0; 3];
    for f in frames {
        let base = &positions[f * n..(f + 1) * n];
        for (k, e) in extent.iter_mut().enumerate() {
            let (lo, hi) = base
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p[k]), hi.max(p[k])));
            *e += hi - lo;
        }
    }
    let axis = (0..3).max_by(|&a, &b| extent[a].total_cmp(&extent[b])).unwrap_or(1);
    (UpAxis { axis, positive: true }, "largest extent")
}

impl BvhFile {
    /// Pelvis→head plus pelvis→ankle bone lengths in source units (first frame's local
    /// translations, so posture does not matter). Falls back to the longest root-to-leaf
    /// chain, doubled, when the rig lacks those joints.
    pub(super) fn skeleton_height(&self, map: &JointMap) -> f64 {
        let first: &[f64] = self.values.get(..self.num_channels).unwrap_or(&[]);
        let bone = |j: usize| -> f64 {
            if first.len() < self.num_channels || self.nodes[j].parent.is_none() {
                return 0.0;
            }
            let (t, _) = self.local(&self.nodes[j], first);
            (t[0] * t[0] + t[1] * t[1] + t[2] * t[2]).sqrt()
        };
        let chain_to = |from: usize, to: usize| -> Option<f64> {
            let mut len = 0.0;
            let mut j = to;
            while j != from {
                len += bone(j);
                j = self.nodes[j].parent?;
            }
            Some(len)
        };
        let pelvis = map.source_of(0);
        let head = map.source_of(15).or(map.source_of(12));
        let ankle = [7, 8]
            .iter()
            .filter_map(|&j| map.source_of(j))
            .filter_map(|a| pelvis.and_then(|p| chain_to(p, a)))
            .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l))));
        if let (Some(p), Some(h), Some(leg)) = (pelvis, head, ankle)
            && let Some(torso) = chain_to(p, h)
        {
            return torso + leg;
        }
        let longest = (0..self.nodes.len()).filter_map(|j| chain_to(0, j)).fold(0.0, f64::max);
        2.0 * longest
    }
}
