//! Reading a bag as a replay does: stream, decode, adapt to canonical frames.
//!
//! The bag is 4 minutes of real mocap (7184 frames at 30 Hz, one person), imported the way
//! `a4mer import --to-bag` does it. Real time is 239 s, so the replay target of 100x real
//! time leaves 2.4 s for the whole file, engine included.

use std::hint::black_box;

use a4mer_bag::{BagReader, write_pose_frames};
use a4mer_ros::adapters::{InputAdapter, InputType};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let bvh = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mocap/bvhtools_test.bvh");
    let motion = a4mer_motion::import_bvh(&bvh, &Default::default()).expect("bundled mocap imports");
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("take");
    write_pose_frames(&dir, "/poses", "world", 1, &motion.frames).expect("bag written");

    let mut group = c.benchmark_group("bag");
    group.sample_size(10);
    group.bench_function("read_decode_adapt_7184_frames", |b| {
        b.iter(|| {
            let reader = BagReader::open(&dir).expect("bag opens");
            let mut adapter = InputAdapter::new(InputType::Skeleton3DArray, &[], None).expect("adapter");
            let mut valid = 0usize;
            for m in reader.messages() {
                let m = m.expect("message");
                let out = adapter.adapt_cdr(&m.data).expect("adapts");
                valid += out.people.iter().map(|p| p.frame.valid_count()).sum::<usize>();
            }
            black_box(valid)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
