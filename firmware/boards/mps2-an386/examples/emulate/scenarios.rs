//! The scenarios, in order, on one running board. Each returns its JSON object with `pass` and
//! its figures; the board's counters are cumulative, so each scenario reads their change.

use std::thread;
use std::time::Duration;

use a4mer_firmware::link::decision::{Decision, Trigger};
use a4mer_firmware::link::{
    ForecastStep, Header, LINK_JOINTS, LinkCounters, LinkFrame, MAX_STEPS, MAX_WIRE_LEN, ModelHealth, PersonForecast,
    encode_frame,
};
use a4mer_firmware::monitor::{Mode, Monitor, Reason};
use a4mer_mcu_mps2_an386::{HW_WATCHDOG_MS, ROBOT, STALL_AT_MS, monitor_config};
use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::line::Line;

/// 20 frames/s. The Jetson sends 30, but QEMU's CMSDK UART moves one byte per round trip
/// through its main loop (30-70 us of host time per byte here, measured), 10-30 kB/s:
/// 20 frames/s of one person with 1-4 steps keep the emulated line under half of that, and
/// at 50 ms apart the data never goes stale between frames (38 + 50 ms < 100 ms).
const FRAME_PERIOD: Duration = Duration::from_millis(50);
/// Capture to send on the Jetson, as the frames declare it.
const POSE_AGE_US: u32 = 20_000;

pub struct Sender {
    session: u32,
    seq: u32,
    /// Every frame sent, by sequence number, to recompute the board's decisions.
    sent: Vec<LinkFrame>,
}

impl Sender {
    pub fn new() -> Self {
        Self {
            session: 1_767_225_600,
            seq: 0,
            sent: Vec::new(),
        }
    }

    /// The next frame: one person `x_mm` in front of the robot base walking towards it, with
    /// `steps` poses (the observed one and its forecast), or nobody when `x_mm` is `None`.
    fn next(&mut self, health: ModelHealth, x_mm: Option<i16>, steps: usize) -> Result<(LinkFrame, Vec<u8>)> {
        self.seq += 1;
        let mut frame = LinkFrame {
            header: Header {
                session: self.session,
                seq: self.seq,
                sender_stamp_us: u64::from(self.seq) * 33_333,
                pose_age_us: POSE_AGE_US,
            },
            health,
            step_ms: 100,
            omitted: 0,
            people: Default::default(),
        };
        if let Some(x) = x_mm {
            let mut person = PersonForecast {
                track_id: 1,
                unseen_us: 0,
                reach_mm: [0; LINK_JOINTS],
                steps: Default::default(),
            };
            for k in 0..steps.clamp(1, MAX_STEPS) as i16 {
                let joints_in_base_mm =
                    core::array::from_fn(|j| [x - 120 * k + 10 * j as i16, 30 * j as i16 - 180, 150 * j as i16]);
                let step = ForecastStep {
                    spread_mm: 25 * k as u16,
                    joints_in_base_mm,
                };
                person.steps.push(step).ok().context("MAX_STEPS")?;
            }
            frame.people.push(person).ok().context("MAX_PEOPLE")?;
        }
        let mut out = vec![0u8; MAX_WIRE_LEN];
        let n = encode_frame(&frame, &mut out)?;
        out.truncate(n);
        self.sent.push(frame.clone());
        Ok((frame, out))
    }

    /// Waits (up to 3 s) until the board has decided on the last frame sent: the emulated
    /// line delivers a frame more slowly than the host hands it over.
    fn settle(&self, line: &Line, mark: usize) {
        let (session, seq) = (self.session, self.seq);
        let _ = line.wait_for(mark, Duration::from_secs(3), |d| {
            d.trigger == Trigger::Frame && d.frame.is_some_and(|f| f.session == session && f.seq == seq)
        });
    }

    fn sent(&self, session: u32, seq: u32) -> Option<&LinkFrame> {
        (session == self.session)
            .then(|| self.sent.iter().find(|f| f.header.seq == seq))
            .flatten()
    }

    /// Sends `n` frames at the frame period; the person walks from 2.6 m to 0.3 m in front of
    /// the base (the speed limit falls from 1 to 0 on the way), with 1 to 4 steps of forecast;
    /// every 7th frame sees nobody.
    fn stream(&mut self, line: &mut Line, n: u32, health: ModelHealth) -> Result<()> {
        for i in 0..n {
            let x = (i % 7 != 6).then(|| (2600 - i as i32 * 2300 / n.max(1) as i32) as i16);
            let (_, bytes) = self.next(health, x, 1 + i as usize % 4)?;
            line.send(&bytes)?;
            thread::sleep(FRAME_PERIOD);
        }
        Ok(())
    }
}

/// What the host's monitor and SSM decide for `frame` at the age the board reports.
fn host_decision(frame: &LinkFrame, d: &Decision) -> Option<(Mode, f32)> {
    let cfg = monitor_config();
    let mut m = Monitor::new(cfg).ok()?;
    let fixed = u64::from(frame.header.pose_age_us) + cfg.link_latency_us;
    let since_rx = u64::from(d.pose_age_us?).checked_sub(fixed)?;
    m.accept_frame(frame.clone(), 0);
    let (command, _) = m.command(&ROBOT, since_rx);
    Some((m.mode(), command.scale()))
}

/// Frame decisions since `mark` compared with the host's: (frames decided, bit-equal scales,
/// largest difference, modes seen, first mismatch).
fn compare(line: &Line, sender: &Sender, mark: usize, want: Mode) -> (usize, usize, f32, bool, Option<String>) {
    let (mut n, mut equal, mut worst, mut modes_ok, mut first_bad) = (0, 0, 0f32, true, None);
    for d in line.since(mark).iter().filter(|d| d.trigger == Trigger::Frame) {
        let Some(frame) = d.frame.and_then(|id| sender.sent(id.session, id.seq)) else {
            continue;
        };
        n += 1;
        let Some((mode, scale)) = host_decision(frame, d) else {
            first_bad.get_or_insert(format!("frame {}: no host decision", frame.header.seq));
            continue;
        };
        let diff = (scale - d.scale).abs();
        worst = worst.max(diff);
        if scale.to_bits() == d.scale.to_bits() {
            equal += 1;
        } else {
            first_bad.get_or_insert(format!("frame {}: board {} host {}", frame.header.seq, d.scale, scale));
        }
        if d.mode != want || mode != want {
            modes_ok = false;
            first_bad.get_or_insert(format!(
                "frame {}: board {:?} host {:?}",
                frame.header.seq, d.mode, mode
            ));
        }
    }
    (n, equal, worst, modes_ok, first_bad)
}

fn counters(line: &Line) -> LinkCounters {
    line.since(0).last().map(|d| d.link).unwrap_or_default()
}

/// (a) Normal frames: every one decided Run, with the scale the host's SSM computes.
pub fn normal(line: &mut Line, sender: &mut Sender) -> Result<Value> {
    let n = 60;
    let mark = line.mark();
    sender.stream(line, n, ModelHealth::Nominal)?;
    sender.settle(line, mark);
    let (decided, equal, worst, modes_ok, first_bad) = compare(line, sender, mark, Mode::Run);
    let scales: Vec<f32> = line
        .since(mark)
        .iter()
        .filter(|d| d.trigger == Trigger::Frame)
        .map(|d| d.scale)
        .collect();
    let pass = decided == n as usize && equal == decided && modes_ok;
    Ok(json!({
        "name": "normal_frames_run",
        "pass": pass,
        "frames_sent": n,
        "frames_decided": decided,
        "scales_bit_equal_to_host_ssm": equal,
        "max_abs_scale_diff": worst,
        "scale_min": scales.iter().copied().fold(f32::INFINITY, f32::min),
        "scale_max": scales.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        "first_mismatch": first_bad,
    }))
}

/// (b) The sender stops: Fallback when the data goes stale, ProtectiveStop at the deadline,
/// measured on the board's clock from the last frame's reception.
pub fn sender_stops(line: &mut Line, sender: &mut Sender) -> Result<Value> {
    let cfg = monitor_config();
    let period_us = FRAME_PERIOD.as_micros() as u64;
    let bound_us = cfg.deadline_us + period_us;
    let last_seq = sender.seq;
    let last_rx = line
        .wait_for(0, Duration::from_secs(2), |d| {
            d.trigger == Trigger::Frame && d.frame.is_some_and(|f| f.seq == last_seq)
        })
        .context("the board never decided on the last frame sent")?;
    let after_last = |d: &Decision| d.seq.wrapping_sub(last_rx.seq) as i32 > 0;
    let stop = line.wait_for(0, Duration::from_secs(2), |d| {
        after_last(d) && d.mode == Mode::ProtectiveStop
    });
    let stale = line
        .since(0)
        .into_iter()
        .find(|d| after_last(d) && d.mode == Mode::Fallback && d.reason == Reason::Stale);
    let fixed = u64::from(POSE_AGE_US) + cfg.link_latency_us;
    let expected_us = cfg.deadline_us - fixed + 1;
    let latency = stop.map(|d| d.at_us.saturating_sub(last_rx.at_us));
    Ok(json!({
        "name": "sender_stops_protective_stop",
        "pass": latency.is_some_and(|l| l <= bound_us) && stale.is_some(),
        "protective_stop_after_last_frame_us": latency,
        "fallback_stale_after_last_frame_us": stale.map(|d| d.at_us.saturating_sub(last_rx.at_us)),
        "expected_us": expected_us,
        "bound_us": bound_us,
        "bound": "deadline_us + one frame period, from the last frame's reception",
        "deadline_us": cfg.deadline_us,
        "stale_after_us": cfg.stale_after_us,
        "frame_period_us": period_us,
        "pose_age_plus_link_latency_us": fixed,
        "clock": "the board's SysTick (1 ms ticks) under -icount: emulated time",
        "tick_us": 1000,
    }))
}

/// Deterministic bytes without a delimiter.
fn noise(n: usize, mut state: u32) -> Vec<u8> {
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as u8).max(1)
        })
        .collect()
}

/// (c) Garbage, truncated, corrupted, oversize and replayed frames, sent while the board is
/// stopped: each is counted as a drop and none lifts the stop.
pub fn garbage(line: &mut Line, sender: &mut Sender) -> Result<Value> {
    let before = counters(line);
    let mark = line.mark();
    let valid = sender.next(ModelHealth::Nominal, Some(1500), MAX_STEPS)?.1;
    sender.seq -= 1; // that frame is only a template: never sent whole
    sender.sent.pop();
    let mut flipped = valid.clone();
    flipped[valid.len() / 2] ^= 0x10;
    if flipped[valid.len() / 2] == 0 {
        flipped[valid.len() / 2] = 0x55;
    }
    let replay = {
        let last = sender.sent.last().context("no frame sent yet")?;
        let mut out = vec![0u8; MAX_WIRE_LEN];
        let n = encode_frame(last, &mut out)?;
        out.truncate(n);
        out
    };
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("noise", noise(300, 0x1234_5678)),
        ("truncated_half_frame", valid[..valid.len() / 2].to_vec()),
        ("corrupted_byte", flipped[..flipped.len() - 1].to_vec()),
        ("oversize_noise", noise(2 * MAX_WIRE_LEN, 0x9E37_79B9)),
        ("empty_body", vec![0x01]),
        ("replayed_last_frame", replay[..replay.len() - 1].to_vec()),
    ];
    for (_, bytes) in &mut cases {
        bytes.push(0);
        line.send(bytes)?;
        thread::sleep(FRAME_PERIOD);
    }
    // The oversize run alone is 3.4 kB: give the emulated UART time to deliver all of it.
    let want = before.dropped() + cases.len() as u32;
    let _ = line.wait_for(mark, Duration::from_secs(5), |d| d.link.dropped() >= want);
    thread::sleep(Duration::from_millis(100));
    let decisions = line.since(mark);
    let after = counters(line);
    let dropped = after.dropped() - before.dropped();
    let runs = decisions.iter().filter(|d| d.mode == Mode::Run).count();
    let accepted = after.accepted - before.accepted;
    Ok(json!({
        "name": "garbage_counted_never_run",
        "pass": dropped == cases.len() as u32 && runs == 0 && accepted == 0,
        "cases": cases.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "dropped": dropped,
        "by_reason": {
            "oversize": after.oversize - before.oversize,
            "cobs": after.cobs - before.cobs,
            "truncated": after.truncated - before.truncated,
            "crc": after.crc - before.crc,
            "cbor": after.cbor - before.cbor,
            "repeated_seq": after.repeated_seq - before.repeated_seq,
        },
        "accepted": accepted,
        "run_decisions": runs,
        "decisions": decisions.len(),
    }))
}

/// (d) Frames from a degraded model: Fallback with the conservative SSM, as on the host.
pub fn degraded(line: &mut Line, sender: &mut Sender) -> Result<Value> {
    let n = 20;
    let mark = line.mark();
    sender.stream(line, n, ModelHealth::Degraded)?;
    sender.settle(line, mark);
    let (decided, equal, worst, modes_ok, first_bad) = compare(line, sender, mark, Mode::Fallback);
    let reasons_ok = line
        .since(mark)
        .iter()
        .filter(|d| d.trigger == Trigger::Frame)
        .all(|d| d.reason == Reason::Health(ModelHealth::Degraded));
    Ok(json!({
        "name": "degraded_frames_fallback",
        "pass": decided == n as usize && equal == decided && modes_ok && reasons_ok,
        "frames_sent": n,
        "frames_decided": decided,
        "scales_bit_equal_to_host_ssm": equal,
        "max_abs_scale_diff": worst,
        "reason_health_degraded": reasons_ok,
        "first_mismatch": first_bad,
    }))
}

/// (e) The line is cut for 500 ms (the sender's frames meanwhile are lost), then restored:
/// the board stops, reports it once the line is back, counts the lost frames, and runs again
/// on the first frame.
pub fn cut_and_restore(line: &mut Line, sender: &mut Sender) -> Result<Value> {
    let mark_before = line.mark();
    sender.stream(line, 10, ModelHealth::Nominal)?;
    // Bytes still in QEMU's socket when the line is cut are lost with it: cut after the board
    // has everything, so that the count below is exactly the frames sent during the cut.
    sender.settle(line, mark_before);
    let before = counters(line);
    let last_seq_before = line.since(0).last().map(|d| d.seq).unwrap_or(0);
    line.cut();
    let lost_frames = 15;
    for _ in 0..lost_frames {
        sender.next(ModelHealth::Nominal, Some(2000), 1)?;
        thread::sleep(FRAME_PERIOD);
    }
    line.connect()?;
    let mark = line.mark();
    thread::sleep(Duration::from_millis(250));
    let stopped = line
        .since(mark)
        .into_iter()
        .find(|d| d.mode == Mode::ProtectiveStop && d.reason == Reason::Deadline);
    let mark_frames = line.mark();
    sender.stream(line, 10, ModelHealth::Nominal)?;
    sender.settle(line, mark_frames);
    let after_decisions = line.since(mark_frames);
    let first_frame = after_decisions.iter().find(|d| d.trigger == Trigger::Frame);
    let first_after = line.since(mark).first().map(|d| d.seq);
    let after = counters(line);
    let lost = after.lost - before.lost;
    let recovered = first_frame.is_some_and(|d| d.mode == Mode::Run);
    let all_run = after_decisions
        .iter()
        .filter(|d| d.trigger == Trigger::Frame)
        .all(|d| d.mode == Mode::Run);
    Ok(json!({
        "name": "line_cut_and_restored",
        "pass": stopped.is_some() && recovered && all_run && lost == lost_frames,
        "cut_ms": lost_frames * FRAME_PERIOD.as_millis() as u32,
        "protective_stop_seen_after_restore": stopped.is_some(),
        "stopped_pose_age_us": stopped.and_then(|d| d.pose_age_us),
        "recovered_run_on_first_frame": recovered,
        "frames_lost_counted": lost,
        "frames_lost_sent": lost_frames,
        "decisions_lost_during_cut": first_after.map(|s| s.wrapping_sub(last_seq_before).saturating_sub(1)),
        "session_changes": after.session_changes - before.session_changes,
    }))
}

/// (f) The `stall-test` image hangs its safety loop `STALL_AT_MS` after boot: the CMSDK
/// watchdog's first timeout must stop the robot (a Watchdog decision, from its NMI) within
/// its timeout plus a tick of the hang, on the board's clock, and its second must reset the
/// MCU (a Boot decision follows).
pub fn watchdog_reset(port: u16) -> Result<Value> {
    let line = Line::open(port)?;
    let nmi = line.wait_for(0, Duration::from_secs(5), |d| d.trigger == Trigger::Watchdog);
    // The Boot decision that follows the Watchdog one (the bench may also see the first boot).
    let after_nmi = line
        .since(0)
        .iter()
        .position(|d| d.trigger == Trigger::Watchdog)
        .map_or(usize::MAX, |i| i + 1);
    let boot = line.wait_for(after_nmi, Duration::from_secs(5), |d| d.trigger == Trigger::Boot);
    let stall_us = STALL_AT_MS * 1000;
    let timeout_us = u64::from(HW_WATCHDOG_MS) * 1000;
    let bound_us = timeout_us + 1000;
    let stop_after = nmi.map(|d| d.at_us.saturating_sub(stall_us));
    Ok(json!({
        "name": "stalled_loop_watchdog_reset",
        "pass": stop_after.is_some_and(|s| s <= bound_us) && nmi.is_some_and(|d| d.mode == Mode::ProtectiveStop) && boot.is_some(),
        "stall_at_us": stall_us,
        "watchdog_stop_at_us": nmi.map(|d| d.at_us),
        "stop_after_stall_us": stop_after,
        "bound_us": bound_us,
        "bound": "watchdog timeout + one 1 ms tick (the loop's last feed is at most a tick before the hang)",
        "reset_seen": boot.is_some(),
        "reset_after": "the watchdog's second timeout (2 x timeout after the last feed)",
        "watchdog_timeout_ms": HW_WATCHDOG_MS,
    }))
}
