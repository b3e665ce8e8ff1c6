//! Test helpers: write BVH text, and re-express a parsed recording as another rig would
//! export it (channel order, units, up axis, translation channels, joint names, rate).

#![allow(dead_code)]

use std::fmt::Write;
use std::path::PathBuf;

use a4mer_motion::bvh::{BvhFile, BvhNode, Channel};

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
            let names: Vec<&str> = n.channels.iter().map(|c| c.name()).collect();
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

type Quat = [f64; 4]; // w, x, y, z

fn quat_from(m: &Mat) -> Quat {
    let tr = m[0][0] + m[1][1] + m[2][2];
    let q = if tr > 0.0 {
        let s = (tr + 1.0).sqrt() * 2.0;
        [
            0.25 * s,
            (m[2][1] - m[1][2]) / s,
            (m[0][2] - m[2][0]) / s,
            (m[1][0] - m[0][1]) / s,
        ]
    } else if m[0][0] > m[1][1] && m[0][0] > m[2][2] {
        let s = (1.0 + m[0][0] - m[1][1] - m[2][2]).sqrt() * 2.0;
        [
            (m[2][1] - m[1][2]) / s,
            0.25 * s,
            (m[0][1] + m[1][0]) / s,
            (m[0][2] + m[2][0]) / s,
        ]
    } else if m[1][1] > m[2][2] {
        let s = (1.0 + m[1][1] - m[0][0] - m[2][2]).sqrt() * 2.0;
        [
            (m[0][2] - m[2][0]) / s,
            (m[0][1] + m[1][0]) / s,
            0.25 * s,
            (m[1][2] + m[2][1]) / s,
        ]
    } else {
        let s = (1.0 + m[2][2] - m[0][0] - m[1][1]).sqrt() * 2.0;
        [
            (m[1][0] - m[0][1]) / s,
            (m[0][2] + m[2][0]) / s,
            (m[1][2] + m[2][1]) / s,
            0.25 * s,
        ]
    };
    let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    q.map(|v| v / n)
}

fn mat_from(q: &Quat) -> Mat {
    let [w, x, y, z] = *q;
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
}

fn slerp(a: &Quat, b: &Quat, t: f64) -> Quat {
    let mut d: f64 = (0..4).map(|i| a[i] * b[i]).sum();
    let b = if d < 0.0 {
        d = -d;
        b.map(|v| -v)
    } else {
        *b
    };
    if d > 0.9995 {
        let q: Quat = std::array::from_fn(|i| a[i] + t * (b[i] - a[i]));
        let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
        return q.map(|v| v / n);
    }
    let th = d.acos();
    let (sa, sb) = (((1.0 - t) * th).sin() / th.sin(), (t * th).sin() / th.sin());
    std::array::from_fn(|i| sa * a[i] + sb * b[i])
}

/// The same motion sampled at `fps`: local rotations slerped, translations lerped, as a
/// capture system running at that rate would have recorded it.
pub fn resample_rig(bvh: &BvhFile, fps: f64) -> BvhFile {
    // Frame times are stored rounded (0.033333): use the rate they stand for.
    let src_fps = (1.0 / bvh.frame_time_s).round();
    let n_src = bvh.num_frames();
    let duration = (n_src - 1) as f64 / src_fps;
    let n_out = (duration * fps).floor() as usize + 1;
    let frames: Vec<&[f64]> = bvh.values.chunks(bvh.num_channels).collect();
    let mut values = Vec::with_capacity(n_out * bvh.num_channels);
    for k in 0..n_out {
        let x = k as f64 / fps * src_fps;
        let i = (x.floor() as usize).min(n_src - 1);
        let j = (i + 1).min(n_src - 1);
        let w = x - i as f64;
        for node in bvh.nodes.iter().filter(|n| !n.end_site) {
            let order: Vec<usize> = node.channels.iter().filter_map(|c| axis_of(*c)).collect();
            let ta = local_translation(node, frames[i]);
            let tb = local_translation(node, frames[j]);
            let q = slerp(
                &quat_from(&local_rotation(node, frames[i])),
                &quat_from(&local_rotation(node, frames[j])),
                w,
            );
            let angles = euler_from(&mat_from(&q), [order[0], order[1], order[2]]);
            let mut rot_k = 0;
            for c in &node.channels {
                values.push(match c {
                    Channel::XPosition => ta[0] + w * (tb[0] - ta[0]),
                    Channel::YPosition => ta[1] + w * (tb[1] - ta[1]),
                    Channel::ZPosition => ta[2] + w * (tb[2] - ta[2]),
                    _ => {
                        rot_k += 1;
                        angles[rot_k - 1]
                    }
                });
            }
        }
    }
    BvhFile {
        values,
        frame_time_s: 1.0 / fps,
        ..bvh.clone()
    }
}
