use std::vec::Vec as StdVec;

use super::*;

/// A person about 1 m in front of the robot base, walking towards it at ~1 m/s.
pub(crate) fn person(track_id: u16, x_mm: i16, steps: usize) -> PersonForecast {
    let mut out = PersonForecast {
        track_id,
        unseen_us: 0,
        reach_mm: [0; LINK_JOINTS],
        steps: Vec::new(),
    };
    for k in 0..steps {
        let x = x_mm - 100 * k as i16;
        let joints_in_base_mm = core::array::from_fn(|j| [x + j as i16, -300 + 50 * j as i16, 900 + 40 * j as i16]);
        let step = ForecastStep {
            spread_mm: 20 * k as u16,
            joints_in_base_mm,
        };
        out.steps.push(step).expect("MAX_STEPS");
    }
    out
}

pub(crate) fn frame(session: u32, seq: u32) -> LinkFrame {
    let mut people = Vec::new();
    people.push(person(7, 1000, MAX_STEPS)).expect("MAX_PEOPLE");
    LinkFrame {
        header: Header {
            session,
            seq,
            sender_stamp_us: 5_000_000 + u64::from(seq) * 33_333,
            pose_age_us: 12_000,
        },
        health: ModelHealth::Nominal,
        step_ms: 100,
        omitted: 0,
        people,
    }
}

fn wire(f: &LinkFrame) -> StdVec<u8> {
    let mut out = [0u8; MAX_WIRE_LEN];
    let n = encode_frame(f, &mut out).expect("encode");
    out[..n].to_vec()
}

/// Wire bytes for an arbitrary raw payload (version | body | crc), for corrupt-frame tests.
fn wire_from_raw(raw: &[u8]) -> StdVec<u8> {
    let mut out = std::vec![0u8; cobs::max_encoding_length(raw.len()) + 1];
    let n = cobs::encode(raw, &mut out);
    out[n] = 0;
    out.truncate(n + 1);
    out
}

fn raw_with_crc(version: u8, body: &[u8]) -> StdVec<u8> {
    let mut raw = std::vec![version];
    raw.extend_from_slice(body);
    let crc = CRC32.checksum(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    raw
}

fn cbor(f: &LinkFrame) -> StdVec<u8> {
    let mut buf = [0u8; MAX_CBOR_LEN];
    let n = codec::encode(f, &mut buf).expect("cbor");
    buf[..n].to_vec()
}

fn feed(rx: &mut LinkReceiver, bytes: &[u8]) -> StdVec<Result<LinkFrame, DropReason>> {
    bytes.iter().filter_map(|b| rx.push(*b)).collect()
}

#[test]
fn round_trip_byte_by_byte() {
    let mut rx = LinkReceiver::new();
    let sent = [frame(1, 10), frame(1, 11)];
    let mut bytes = StdVec::new();
    for f in &sent {
        bytes.extend(wire(f));
    }
    let got = feed(&mut rx, &bytes);
    assert_eq!(got, std::vec![Ok(sent[0].clone()), Ok(sent[1].clone())]);
    assert_eq!(rx.counters().accepted, 2);
    assert_eq!(rx.counters().dropped(), 0);
}

/// A held person with filled-in joints and a frame that left people out: the fields the MCU
/// needs to be told the truth arrive as sent.
#[test]
fn held_person_reach_and_omitted_round_trip() {
    let mut f = frame(1, 1);
    f.omitted = 3;
    let mut held = person(9, 1600, 2);
    held.unseen_us = 750_000;
    held.reach_mm[6] = 620; // left hand filled in from the shoulder
    held.reach_mm[7] = 310; // right hand filled in from the elbow
    f.people.push(held).expect("MAX_PEOPLE");
    let mut rx = LinkReceiver::new();
    let got = feed(&mut rx, &wire(&f));
    assert_eq!(got, std::vec![Ok(f.clone())]);
    let Some(Ok(got)) = got.into_iter().next() else {
        unreachable!("checked above")
    };
    assert_eq!(got.omitted, 3);
    assert_eq!((got.people[1].unseen_us, got.people[1].reach_mm[6]), (750_000, 620));
}

#[test]
fn wire_has_no_zero_before_the_delimiter_and_crc_is_standard_crc32() {
    let w = wire(&frame(1, 1));
    assert_eq!(w.last(), Some(&0));
    assert!(!w[..w.len() - 1].contains(&0));
    // CRC-32/ISO-HDLC check value from the CRC catalogue.
    assert_eq!(CRC32.checksum(b"123456789"), 0xCBF4_3926);
}

/// Every integer at its widest CBOR encoding: the frame must be exactly `MAX_CBOR_LEN`, so the
/// constant (and the buffers sized from it) are neither too small nor padded.
#[test]
fn worst_case_frame_is_exactly_max_len() {
    let mut f = frame(u32::MAX, u32::MAX);
    f.header.sender_stamp_us = u64::MAX;
    f.header.pose_age_us = u32::MAX;
    f.step_ms = u16::MAX;
    f.omitted = u8::MAX;
    f.people.clear();
    for id in 0..MAX_PEOPLE {
        let mut p = person(u16::MAX - id as u16, 0, MAX_STEPS);
        p.unseen_us = u32::MAX;
        p.reach_mm = [u16::MAX; LINK_JOINTS];
        for s in p.steps.iter_mut() {
            s.spread_mm = u16::MAX;
            s.joints_in_base_mm = [[i16::MIN; 3]; LINK_JOINTS];
        }
        f.people.push(p).expect("MAX_PEOPLE");
    }
    assert_eq!(cbor(&f).len(), MAX_CBOR_LEN);
    let w = wire(&f);
    assert!(w.len() <= MAX_WIRE_LEN, "{} > {MAX_WIRE_LEN}", w.len());
    let mut rx = LinkReceiver::new();
    assert_eq!(feed(&mut rx, &w), std::vec![Ok(f)]);
}

#[test]
fn encode_refuses_small_buffer_and_invalid_frames() {
    let f = frame(1, 1);
    let mut small = [0u8; 64];
    assert_eq!(
        encode_frame(&f, &mut small),
        Err(EncodeError::OutputTooSmall { capacity: 64 })
    );
    assert_eq!(
        encode_frame(&f, &mut []),
        Err(EncodeError::OutputTooSmall { capacity: 0 })
    );
    let mut bad = f.clone();
    bad.step_ms = 0;
    let mut out = [0u8; MAX_WIRE_LEN];
    assert_eq!(
        encode_frame(&bad, &mut out),
        Err(EncodeError::Invalid(InvalidFrame::ZeroStepMs {
            person: 0,
            steps: MAX_STEPS
        }))
    );
}

#[test]
fn each_drop_reason_is_counted_and_the_next_good_frame_still_arrives() {
    let good = frame(1, 1);
    let good_cbor = cbor(&good);

    let mut bad_crc = raw_with_crc(PROTOCOL_VERSION, &good_cbor);
    bad_crc[3] ^= 0x01;
    let mut no_steps = good.clone();
    no_steps.people[0].steps.clear();
    let mut truncated_cbor = good_cbor.clone();
    truncated_cbor.truncate(good_cbor.len() / 2);

    let cases: [(StdVec<u8>, DropReason); 6] = [
        (wire_from_raw(&bad_crc), DropReason::Crc),
        // COBS code byte 0x05 promises 4 data bytes, only 1 follows.
        (std::vec![0x05, 0x11, 0x00], DropReason::Cobs),
        (wire_from_raw(&[1, 2, 3]), DropReason::Truncated),
        (
            wire_from_raw(&raw_with_crc(PROTOCOL_VERSION + 1, &good_cbor)),
            DropReason::Version {
                got: PROTOCOL_VERSION + 1,
            },
        ),
        (
            wire_from_raw(&raw_with_crc(PROTOCOL_VERSION, &truncated_cbor)),
            DropReason::Cbor(CodecError::Malformed),
        ),
        (
            wire_from_raw(&raw_with_crc(PROTOCOL_VERSION, &cbor(&no_steps))),
            DropReason::Invalid(InvalidFrame::NoSteps { person: 0 }),
        ),
    ];
    let mut rx = LinkReceiver::new();
    for (bytes, reason) in &cases {
        assert_eq!(feed(&mut rx, bytes), std::vec![Err(*reason)], "{reason}");
    }
    assert_eq!(feed(&mut rx, &wire(&good)), std::vec![Ok(good)]);
    let c = rx.counters();
    assert_eq!(
        (c.crc, c.cobs, c.truncated, c.version, c.cbor, c.invalid),
        (1, 1, 1, 1, 1, 1)
    );
    assert_eq!((c.dropped(), c.accepted), (6, 1));
}

/// The version-1 schema: the same frame without per-person age and reach or `omitted`.
mod v1 {
    use super::{ForecastStep, Header, LINK_JOINTS, MAX_PEOPLE, MAX_STEPS, ModelHealth, Vec};
    use serde::Serialize;

    #[derive(Serialize)]
    pub struct PersonForecast {
        pub track_id: u16,
        pub steps: Vec<ForecastStep, MAX_STEPS>,
    }

    #[derive(Serialize)]
    pub struct LinkFrame {
        pub header: Header,
        pub health: ModelHealth,
        pub step_ms: u16,
        pub people: Vec<PersonForecast, MAX_PEOPLE>,
    }

    pub fn from(f: &super::LinkFrame) -> LinkFrame {
        let mut people = Vec::new();
        for p in &f.people {
            assert_eq!((p.unseen_us, p.reach_mm), (0, [0; LINK_JOINTS]));
            let _ = people.push(PersonForecast {
                track_id: p.track_id,
                steps: p.steps.clone(),
            });
        }
        LinkFrame {
            header: f.header,
            health: f.health,
            step_ms: f.step_ms,
            people,
        }
    }

    pub fn cbor(f: &LinkFrame) -> std::vec::Vec<u8> {
        let mut buf = [0u8; super::MAX_CBOR_LEN];
        let mut ser = serde_cbor::ser::Serializer::new(serde_cbor::ser::SliceWrite::new(&mut buf[..])).packed_format();
        f.serialize(&mut ser).expect("fits");
        let n = ser.into_inner().bytes_written();
        buf[..n].to_vec()
    }
}

/// A well-formed version-1 frame (its own schema, correct CRC) is refused by its version,
/// counted, and the message tells the operator what is wrong; the same body claiming version
/// 2 does not decode either, since the fields the MCU relies on are missing.
#[test]
fn version_1_frames_are_refused_by_name() {
    let old = v1::cbor(&v1::from(&frame(1, 1)));
    let mut rx = LinkReceiver::new();
    let got = feed(&mut rx, &wire_from_raw(&raw_with_crc(1, &old)));
    assert_eq!(got, std::vec![Err(DropReason::Version { got: 1 })]);
    assert_eq!((rx.counters().version, rx.counters().dropped()), (1, 1));
    let msg = std::format!("{}", DropReason::Version { got: 1 });
    assert_eq!(
        msg,
        "protocol version 1, expected 2 (version 1 lacks per-person age and reach; update the sender)"
    );

    let mut relabelled = wire_from_raw(&raw_with_crc(PROTOCOL_VERSION, &old));
    relabelled.pop();
    assert_eq!(
        decode_frame(&mut relabelled),
        Err(DropReason::Cbor(CodecError::Malformed))
    );
}

#[test]
fn trailing_bytes_after_the_cbor_body_are_malformed() {
    let mut body = cbor(&frame(1, 1));
    body.push(0x01);
    let mut w = wire_from_raw(&raw_with_crc(PROTOCOL_VERSION, &body));
    w.pop();
    assert_eq!(decode_frame(&mut w), Err(DropReason::Cbor(CodecError::Malformed)));
}

#[test]
fn unknown_field_and_too_many_people_are_malformed() {
    // {0: header..., 9: 0}: field 9 does not exist.
    let mut body = cbor(&frame(1, 1));
    assert_eq!(body[0], 0xa5);
    body[0] = 0xa6;
    body.extend_from_slice(&[0x09, 0x00]);
    let mut w = wire_from_raw(&raw_with_crc(PROTOCOL_VERSION, &body));
    w.pop();
    assert_eq!(decode_frame(&mut w), Err(DropReason::Cbor(CodecError::Malformed)));

    // people array claiming MAX_PEOPLE + 1 entries.
    let f = frame(1, 1);
    let body = cbor(&f);
    let people_key = body
        .windows(2)
        .position(|w| w == [0x04, 0x81])
        .expect("people array header");
    let mut body = body.clone();
    body[people_key + 1] = 0x80 + MAX_PEOPLE as u8 + 1;
    let person_bytes = {
        let mut one = f.clone();
        one.people.truncate(1);
        let b = cbor(&one);
        b[people_key + 2..].to_vec()
    };
    for _ in 0..MAX_PEOPLE {
        body.extend_from_slice(&person_bytes);
    }
    let mut w = wire_from_raw(&raw_with_crc(PROTOCOL_VERSION, &body));
    w.pop();
    assert_eq!(decode_frame(&mut w), Err(DropReason::Cbor(CodecError::Malformed)));
}

#[test]
fn sequence_repeated_stale_gaps_wrap_and_new_session() {
    let mut rx = LinkReceiver::new();
    let mut run = |session, seq| feed(&mut rx, &wire(&frame(session, seq))).pop().expect("one frame");
    assert!(run(1, 100).is_ok());
    assert_eq!(run(1, 100), Err(DropReason::RepeatedSeq { seq: 100 }));
    assert_eq!(run(1, 99), Err(DropReason::StaleSeq { seq: 99, last: 100 }));
    assert!(run(1, 103).is_ok()); // 101 and 102 lost
    assert!(run(1, u32::MAX).is_err()); // "before" 103 in serial arithmetic
    assert!(run(2, u32::MAX).is_ok()); // new session restarts numbering
    assert!(run(2, 0).is_ok()); // wraps
    assert_eq!(run(2, u32::MAX), Err(DropReason::StaleSeq { seq: u32::MAX, last: 0 }));
    let c = *rx.counters();
    assert_eq!(
        (c.accepted, c.repeated_seq, c.stale_seq, c.lost, c.session_changes),
        (4, 1, 3, 2, 1)
    );
}

#[test]
fn oversize_garbage_is_dropped_once_then_receiver_resyncs() {
    let mut rx = LinkReceiver::new();
    let garbage = std::vec![0x5a; MAX_WIRE_LEN * 2];
    let got = feed(&mut rx, &garbage);
    assert_eq!(got, std::vec![Err(DropReason::Oversize)]);
    // The delimiter ending the garbage is swallowed, not decoded as a frame.
    assert_eq!(rx.push(0), None);
    // Idle delimiters are not frames.
    assert_eq!(feed(&mut rx, &[0, 0, 0]), std::vec![]);
    let good = frame(3, 1);
    assert_eq!(feed(&mut rx, &wire(&good)), std::vec![Ok(good)]);
    assert_eq!(rx.counters().oversize, 1);
    assert_eq!(rx.counters().dropped(), 1);
}

#[test]
fn cable_pulled_mid_frame_costs_two_frames_then_resyncs() {
    let mut rx = LinkReceiver::new();
    let first = wire(&frame(1, 1));
    let second = frame(1, 2);
    let mut bytes = first[..first.len() / 2].to_vec(); // cut, no delimiter
    bytes.extend(wire(&second));
    let got = feed(&mut rx, &bytes);
    assert_eq!(got.len(), 1);
    assert!(got[0].is_err(), "half a frame glued to a whole one must not decode");
    // The following frame is received again.
    let third = frame(1, 3);
    assert_eq!(feed(&mut rx, &wire(&third)), std::vec![Ok(third)]);
}

#[test]
fn from_metres_rounds_and_rejects_bad_numbers() {
    let mut joints = [[0.0f32; 3]; LINK_JOINTS];
    joints[1] = [1.2344, -0.0006, 32.767];
    let step = ForecastStep::from_metres(&joints, 0.0101).expect("valid");
    assert_eq!(step.joints_in_base_mm[1], [1234, -1, 32767]);
    assert_eq!(step.spread_mm, 11); // spread rounds up: never shrinks uncertainty
    joints[3][2] = f32::NAN;
    assert_eq!(
        ForecastStep::from_metres(&joints, 0.0),
        Err(PositionError::NotFinite { joint: 3, axis: 2 })
    );
    joints[3][2] = -32.8;
    assert_eq!(
        ForecastStep::from_metres(&joints, 0.0),
        Err(PositionError::OutOfRange { joint: 3, axis: 2 })
    );
    joints[3][2] = 0.0;
    assert_eq!(ForecastStep::from_metres(&joints, -0.1), Err(PositionError::BadSpread));
    assert_eq!(
        ForecastStep::from_metres(&joints, f32::INFINITY),
        Err(PositionError::BadSpread)
    );
}

#[test]
fn transmit_time_matches_8n1_arithmetic() {
    // 92160 bytes/s at 921600 baud, 8N1.
    assert_eq!(transmit_time_us(92_160, 921_600), 1_000_000);
    assert_eq!(transmit_time_us(1, 921_600), 11); // 10.85 us, rounded up
    assert_eq!(transmit_time_us(1, 0), u32::MAX);
}
