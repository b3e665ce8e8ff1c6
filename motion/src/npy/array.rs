//! The array itself: a `.npy` file of shape (frames, joints, 3), float32 or float64,
//! either byte order, C or Fortran order, read with npyz after its header is checked.

use std::path::Path;

use super::{MAGIC, MAX_JOINTS, NpyError};

/// The array in frame-major order (frame, joint, xyz), in source units and axes.
pub(super) struct Array {
    pub frames: usize,
    pub joints: usize,
    pub values: Vec<f64>,
}

/// What npyz takes on trust, checked first: it reads a header of whatever length the
/// preamble claims, and multiplies the shape's dimensions unchecked (a panic on overflow
/// in debug builds). The header itself is parsed with the Python-literal parser npyz uses.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(MAGIC) {
        return Err("no .npy magic (\\x93NUMPY)".into());
    }
    let (len_bytes, start): (usize, usize) = match bytes.get(6) {
        Some(1) => (2, 10),
        Some(2 | 3) => (4, 12),
        Some(v) => return Err(format!("format version {v} is not 1, 2 or 3")),
        None => return Err("the file ends inside the magic".into()),
    };
    let len = bytes.get(8..8 + len_bytes).ok_or("the file ends inside the preamble")?;
    let header_len = len.iter().rev().fold(0usize, |acc, b| (acc << 8) | *b as usize);
    let text = start
        .checked_add(header_len)
        .and_then(|end| bytes.get(start..end))
        .ok_or_else(|| format!("a header of {header_len} bytes runs past the end of the file"))?;
    let text = std::str::from_utf8(text).map_err(|_| "the header is not UTF-8")?;
    let header: py_literal::Value = text
        .trim_end()
        .parse()
        .map_err(|e| format!("the header is not a Python literal: {e}"))?;
    let py_literal::Value::Dict(entries) = header else {
        return Err("the header is not a dict".into());
    };
    for (key, value) in &entries {
        match (key, value) {
            (py_literal::Value::String(k), py_literal::Value::Tuple(dims)) if k == "shape" => {
                // Every partial product npyz forms (length, strides) is at most this one.
                let mut product: u64 = 1;
                for d in dims {
                    let py_literal::Value::Integer(d) = d else {
                        return Err(format!("shape dimension {d} is not an integer"));
                    };
                    let d = d
                        .to_string()
                        .parse::<u64>()
                        .map_err(|_| format!("shape dimension {d} is not a size"))?;
                    product = product
                        .checked_mul(d.max(1))
                        .ok_or("the shape's element count overflows 64 bits")?;
                }
            }
            (py_literal::Value::String(k), py_literal::Value::String(_)) if k == "descr" => {}
            (py_literal::Value::String(k), other) if k == "descr" => {
                return Err(format!(
                    "descr {other} is a structured dtype; expected float32 or float64"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

pub(super) fn read_array(bytes: &[u8], path: &Path) -> Result<Array, NpyError> {
    let npy_err = |e: std::io::Error| NpyError::Npy {
        path: path.to_path_buf(),
        cause: e.to_string(),
    };
    check_header(bytes).map_err(|cause| NpyError::Npy {
        path: path.to_path_buf(),
        cause,
    })?;
    let npy = npyz::NpyFile::new(bytes).map_err(npy_err)?;
    let shape = npy.shape().to_vec();
    let [frames, joints, 3] = shape[..] else {
        return Err(NpyError::Shape {
            path: path.to_path_buf(),
            shape,
        });
    };
    if frames < 2 || joints == 0 || joints > MAX_JOINTS {
        return Err(NpyError::Shape {
            path: path.to_path_buf(),
            shape,
        });
    }
    let descr = npy.dtype().descr();
    let item_bytes: u64 = match descr.trim_matches('\'') {
        "<f4" | ">f4" => 4,
        "<f8" | ">f8" => 8,
        _ => {
            return Err(NpyError::DType {
                path: path.to_path_buf(),
                dtype: descr,
            });
        }
    };
    let fortran = npy.order() == npyz::Order::Fortran;
    let header = npy.header().clone();
    let data = npy.into_inner();
    // Checked before decoding, so a header claiming more than the file holds allocates
    // nothing and a truncated file is told apart from a corrupt one.
    let expected = frames
        .checked_mul(joints * 3)
        .and_then(|n| n.checked_mul(item_bytes))
        .unwrap_or(u64::MAX);
    if expected != data.len() as u64 {
        return Err(NpyError::DataLength {
            path: path.to_path_buf(),
            shape,
            expected,
            found: data.len() as u64,
        });
    }
    let file = npyz::NpyFile::with_header(header, data);
    let stored: Vec<f64> = if item_bytes == 4 {
        let v: Vec<f32> = file.into_vec().map_err(npy_err)?;
        v.into_iter().map(f64::from).collect()
    } else {
        file.into_vec().map_err(npy_err)?
    };
    // Both dimensions are bounded by the length check against a file under 1 GiB.
    let (frames, joints) = (frames as usize, joints as usize);
    let values = if fortran {
        // Column-major: frame varies fastest, then joint, then coordinate.
        let mut v = vec![0.0; stored.len()];
        for f in 0..frames {
            for j in 0..joints {
                for c in 0..3 {
                    v[(f * joints + j) * 3 + c] = stored[f + frames * (j + joints * c)];
                }
            }
        }
        v
    } else {
        stored
    };
    Ok(Array { frames, joints, values })
}
