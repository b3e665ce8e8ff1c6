//! Criterion benches of `Engine::push` on real mocap: every frame, segment-closing frames
//! only, and ordinary frames only. `a4mer bench` reports the same split with p99 and max.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

use a4mer_burn_model::device::inference_device;
use a4mer_burn_model::load_model;
use a4mer_measure::bench::MocapLoop;
use a4mer_motion::{ImportOptions, load_motions};
use a4mer_runtime::stream::{Engine, EngineConfig};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Time `iters` frames of the kind `want_close` picks, streaming (untimed) past the others.
fn timed(engine: &mut Engine, source: &mut MocapLoop, iters: u64, want_close: Option<bool>) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let Some(f) = source.next() else { break };
        let before = engine.atoms_closed();
        let t = Instant::now();
        let r = engine.push_ref(&f).map(|a| a.forecast.len());
        let dt = t.elapsed();
        std::hint::black_box(r).ok();
        let closed = engine.atoms_closed() != before;
        if want_close.is_none_or(|w| w == closed) {
            total += dt;
            done += 1;
        }
    }
    total
}

fn engine(c: &mut Criterion) {
    let (model, _) = load_model(&repo().join("models/a4mer-small.a4m"), &inference_device()).expect("bundled model");
    let stream = Arc::new(a4mer_burn_model::stream_model(&model).expect("stream model"));
    let motions = load_motions(&[repo().join("data/mocap")], &ImportOptions::default()).expect("bundled mocap");
    let takes: Vec<_> = motions.iter().map(|m| m.frames.as_slice()).collect();
    let mut g = c.benchmark_group("engine_push");
    for (name, kind) in [
        ("every_frame", None),
        ("segment_closing", Some(true)),
        ("ordinary", Some(false)),
    ] {
        let mut e = Engine::new(stream.clone(), EngineConfig::default()).expect("engine");
        let mut src = MocapLoop::new(&takes).expect("frames");
        timed(&mut e, &mut src, 100, None);
        g.bench_function(name, |b| b.iter_custom(|iters| timed(&mut e, &mut src, iters, kind)));
    }
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
