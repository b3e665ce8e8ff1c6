//! The safety-MCU link over a serial line: the node's own writer (`LinkSender`) at one
//! end, the firmware's receiver (`LinkReceiver`) at the other, real mocap in the frames.
//!
//! The link is one-way (Jetson to MCU), so on a device the far end is read back through
//! a loopback plug or a second port: that proves the UART, its driver, the baud rate and
//! the wiring carry every frame intact.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use a4mer_firmware::link::{LinkCounters, LinkFrame, LinkReceiver, ModelHealth};
use a4mer_motion::bvh::{ImportOptions, import_bvh_str};
use a4mer_node::link_sender::LinkSender;
use a4mer_ros::link::{
    LinkConfig, LinkPerson, LinkSource, LinkStats, Monitored, Outgoing, RigidTransform, people_for_link,
};
use a4mer_runtime::PoseFrame;
use serialport::{SerialPort, TTYPort};

/// Built into the test binary, so it runs on a device without the repository.
const TAKE: &str = include_str!("../../data/mocap/bvhtools_test2.bvh");
/// The node's link rate and the model's forecast steps it sends (every third of 30 Hz).
const RATE_HZ: f64 = 30.0;
const STRIDE: usize = 3;

/// What one run over the line showed.
#[derive(Debug)]
pub struct LinkRun {
    pub offered: u64,
    pub sender: LinkStats,
    pub receiver: LinkCounters,
    pub bytes: usize,
    pub seconds: f64,
    /// Accepted frames whose first person matched the frame offered with that stamp.
    pub matched: usize,
}

/// The bundled bvhTools take, as the tests stream it.
pub fn take() -> Result<Vec<PoseFrame>, String> {
    import_bvh_str(TAKE, Path::new("bvhtools_test2.bvh"), &ImportOptions::default())
        .map(|m| m.frames)
        .map_err(|e| e.to_string())
}

/// Frame `t` as the node would send it, with the recording's own next frames standing in
/// for the forecast (real motion, no model needed).
fn frame_at(take: &[PoseFrame], t: usize, base: &RigidTransform) -> Result<Outgoing, String> {
    let forecast: Vec<_> = (1..=18)
        .map(|k| (take[(t + k).min(take.len() - 1)].joints_in_world, 0.01 * k as f32))
        .collect();
    let person = LinkPerson {
        id: 1,
        observed: take[t].joints_in_world,
        reach_m: [0.0; 24],
        forecast,
        degraded: false,
        source: LinkSource::Forecast,
        stamp_ns: take[t].stamp_ns,
        unseen_ns: 0,
    };
    let selected = people_for_link(&[person], base, &Monitored::default(), STRIDE).map_err(|e| format!("{e:?}"))?;
    Ok(Outgoing {
        health: ModelHealth::Nominal,
        step_ms: 100,
        omitted: selected.omitted,
        pose_age_us: 20_000,
        people: selected.people,
    })
}

/// Send `seconds` of real mocap at the node's rate through `LinkSender` on `device`, and
/// read it back from `reader` (the far end of the line) into the firmware's receiver.
pub fn run(device: &str, baud: u32, mut reader: Box<dyn SerialPort>, seconds: f64) -> Result<LinkRun, String> {
    let take = take()?;
    // The recording walks ~3.6 m from its origin: a base there keeps positions in range.
    let base = RigidTransform::from_xyz_rpy([-3.0, -1.5, 0.0, 0.0, 0.0, 0.0]);
    reader
        .set_timeout(Duration::from_millis(20))
        .map_err(|e| format!("{device}: {e}"))?;
    let reader = LinkReader::spawn(reader);
    let sender = LinkSender::start(
        LinkConfig {
            device: device.into(),
            baud,
            base_from_forecast: base,
        },
        7,
    )
    .map_err(|e| format!("starting the link writer: {e}"))?;
    let frames = (seconds * RATE_HZ) as usize;
    let started = Instant::now();
    let mut offered = Vec::with_capacity(frames);
    for i in 0..frames {
        let t = 60 + i % (take.len() - 80);
        let out = frame_at(&take, t, &base)?;
        offered.push(out.people[0].clone());
        sender.offer(out);
        let due = started + Duration::from_secs_f64((i + 1) as f64 / RATE_HZ);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    // Let the line drain, then stop both ends.
    std::thread::sleep(Duration::from_millis(300));
    let sender_stats = sender.stats();
    drop(sender);
    let (receiver, accepted, bytes) = reader.finish()?;
    let seconds = started.elapsed().as_secs_f64();
    // Each accepted person must be one that was offered (same joints to the millimetre).
    let matched = accepted
        .iter()
        .filter(|f| f.people.first().is_some_and(|p| offered.contains(p)))
        .count();
    Ok(LinkRun {
        offered: frames as u64,
        sender: sender_stats,
        receiver: *receiver.counters(),
        bytes,
        seconds,
        matched,
    })
}

/// The MCU's side of a line: a thread reading the far end into the firmware's receiver.
pub struct LinkReader {
    stop: Arc<AtomicBool>,
    received: Arc<Mutex<(LinkReceiver, Vec<LinkFrame>, usize)>>,
    thread: std::thread::JoinHandle<()>,
}

impl LinkReader {
    /// `port` needs a read timeout, so the thread notices `finish`.
    pub fn spawn(mut port: Box<dyn SerialPort>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new((LinkReceiver::new(), Vec::new(), 0usize)));
        let thread = {
            let (stop, received) = (Arc::clone(&stop), Arc::clone(&received));
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let n = match port.read(&mut buf) {
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => 0,
                        Err(_) => break,
                    };
                    let mut r = received.lock().unwrap_or_else(|e| e.into_inner());
                    r.2 += n;
                    for &b in &buf[..n] {
                        if let Some(Ok(frame)) = r.0.push(b) {
                            r.1.push(frame);
                        }
                    }
                }
            })
        };
        Self { stop, received, thread }
    }

    /// Stop reading: the receiver (its counters), the frames it accepted, the bytes read.
    pub fn finish(self) -> Result<(LinkReceiver, Vec<LinkFrame>, usize), String> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        let received = Arc::try_unwrap(self.received).map_err(|_| "reader still running".to_string())?;
        Ok(received.into_inner().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The far end of a real port: `peer` when given, else the port itself (loopback plug).
/// The reader opens first and drops its exclusive lock so the node's writer can open it.
pub fn open_reader(device: &str, peer: Option<&str>, baud: u32) -> Result<Box<dyn SerialPort>, String> {
    let path = peer.unwrap_or(device);
    let mut port: TTYPort = serialport::new(path, baud)
        .timeout(Duration::from_millis(20))
        .open_native()
        .map_err(|e| format!("{path}: {e}"))?;
    port.set_exclusive(false).map_err(|e| format!("{path}: {e}"))?;
    Ok(Box::new(port))
}

/// The host twin's line: a pseudo-terminal pair (the slave is the node's device).
pub fn pty_pair() -> Result<(String, TTYPort, TTYPort), String> {
    let (master, slave) = TTYPort::pair().map_err(|e| format!("pseudo-terminal pair: {e}"))?;
    let name = slave.name().ok_or("the pty has no name")?;
    Ok((name, master, slave))
}

/// The checks both a device and its twin must pass.
pub fn assert_intact(run: &LinkRun) {
    let r = &run.receiver;
    assert_eq!(run.sender.write_errors, 0, "{run:#?}");
    assert!(run.sender.frames_sent >= run.offered * 9 / 10, "{run:#?}");
    // Every frame written arrives, and nothing is corrupted on the way.
    assert_eq!(r.dropped(), 0, "frames dropped on the line: {run:#?}");
    assert!(u64::from(r.accepted) + 1 >= run.sender.frames_sent, "{run:#?}");
    assert_eq!(run.matched as u32, r.accepted, "{run:#?}");
}
