//! Forward kinematics in source units and axes: per-joint rotation is the product of the
//! channel rotations in file order; position channels replace OFFSET components.

use a4mer_runtime::Skeleton;

use super::{BvhFile, BvhNode, Channel};

fn mat_mul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

pub(super) fn mat_vec(a: &[[f64; 3]; 3], v: &[f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| a[i][0] * v[0] + a[i][1] * v[1] + a[i][2] * v[2])
}

fn axis_rotation(axis: usize, degrees: f64) -> [[f64; 3]; 3] {
    let (s, c) = degrees.to_radians().sin_cos();
    match axis {
        0 => [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]],
        1 => [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
        _ => [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
    }
}

const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

impl BvhFile {
    pub fn num_frames(&self) -> usize {
        self.values.len() / self.num_channels.max(1)
    }

    /// The hierarchy as a skeleton; End Sites appear as `<parent>_EndSite`.
    pub fn skeleton(&self) -> Skeleton {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bvh".into());
        Skeleton {
            name: stem,
            joint_names: self.nodes.iter().map(|n| n.name.clone()).collect(),
            parents: self.nodes.iter().map(|n| n.parent).collect(),
        }
    }

    /// Local translation of a node in frame `f`: position channels replace OFFSET
    /// components (root and non-root alike); End Sites and rotation-only joints use OFFSET.
    pub(super) fn local(&self, node: &BvhNode, frame: &[f64]) -> ([f64; 3], [[f64; 3]; 3]) {
        let mut t = node.offset;
        let mut r = IDENTITY;
        for (k, ch) in node.channels.iter().enumerate() {
            let v = frame[node.channel_start + k];
            match ch {
                Channel::XPosition => t[0] = v,
                Channel::YPosition => t[1] = v,
                Channel::ZPosition => t[2] = v,
                Channel::XRotation => r = mat_mul(&r, &axis_rotation(0, v)),
                Channel::YRotation => r = mat_mul(&r, &axis_rotation(1, v)),
                Channel::ZRotation => r = mat_mul(&r, &axis_rotation(2, v)),
            }
        }
        (t, r)
    }

    /// World positions of every node in frame `f`, source units and axes.
    pub fn forward_kinematics(&self, f: usize, out: &mut [[f64; 3]]) {
        let frame = &self.values[f * self.num_channels..(f + 1) * self.num_channels];
        let mut world_rot = vec![IDENTITY; self.nodes.len()];
        for (j, node) in self.nodes.iter().enumerate() {
            let (t, r) = self.local(node, frame);
            match node.parent {
                None => {
                    out[j] = t;
                    world_rot[j] = r;
                }
                Some(p) => {
                    let d = mat_vec(&world_rot[p], &t);
                    out[j] = [out[p][0] + d[0], out[p][1] + d[1], out[p][2] + d[2]];
                    world_rot[j] = mat_mul(&world_rot[p], &r);
                }
            }
        }
    }
}
