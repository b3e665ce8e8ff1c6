//! Prints the link's frame sizes and their time on the wire; with a directory argument, also
//! writes the fuzz seed corpus (real encoded frames) there.
//!
//! `cargo run -p a4mer-firmware --example link_frames [-- fuzz/corpus]`

use std::path::Path;
use std::{env, fs};

use a4mer_firmware::link::{
    ForecastStep, Header, LINK_JOINTS, LinkFrame, MAX_CBOR_LEN, MAX_PEOPLE, MAX_STEPS, MAX_WIRE_LEN, ModelHealth,
    PersonForecast, encode_frame, transmit_time_us,
};

const BAUDS: [u32; 3] = [115_200, 460_800, 921_600];

/// A person standing about 1.2 m in front of the robot, joints spread over the body, walking
/// towards it: realistic magnitudes (most coordinates need 3 CBOR bytes).
fn person(track_id: u16, steps: usize) -> PersonForecast {
    let body: [[i16; 3]; LINK_JOINTS] = [
        [1200, 0, 950],     // pelvis
        [1210, 10, 1650],   // head
        [1200, 190, 1450],  // left_shoulder
        [1200, -190, 1450], // right_shoulder
        [1150, 250, 1180],  // left_elbow
        [1150, -250, 1180], // right_elbow
        [1000, 220, 900],   // left_hand
        [1000, -220, 900],  // right_hand
        [1230, 100, 520],   // left_knee
        [1230, -100, 520],  // right_knee
        [1260, 110, 60],    // left_foot
        [1260, -110, 60],   // right_foot
    ];
    let mut p = PersonForecast {
        track_id,
        unseen_us: 0,
        reach_mm: [0; LINK_JOINTS],
        steps: heapless::Vec::new(),
    };
    for k in 0..steps {
        let joints_in_base_mm = body.map(|[x, y, z]| [x - 120 * k as i16, y + 7 * k as i16, z]);
        let step = ForecastStep {
            spread_mm: 25 * k as u16,
            joints_in_base_mm,
        };
        p.steps.push(step).expect("steps <= MAX_STEPS");
    }
    p
}

fn frame(seq: u32, people: usize, health: ModelHealth) -> LinkFrame {
    let mut f = LinkFrame {
        header: Header {
            session: 1_767_225_600,
            seq,
            sender_stamp_us: 86_400_000_000 + u64::from(seq) * 33_333,
            pose_age_us: 18_500,
        },
        health,
        step_ms: 100,
        omitted: 0,
        people: heapless::Vec::new(),
    };
    for id in 0..people {
        f.people
            .push(person(id as u16 + 1, MAX_STEPS))
            .expect("people <= MAX_PEOPLE");
    }
    f
}

/// `frame` with its second person held by the sender for 0.4 s after they dropped out of
/// view, their hands filled in from the elbows (forearm and hand as reach), and a third
/// person left out.
fn crowded_frame(seq: u32) -> LinkFrame {
    let mut f = frame(seq, MAX_PEOPLE, ModelHealth::Nominal);
    f.omitted = 1;
    let held = &mut f.people[MAX_PEOPLE - 1];
    held.unseen_us = 400_000;
    held.reach_mm[6] = 340;
    held.reach_mm[7] = 340;
    f
}

fn encode(f: &LinkFrame) -> Vec<u8> {
    let mut out = [0u8; MAX_WIRE_LEN];
    let n = encode_frame(f, &mut out).expect("example frames are valid");
    out[..n].to_vec()
}

/// Size, time on the wire and the most frames per second the line carries, per baud rate.
fn row(name: &str, bytes: usize) {
    let times: Vec<String> = BAUDS
        .iter()
        .map(|b| {
            let us = f64::from(transmit_time_us(bytes, *b));
            format!("{:>6.1} ms {:>6.1}/s", us / 1000.0, 1e6 / us)
        })
        .collect();
    println!("{name:<48} {bytes:>5} B  {}", times.join("  "));
}

/// What the link's reductions are measured against: 24 joints x 8 steps as CBOR f32, as a
/// frame would be without them.
fn full_f32_reference_bytes() -> usize {
    let steps = [[[1.234f32; 3]; 24]; 8];
    let mut buf = vec![0u8; 8192];
    let mut ser = serde_cbor::ser::Serializer::new(serde_cbor::ser::SliceWrite::new(&mut buf)).packed_format();
    serde::Serialize::serialize(&steps, &mut ser).expect("fits");
    // + header and framing, as in our frame (~40 B)
    ser.into_inner().bytes_written() + 40
}

fn main() -> anyhow::Result<()> {
    println!(
        "{:<48} {:>7}  {:>18}  {:>18}  {:>18}",
        "frame", "size", "115200", "460800", "921600"
    );
    row("no person tracked", encode(&frame(1, 0, ModelHealth::Nominal)).len());
    row(
        &format!("1 person, {LINK_JOINTS} joints x {MAX_STEPS} steps"),
        encode(&frame(1, 1, ModelHealth::Nominal)).len(),
    );
    row(
        &format!("{MAX_PEOPLE} people, {LINK_JOINTS} joints x {MAX_STEPS} steps"),
        encode(&frame(1, MAX_PEOPLE, ModelHealth::Nominal)).len(),
    );
    row(
        &format!("{MAX_PEOPLE} people, one held and filled in, 1 omitted"),
        encode(&crowded_frame(1)).len(),
    );
    row("worst case (MAX_WIRE_LEN)", MAX_WIRE_LEN);
    row(
        "reference: 24 joints x 8 steps f32 (1 person)",
        full_f32_reference_bytes(),
    );
    println!("MAX_CBOR_LEN = {MAX_CBOR_LEN}, MAX_WIRE_LEN = {MAX_WIRE_LEN}");

    if let Some(dir) = env::args().nth(1) {
        write_seeds(Path::new(&dir))?;
    }
    Ok(())
}

fn write_seeds(dir: &Path) -> anyhow::Result<()> {
    let stream = dir.join("link_stream");
    let body = dir.join("link_body");
    fs::create_dir_all(&stream)?;
    fs::create_dir_all(&body)?;
    let mut frames = vec![
        ("none", frame(1, 0, ModelHealth::Nominal)),
        ("one", frame(2, 1, ModelHealth::Nominal)),
        ("two", frame(3, MAX_PEOPLE, ModelHealth::Nominal)),
        ("degraded", frame(4, 1, ModelHealth::Degraded)),
        ("failed", frame(5, 1, ModelHealth::Failed)),
    ];
    let mut short = frame(6, 1, ModelHealth::Nominal);
    short.people[0].steps.truncate(1);
    frames.push(("observed_only", short));
    frames.push(("held_filled_omitted", crowded_frame(7)));

    let mut all = Vec::new();
    for (name, f) in &frames {
        let wire = encode(f);
        fs::write(stream.join(format!("seed-{name}.bin")), &wire)?;
        // link_body seeds: the CBOR body alone (COBS removed, version byte and CRC stripped).
        let mut raw = wire[..wire.len() - 1].to_vec();
        let n = cobs::decode_in_place(&mut raw).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        fs::write(body.join(format!("seed-{name}.cbor")), &raw[1..n - 4])?;
        all.extend(wire);
    }
    // A stream: several frames back to back, a repeat and a cut frame in the middle.
    let repeat = encode(&frames[1].1);
    all.extend(&repeat);
    all.extend(&repeat[..repeat.len() / 2]);
    all.extend(encode(&frame(9, 1, ModelHealth::Nominal)));
    fs::write(stream.join("seed-stream.bin"), &all)?;
    println!("wrote seeds to {}", dir.display());
    Ok(())
}
