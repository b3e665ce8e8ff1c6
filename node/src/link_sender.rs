//! The writer thread: the newest frame, numbered, encoded and written, one at a time.
//!
//! The node hands its newest frame to [`LinkSender::offer`], which only swaps a one-slot
//! mailbox: the ROS side never waits on the serial port. Frames that a newer one replaced
//! before it could be sent are counted, not queued: the MCU wants the newest pose, not a
//! backlog. The writer paces itself by the baud rate, so the serial driver never holds more
//! than the frame on the wire: a frame is aged when it is encoded (its age at the offer plus
//! its time in the mailbox), and the MCU adds only one frame's transmit time at the
//! configured baud (`MonitorConfig::for_baud`). A stalled reader costs at most a write
//! timeout (the frame is dropped and counted); a vanished device is reopened every
//! `REOPEN_INTERVAL`.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use a4mer_firmware::link::{Header, LinkFrame, MAX_WIRE_LEN, encode_frame, transmit_time_us};

use a4mer_ros::link::{LinkConfig, LinkStats, Outgoing};

/// How often a missing or failed device is reopened.
pub const REOPEN_INTERVAL: Duration = Duration::from_millis(500);
/// Longest a write may block before the frame is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Slot {
    frame: Option<(Outgoing, Instant)>,
    shutdown: bool,
}

struct Shared {
    slot: Mutex<Slot>,
    wake: Condvar,
    stats: Mutex<LinkStats>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in the other thread must not take the node down with a poisoned lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct LinkSender {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

impl LinkSender {
    /// Start the writer thread. The device need not exist yet: it is opened, and reopened,
    /// in the background, and its absence shows in [`LinkSender::stats`].
    pub fn start(config: LinkConfig, session: u32) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot::default()),
            wake: Condvar::new(),
            stats: Mutex::new(LinkStats::default()),
        });
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("a4mer-link".into())
            .spawn(move || writer_loop(&config, session, &writer_shared))?;
        Ok(Self {
            shared,
            writer: Some(writer),
        })
    }

    /// Hand over the newest frame; its `pose_age_us` is its age now. Never blocks on the
    /// serial port.
    pub fn offer(&self, frame: Outgoing) {
        let replaced = lock(&self.shared.slot).frame.replace((frame, Instant::now())).is_some();
        if replaced {
            lock(&self.shared.stats).frames_superseded += 1;
        }
        self.shared.wake.notify_one();
    }

    pub fn stats(&self) -> LinkStats {
        lock(&self.shared.stats).clone()
    }
}

impl Drop for LinkSender {
    fn drop(&mut self) {
        lock(&self.shared.slot).shutdown = true;
        self.shared.wake.notify_one();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

fn open(config: &LinkConfig) -> Result<Box<dyn serialport::SerialPort>, serialport::Error> {
    serialport::new(config.device.to_string_lossy(), config.baud)
        .timeout(WRITE_TIMEOUT)
        .open()
}

/// Waits for the newest frame; `None` on shutdown.
fn take_newest(shared: &Shared) -> Option<(Outgoing, Instant)> {
    let mut slot = lock(&shared.slot);
    loop {
        if slot.shutdown {
            return None;
        }
        if let Some(f) = slot.frame.take() {
            return Some(f);
        }
        slot = shared
            .wake
            .wait_timeout(slot, REOPEN_INTERVAL)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
}

fn writer_loop(config: &LinkConfig, session: u32, shared: &Shared) {
    let started = Instant::now();
    let mut port: Option<Box<dyn serialport::SerialPort>> = None;
    let mut last_open_attempt: Option<Instant> = None;
    let mut seq: u32 = 0;
    let mut wire = [0u8; MAX_WIRE_LEN + 1];
    // When the last frame written has left the UART, at the configured baud.
    let mut line_free_at = Instant::now();
    let note = |f: &dyn Fn(&mut LinkStats)| f(&mut lock(&shared.stats));
    loop {
        // Never queue behind the driver: wait for the wire, then take whatever is newest.
        let busy = line_free_at.saturating_duration_since(Instant::now());
        if !busy.is_zero() {
            std::thread::sleep(busy);
        }
        let Some((outgoing, offered)) = take_newest(shared) else {
            return;
        };
        if port.is_none() && last_open_attempt.is_none_or(|t| t.elapsed() >= REOPEN_INTERVAL) {
            last_open_attempt = Some(Instant::now());
            match open(config) {
                Ok(p) => {
                    port = Some(p);
                    note(&|s| {
                        s.opens += 1;
                        s.connected = true;
                    });
                }
                Err(e) => {
                    let msg = format!("{}: {e}", config.device.display());
                    note(&|s| {
                        s.connected = false;
                        s.last_error = Some(msg.clone());
                    });
                }
            }
        }
        let Some(p) = port.as_mut() else {
            note(&|s| s.frames_dropped_disconnected += 1);
            continue;
        };
        let in_mailbox_us = offered.elapsed().as_micros() as u64;
        let frame = LinkFrame {
            header: Header {
                session,
                seq,
                sender_stamp_us: started.elapsed().as_micros() as u64,
                pose_age_us: u64::from(outgoing.pose_age_us)
                    .saturating_add(in_mailbox_us)
                    .min(u64::from(u32::MAX)) as u32,
            },
            health: outgoing.health,
            step_ms: outgoing.step_ms,
            omitted: outgoing.omitted,
            people: outgoing.people,
        };
        // A leading delimiter resynchronises the receiver after a frame cut off mid-write.
        wire[0] = 0;
        let n = match encode_frame(&frame, &mut wire[1..]) {
            Ok(n) => n,
            Err(e) => {
                let msg = format!("encoding link frame: {e}");
                note(&|s| {
                    s.encode_errors += 1;
                    s.last_error = Some(msg.clone());
                });
                continue;
            }
        };
        seq = seq.wrapping_add(1);
        let written_at = Instant::now();
        match p.write_all(&wire[..n + 1]) {
            Ok(()) => {
                line_free_at = written_at + Duration::from_micros(u64::from(transmit_time_us(n + 1, config.baud)));
                note(&|s| {
                    s.frames_sent += 1;
                    s.last_age_at_encode_us = frame.header.pose_age_us;
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                note(&|s| s.frames_dropped_write_timeout += 1);
            }
            Err(e) => {
                let msg = format!("{}: {e}", config.device.display());
                note(&|s| {
                    s.write_errors += 1;
                    s.connected = false;
                    s.last_error = Some(msg.clone());
                });
                port = None;
            }
        }
    }
}
