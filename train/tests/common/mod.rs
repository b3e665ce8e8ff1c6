//! Test helpers: write BVH text, and re-express a parsed recording as another rig would
//! export it (channel order, units, up axis, translation channels, joint names, rate).

#![allow(dead_code)]

use std::fmt::Write;
use std::path::PathBuf;

use a4mer_train::data::bvh::{BvhFile, BvhNode, Channel};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn bundled_mocap() -> Vec<PathBuf> {
    let dir = repo_root().join("data/mocap");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bvh"))
        .collect();
    v.sort();
    v
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::XPosition => "Xposition",
        Channel::YPosition => "Yposition",
        Channel::ZPosition => "Zposition",
        Channel::XRotation => "Xrotation",
        Channel::YRotation => "Yrotation",
        Channel::ZRotation => "Zrotation",
    }
}

/// Serialise a parsed file back to BVH text.
pub fn write_bvh(bvh: &BvhFile) -> String {
    let mut s = String::from("HIERARCHY\n");
    fn node(s: &mut String, bvh: &BvhFile, j: usize, depth: usize) {
        let n = &bvh.nodes[j];
        let pad = "\t".repeat(depth);
        if n.end_site {
            writeln!(s, "{pad}End Site\n{pad}{{").unwrap();
        } else {
            let kw = if n.parent.is_none() { "ROOT" } else { "JOINT" };
            writeln!(s, "{pad}{kw} {}\n{pad}{{", n.name).unwrap();
        }
        writeln!(
            s,
            "{pad}\tOFFSET {:.6} {:.6} {:.6}",
            n.offset[0], n.offset[1], n.offset[2]
        )
        .unwrap();
        if !n.end_site {
            let names: Vec<&str> = n.channels.iter().map(|c| channel_name(*c)).collect();
            writeln!(s, "{pad}\tCHANNELS {} {}", names.len(), names.join(" ")).unwrap();
        }
        for c in (0..bvh.nodes.len()).filter(|&c| bvh.nodes[c].parent == Some(j)) {
            node(s, bvh, c, depth + 1);
        }
        writeln!(s, "{pad}}}").unwrap();
    }
    node(&mut s, bvh, 0, 0);
    writeln!(
        s,
        "MOTION\nFrames: {}\nFrame Time: {:.6}",
        bvh.num_frames(),
        bvh.frame_time_s
    )
    .unwrap();
    for f in bvh.values.chunks(bvh.num_channels) {
        let line: Vec<String> = f.iter().map(|v| format!("{v:.6}")).collect();
        s.push_str(&line.join(" "));
        s.push('\n');
    }
    s
}

pub type Mat = [[f64; 3]; 3];

pub fn mul(a: &Mat, b: &Mat) -> Mat {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

pub fn rot(axis: usize, deg: f64) -> Mat {
    let (s, c) = deg.to_radians().sin_cos();
    match axis {
        0 => [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]],
        1 => [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]],
        _ => [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
    }
}

fn axis_of(c: Channel) -> Option<usize> {
    match c {
        Channel::XRotation => Some(0),
        Channel::YRotation => Some(1),
        Channel::ZRotation => Some(2),
        _ => None,
    }
}

/// Angles (degrees) with `R = R_a(α) R_b(β) R_c(γ)` for the Tait-Bryan order (a, b, c).
pub fn euler_from(r: &Mat, order: [usize; 3]) -> [f64; 3] {
    let [a, b, c] = order;
    let even = matches!(order, [0, 1, 2] | [1, 2, 0] | [2, 0, 1]);
    let e = if even { 1.0 } else { -1.0 };
    let beta = (e * r[a][c]).clamp(-1.0, 1.0).asin();
    let alpha = (-e * r[b][c]).atan2(r[c][c]);
    let gamma = (-e * r[a][b]).atan2(r[a][a]);
    [alpha.to_degrees(), beta.to_degrees(), gamma.to_degrees()]
}

/// A rig transformation applied to a parsed recording.
#[derive(Clone, Debug)]
pub struct Rig {
    /// New Euler order for every joint's rotation channels, as axis indices.
    pub order: [usize; 3],
    /// Source units per metre-unit of the original (0.01 turns cm into m).
    pub scale: f64,
    /// Rotate the whole world (pre-multiplies the root).
    pub world: Mat,
    /// Give every non-root joint position channels holding its full local translation.
    pub translation_channels: bool,
    /// Rename joints.
    pub rename: fn(&str) -> String,
}

impl Rig {
    pub fn identity() -> Self {
        Rig {
            order: [2, 1, 0],
            scale: 1.0,
            world: rot(0, 0.0),
            translation_channels: false,
            rename: |s| s.to_string(),
        }
    }
}

fn local_rotation(node: &BvhNode, frame: &[f64]) -> Mat {
    let mut r = rot(0, 0.0);
    for (k, c) in node.channels.iter().enumerate() {
        if let Some(a) = axis_of(*c) {
            r = mul(&r, &rot(a, frame[node.channel_start + k]));
        }
    }
    r
}

fn local_translation(node: &BvhNode, frame: &[f64]) -> [f64; 3] {
    let mut t = node.offset;
    for (k, c) in node.channels.iter().enumerate() {
        match c {
            Channel::XPosition => t[0] = frame[node.channel_start + k],
            Channel::YPosition => t[1] = frame[node.channel_start + k],
            Channel::ZPosition => t[2] = frame[node.channel_start + k],
            _ => {}
        }
    }
    t
}

/// Re-express `bvh` under `rig`. The motion (world joint positions up to `world` and
/// `scale`) is unchanged.
pub fn re_rig(bvh: &BvhFile, rig: &Rig) -> BvhFile {
    let axis_ch = [Channel::XRotation, Channel::YRotation, Channel::ZRotation];
    let pos_ch = [Channel::XPosition, Channel::YPosition, Channel::ZPosition];
    let mut nodes = Vec::new();
    let mut start = 0;
    for n in &bvh.nodes {
        let mut channels = Vec::new();
        if !n.end_site {
            if n.parent.is_none() || rig.translation_channels {
                channels.extend(pos_ch);
            }
            channels.extend(rig.order.map(|a| axis_ch[a]));
        }
        let offset = if n.end_site || n.parent.is_none() {
            n.offset.map(|v| v * rig.scale)
        } else if rig.translation_channels {
            // Blender-style: OFFSET is only the rest pose; the channels hold the real
            // translation. A deliberately different OFFSET proves channels replace it.
            [
                n.offset[0] * rig.scale + 7.0,
                n.offset[1] * rig.scale - 3.0,
                n.offset[2] * rig.scale,
            ]
        } else {
            n.offset.map(|v| v * rig.scale)
        };
        nodes.push(BvhNode {
            name: if n.end_site {
                n.name.clone()
            } else {
                (rig.rename)(&n.name)
            },
            parent: n.parent,
            offset,
            channel_start: start,
            channels: channels.clone(),
            end_site: n.end_site,
        });
        start += channels.len();
    }
    let mut values = Vec::with_capacity(bvh.num_frames() * start);
    for frame in bvh.values.chunks(bvh.num_channels) {
        for (old, new) in bvh.nodes.iter().zip(&nodes) {
            if old.end_site {
                continue;
            }
            let mut r = local_rotation(old, frame);
            let mut t = local_translation(old, frame).map(|v| v * rig.scale);
            if old.parent.is_none() {
                r = mul(&rig.world, &r);
                t = std::array::from_fn(|i| (0..3).map(|k| rig.world[i][k] * t[k]).sum());
            }
            if new.channels.len() == 6 {
                values.extend(t);
            }
            values.extend(euler_from(&r, rig.order));
        }
    }
    BvhFile {
        path: bvh.path.clone(),
        nodes,
        frame_time_s: bvh.frame_time_s,
        num_channels: start,
        values,
    }
}

/// Every `k`-th frame, with the frame time scaled to match.
pub fn decimate(bvh: &BvhFile, k: usize) -> BvhFile {
    let values = bvh
        .values
        .chunks(bvh.num_channels)
        .step_by(k)
        .flatten()
        .copied()
        .collect();
    BvhFile {
        values,
        frame_time_s: bvh.frame_time_s * k as f64,
        ..bvh.clone()
    }
}

/// First `n` frames.
pub fn truncate(bvh: &BvhFile, n: usize) -> BvhFile {
    BvhFile {
        values: bvh.values[..n * bvh.num_channels].to_vec(),
        ..bvh.clone()
    }
}
