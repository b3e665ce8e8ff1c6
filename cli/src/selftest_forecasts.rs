//! `a4mer selftest --forecasts-out` / `--forecasts-against`: the engine's forecasts on the
//! bundled clip, written for, or compared with, another machine's.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use a4mer_runtime::stream::{Engine, EngineConfig, StreamModel};
use a4mer_runtime::{NUM_JOINTS, PoseFrame};

/// Forecast steps recorded per frame (the model's 1 s at 30 Hz).
const STEPS: usize = 30;
const VALUES_PER_FRAME: usize = STEPS * NUM_JOINTS * 3;
const FORMAT: &str = "a4mer-forecasts-1";

/// What a forecasts file says about itself (its first line, JSON).
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct ForecastsHeader {
    pub format: String,
    pub model_sha256: String,
    pub clips: Vec<String>,
    pub frames: usize,
    pub values_per_frame: usize,
    pub machine: String,
}

/// The engine's forecast (metres, world frame) after every frame of every clip, one fresh
/// engine per clip; NaN where the engine had no 30-step forecast yet. Every frame's state
/// feeds the next, so these cover the whole per-frame path, int8 kernels included.
pub fn engine_forecasts(stream: &Arc<StreamModel>, takes: &[&[PoseFrame]]) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(takes.iter().map(|t| t.len()).sum::<usize>() * VALUES_PER_FRAME);
    for take in takes {
        let mut engine = Engine::new(Arc::clone(stream), EngineConfig::default()).context("starting the engine")?;
        for frame in *take {
            match engine.push_ref(frame) {
                Ok(a) if a.forecast.len() >= STEPS => {
                    for step in &a.forecast[..STEPS] {
                        out.extend(step.joints_in_world.iter().flatten());
                    }
                }
                _ => out.extend(std::iter::repeat_n(f32::NAN, VALUES_PER_FRAME)),
            }
        }
    }
    Ok(out)
}

/// Header line, then the values as little-endian f32.
pub fn write_forecasts(path: &Path, header: &ForecastsHeader, values: &[f32]) -> Result<()> {
    let tmp = path.with_extension("partial");
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?);
    serde_json::to_writer(&mut f, header)?;
    f.write_all(b"\n")?;
    for v in values {
        f.write_all(&v.to_le_bytes())?;
    }
    f.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn read_forecasts(path: &Path) -> Result<(ForecastsHeader, Vec<f32>)> {
    let mut r = BufReader::new(std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?);
    let mut line = String::new();
    r.by_ref()
        .take(64 * 1024)
        .read_line(&mut line)
        .with_context(|| format!("{}: reading the header line", path.display()))?;
    let header: ForecastsHeader =
        serde_json::from_str(&line).with_context(|| format!("{}: not an a4mer forecasts file", path.display()))?;
    if header.format != FORMAT || header.values_per_frame != VALUES_PER_FRAME {
        bail!(
            "{}: format {} with {} values per frame; this a4mer reads {FORMAT} with {VALUES_PER_FRAME}",
            path.display(),
            header.format,
            header.values_per_frame
        );
    }
    let want = header
        .frames
        .checked_mul(VALUES_PER_FRAME * 4)
        .with_context(|| format!("{}: frame count {} too large", path.display(), header.frames))?;
    let mut bytes = Vec::new();
    r.take(want as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}: reading the values", path.display()))?;
    if bytes.len() != want {
        bail!(
            "{}: {} bytes of values, the header's {} frames need {want}",
            path.display(),
            bytes.len(),
            header.frames
        );
    }
    let values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((header, values))
}

/// Largest difference between two machines' forecasts, metres, and where; `Err` names the
/// first mismatch of kind (a forecast on one side only, another model or clip).
pub fn compare_forecasts(
    ours: &ForecastsHeader,
    a: &[f32],
    theirs: &ForecastsHeader,
    b: &[f32],
) -> Result<(f64, usize), String> {
    if ours.model_sha256 != theirs.model_sha256 {
        return Err(format!(
            "another model: {} vs {}",
            &theirs.model_sha256[..theirs.model_sha256.len().min(16)],
            &ours.model_sha256[..ours.model_sha256.len().min(16)]
        ));
    }
    if ours.clips != theirs.clips || a.len() != b.len() {
        return Err(format!(
            "other clips: {:?} ({} frames) vs {:?} ({} frames)",
            theirs.clips, theirs.frames, ours.clips, ours.frames
        ));
    }
    let mut worst = (0.0f64, 0usize);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        match (x.is_nan(), y.is_nan()) {
            (true, true) => {}
            (false, false) => {
                let d = (*x as f64 - *y as f64).abs();
                if d > worst.0 || d.is_nan() {
                    worst = (d, i / VALUES_PER_FRAME);
                }
            }
            _ => {
                return Err(format!(
                    "frame {}: a forecast on one machine only",
                    i / VALUES_PER_FRAME
                ));
            }
        }
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(frames: usize) -> ForecastsHeader {
        ForecastsHeader {
            format: FORMAT.into(),
            model_sha256: "ab".repeat(32),
            clips: vec!["clip.bvh".into()],
            frames,
            values_per_frame: VALUES_PER_FRAME,
            machine: "test".into(),
        }
    }

    #[test]
    fn forecasts_round_trip_and_differences_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let mut values: Vec<f32> = (0..2 * VALUES_PER_FRAME).map(|i| i as f32 * 1e-3).collect();
        values[..VALUES_PER_FRAME].fill(f32::NAN);
        write_forecasts(&path, &header(2), &values).unwrap();
        let (h, back) = read_forecasts(&path).unwrap();
        assert_eq!(h, header(2));
        assert_eq!(compare_forecasts(&h, &back, &header(2), &values), Ok((0.0, 0)));

        let mut moved = values.clone();
        moved[VALUES_PER_FRAME + 7] += 2e-5;
        let (d, frame) = compare_forecasts(&h, &back, &header(2), &moved).unwrap();
        assert!((d - 2e-5).abs() < 1e-6 && frame == 1, "{d} at {frame}");

        let mut one_sided = values.clone();
        one_sided[3] = 0.5;
        assert!(
            compare_forecasts(&h, &back, &header(2), &one_sided)
                .unwrap_err()
                .contains("frame 0")
        );
        let other = ForecastsHeader {
            model_sha256: "cd".repeat(32),
            ..header(2)
        };
        assert!(
            compare_forecasts(&h, &back, &other, &values)
                .unwrap_err()
                .contains("another model")
        );
    }

    #[test]
    fn a_truncated_or_foreign_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        write_forecasts(&path, &header(2), &vec![0.0; 2 * VALUES_PER_FRAME]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let e = format!("{:#}", read_forecasts(&path).unwrap_err());
        assert!(e.contains("f.bin") && e.contains("bytes of values"), "{e}");
        std::fs::write(&path, b"not json\n").unwrap();
        let e = format!("{:#}", read_forecasts(&path).unwrap_err());
        assert!(e.contains("not an a4mer forecasts file"), "{e}");
        let huge = serde_json::to_string(&header(usize::MAX)).unwrap() + "\n";
        std::fs::write(&path, huge).unwrap();
        assert!(read_forecasts(&path).is_err());
    }
}
