//! The Jetson side of the safety link: forecasts → link frames → serial port.
//!
//! The node hands its newest frame to [`LinkSender::offer`], which only swaps a one-slot
//! mailbox: the ROS side never waits on the serial port. A writer thread takes the newest
//! frame, numbers it, encodes it (CBOR → CRC-32 → COBS, `a4mer_firmware::link`) and writes
//! it. A stalled reader costs at most a write timeout in that thread (the frame is dropped
//! and counted); a vanished device is reopened every `REOPEN_INTERVAL`. Frames that a newer
//! one replaced before it could be sent are counted, not queued: the MCU wants the newest
//! pose, not a backlog.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use a4mer_firmware::link::{
    ForecastStep, Header, LINK_JOINTS, LINK_JOINTS_SMPL24, LinkFrame, MAX_PEOPLE, MAX_STEPS, MAX_WIRE_LEN, ModelHealth,
    PersonForecast, PositionError, encode_frame,
};
use a4mer_runtime::skeleton::SMPL24_PARENTS;
use a4mer_runtime::stream::{Anticipation, HealthState};
use a4mer_runtime::{Joints, PoseFrame};

/// How often a missing or failed device is reopened.
pub const REOPEN_INTERVAL: Duration = Duration::from_millis(500);
/// Longest a write may block before the frame is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(50);

/// A rigid transform `p_base = R p + t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RigidTransform {
    pub rotation: [[f64; 3]; 3],
    pub translation_m: [f64; 3],
}

impl RigidTransform {
    pub const IDENTITY: Self = Self {
        rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        translation_m: [0.0; 3],
    };

    /// From `[x, y, z, roll, pitch, yaw]` (metres, radians; R = Rz(yaw) Ry(pitch) Rx(roll), as in
    /// ROS `static_transform_publisher`).
    pub fn from_xyz_rpy(v: [f64; 6]) -> Self {
        let (sr, cr) = v[3].sin_cos();
        let (sp, cp) = v[4].sin_cos();
        let (sy, cy) = v[5].sin_cos();
        Self {
            rotation: [
                [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                [-sp, cp * sr, cp * cr],
            ],
            translation_m: [v[0], v[1], v[2]],
        }
    }

    pub fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        let p = p.map(f64::from);
        std::array::from_fn(|i| {
            (self.rotation[i][0] * p[0]
                + self.rotation[i][1] * p[1]
                + self.rotation[i][2] * p[2]
                + self.translation_m[i]) as f32
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    pub device: PathBuf,
    pub baud: u32,
    pub base_from_forecast: RigidTransform,
}

/// One person as the node knows them: the observed pose and forecast steps in the forecast
/// frame, at the model rate.
pub struct PersonView<'a> {
    pub track_id: u16,
    pub observed: &'a Joints,
    /// Forecast poses, step k at (k + 1) model frames after the observation, with spreads.
    pub forecast: &'a [(Joints, f32)],
}

/// The largest radius sent: the guard's calibrated radius is unbounded when its forecasts
/// keep missing (metres, even hundreds), and the link's millimetre field ends at 65.535 m.
/// A radius beyond any work cell protects as much as a larger one, so it is sent as this
/// rather than dropping the frame the MCU needs; negative or NaN spreads are still refused.
pub const LINK_MAX_SPREAD_M: f32 = 65.0;

/// Build the link's view of up to `MAX_PEOPLE` people, nearest to the robot base first:
/// the observed pose plus every `stride`-th forecast step, the link joints only, in the base
/// frame, millimetres.
pub fn people_for_link(
    people: &[PersonView<'_>],
    base_from_forecast: &RigidTransform,
    stride: usize,
) -> Result<heapless::Vec<PersonForecast, MAX_PEOPLE>, PositionError> {
    let stride = stride.max(1);
    let pick = |pose: &Joints| -> [[f32; 3]; LINK_JOINTS] {
        std::array::from_fn(|k| base_from_forecast.apply(pose[LINK_JOINTS_SMPL24[k] as usize]))
    };
    let mut order: Vec<(f32, usize)> = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let nearest = pick(p.observed)
                .iter()
                .map(|q| (q[0] * q[0] + q[1] * q[1] + q[2] * q[2]).sqrt())
                .fold(f32::INFINITY, f32::min);
            (nearest, i)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = heapless::Vec::new();
    for (_, i) in order.into_iter().take(MAX_PEOPLE) {
        let p = &people[i];
        let mut steps = heapless::Vec::<ForecastStep, MAX_STEPS>::new();
        // Capacity: 1 + (MAX_STEPS - 1) by construction.
        let _ = steps.push(ForecastStep::from_metres(&pick(p.observed), 0.0)?);
        for (pose, spread_m) in p.forecast.iter().skip(stride - 1).step_by(stride).take(MAX_STEPS - 1) {
            // `min` would turn a NaN into the maximum: a NaN stays one and is refused.
            let spread_m = if spread_m.is_nan() {
                *spread_m
            } else {
                spread_m.min(LINK_MAX_SPREAD_M)
            };
            let _ = steps.push(ForecastStep::from_metres(&pick(pose), spread_m)?);
        }
        let _ = out.push(PersonForecast {
            track_id: p.track_id,
            steps,
        });
    }
    Ok(out)
}

/// One person of the current message as the safety link sees them.
pub struct LinkPerson {
    pub id: u32,
    pub observed: Joints,
    pub forecast: Vec<(Joints, f32)>,
    /// Link joints filled in (unobserved) or no forecast yet: the MCU must not trust this.
    pub degraded: bool,
}

/// Link steps are 100 ms apart: every third 30 Hz forecast step.
pub const LINK_STRIDE: usize = 3;
pub const LINK_STEP_MS: u16 = 100;
/// Forecast steps the link carries: its last step's distance from the observation.
pub const LINK_REACH_STEPS: usize = LINK_STRIDE * (MAX_STEPS - 1);

pub fn link_person(id: u32, frame: &PoseFrame, a: &Anticipation) -> LinkPerson {
    let ok = |j: usize| frame.valid[j] && frame.joints_in_world[j].iter().all(|v| v.is_finite());
    // A model that has lately lost to a baseline within the link's reach must not set the
    // protective distance: the MCU falls back to its certified behaviour instead.
    let losing = a.guard.model_losing_within(LINK_REACH_STEPS);
    let mut degraded = a.health.state != HealthState::Ok || a.forecast.is_empty() || !ok(0) || losing;
    // An unobserved joint takes its nearest observed ancestor. A hand or foot in place of
    // its wrist or ankle (rigs without hand or toe joints) stays nominal: the MCU's
    // intrusion distance C (ISO 13855) covers that reach. Anything else degrades the frame,
    // so the MCU applies its certified fallback.
    let observed: Joints = std::array::from_fn(|j| {
        let mut k = j;
        let mut hops = 0;
        while !ok(k) {
            match SMPL24_PARENTS[k] {
                Some(parent) => {
                    k = parent;
                    hops += 1;
                }
                None => break,
            }
        }
        let terminal = matches!(j, 10 | 11 | 22 | 23);
        if LINK_JOINTS_SMPL24.contains(&(j as u8)) && (hops > 1 || (hops == 1 && !terminal) || !ok(k)) {
            degraded = true;
        }
        frame.joints_in_world[k]
    });
    LinkPerson {
        id,
        observed,
        forecast: a.forecast.iter().map(|s| (s.joints_in_world, s.spread_m)).collect(),
        degraded,
    }
}

/// The link frame for the people of one message: 100 ms steps, degraded if any person is.
pub fn outgoing(people: &[LinkPerson], base: &RigidTransform, pose_age_us: u64) -> Result<Outgoing, PositionError> {
    let views: Vec<PersonView<'_>> = people
        .iter()
        .map(|p| PersonView {
            track_id: p.id as u16,
            observed: &p.observed,
            forecast: &p.forecast,
        })
        .collect();
    Ok(Outgoing {
        health: if people.iter().any(|p| p.degraded) {
            ModelHealth::Degraded
        } else {
            ModelHealth::Nominal
        },
        step_ms: LINK_STEP_MS,
        pose_age_us: pose_age_us.min(u32::MAX as u64) as u32,
        people: people_for_link(&views, base, LINK_STRIDE)?,
    })
}

/// The people of the last link frame, in the base frame, and their message's stamp.
#[derive(Clone, Debug)]
pub struct Placed {
    pub people: heapless::Vec<PersonForecast, MAX_PEOPLE>,
    pub stamp_ns: i64,
}

/// The link frame for a message whose people could not be placed in the base frame (no
/// usable transform): `Degraded`, carrying the last people that were placed, as old as
/// they are, so the MCU's fallback keeps them and grows their reach with that age until its
/// deadline stops the robot. Nobody placed yet: no people and the largest age, which the
/// MCU treats as pose data past its deadline (a protective stop), never as an empty scene.
pub fn unplaced(last: Option<&Placed>, stamp_ns: i64) -> Outgoing {
    let (people, pose_age_us) = match last {
        Some(p) => (
            p.people.clone(),
            (stamp_ns.saturating_sub(p.stamp_ns).max(0) / 1000).min(i64::from(u32::MAX)) as u32,
        ),
        None => (heapless::Vec::new(), u32::MAX),
    };
    Outgoing {
        health: ModelHealth::Degraded,
        step_ms: LINK_STEP_MS,
        pose_age_us,
        people,
    }
}

/// What the link has done, for `/diagnostics`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkStats {
    pub frames_sent: u64,
    /// Replaced by a newer frame before the writer got to them.
    pub frames_superseded: u64,
    pub frames_dropped_write_timeout: u64,
    /// Offered while the device was missing.
    pub frames_dropped_disconnected: u64,
    pub encode_errors: u64,
    pub write_errors: u64,
    pub opens: u64,
    pub connected: bool,
    pub last_error: Option<String>,
}

/// The node's frame before the writer numbers it.
pub struct Outgoing {
    pub health: ModelHealth,
    pub step_ms: u16,
    pub pose_age_us: u32,
    pub people: heapless::Vec<PersonForecast, MAX_PEOPLE>,
}

#[derive(Default)]
struct Slot {
    frame: Option<Outgoing>,
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

    /// Hand over the newest frame. Never blocks on the serial port.
    pub fn offer(&self, frame: Outgoing) {
        let replaced = lock(&self.shared.slot).frame.replace(frame).is_some();
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

fn writer_loop(config: &LinkConfig, session: u32, shared: &Shared) {
    let started = Instant::now();
    let mut port: Option<Box<dyn serialport::SerialPort>> = None;
    let mut last_open_attempt: Option<Instant> = None;
    let mut seq: u32 = 0;
    let mut wire = [0u8; MAX_WIRE_LEN + 1];
    let note = |f: &dyn Fn(&mut LinkStats)| f(&mut lock(&shared.stats));
    loop {
        let outgoing = {
            let mut slot = lock(&shared.slot);
            loop {
                if slot.shutdown {
                    return;
                }
                if let Some(f) = slot.frame.take() {
                    break f;
                }
                slot = shared
                    .wake
                    .wait_timeout(slot, REOPEN_INTERVAL)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
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
        let frame = LinkFrame {
            header: Header {
                session,
                seq,
                sender_stamp_us: started.elapsed().as_micros() as u64,
                pose_age_us: outgoing.pose_age_us,
            },
            health: outgoing.health,
            step_ms: outgoing.step_ms,
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
        match p.write_all(&wire[..n + 1]) {
            Ok(()) => note(&|s| s.frames_sent += 1),
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

#[cfg(test)]
mod tests {
    use super::*;
    use a4mer_firmware::monitor::{Command, Mode, Monitor, MonitorConfig};
    use a4mer_firmware::ssm::RobotState;

    fn person(x: f32) -> LinkPerson {
        let pose: Joints = std::array::from_fn(|j| [x, 0.1 * j as f32, 1.0]);
        LinkPerson {
            id: 7,
            observed: pose,
            forecast: vec![(pose, 0.05); 30],
            degraded: false,
        }
    }

    /// The MCU monitor's mode and command the moment this frame arrives.
    fn mcu_mode(frame: Outgoing) -> (Mode, Command) {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let robot = RobotState {
            position_in_base_m: [0.0, 0.0, 1.0],
            programmed_speed_mps: 1.0,
        };
        m.accept_frame(
            LinkFrame {
                header: Header {
                    session: 1,
                    seq: 1,
                    sender_stamp_us: 0,
                    pose_age_us: frame.pose_age_us,
                },
                health: frame.health,
                step_ms: frame.step_ms,
                people: frame.people,
            },
            1_000,
        );
        let (command, _) = m.command(&robot, 1_000);
        (m.mode(), command)
    }

    #[test]
    fn an_unplaced_message_carries_the_last_placed_people_as_old_as_they_are() {
        let placed_frame = outgoing(&[person(2.0)], &RigidTransform::IDENTITY, 0).unwrap();
        let placed = Placed {
            people: placed_frame.people.clone(),
            stamp_ns: 5_000_000_000,
        };
        let later = unplaced(Some(&placed), 5_000_000_000 + 60_000_000);
        assert_eq!(later.health, ModelHealth::Degraded);
        assert_eq!(later.people, placed_frame.people);
        assert_eq!(later.pose_age_us, 60_000);
        // Degraded: the MCU's certified fallback on those people, not the forecast.
        assert!(matches!(mcu_mode(later), (Mode::Fallback, Command::Fallback { .. })));
        // Once they are older than its deadline, it stops the robot.
        let much_later = unplaced(Some(&placed), 5_000_000_000 + 400_000_000);
        assert_eq!(mcu_mode(much_later), (Mode::ProtectiveStop, Command::ProtectiveStop));
    }

    #[test]
    fn nobody_ever_placed_is_pose_data_past_any_deadline_not_an_empty_scene() {
        let frame = unplaced(None, 1);
        assert!(frame.people.is_empty());
        assert_eq!((frame.health, frame.pose_age_us), (ModelHealth::Degraded, u32::MAX));
        assert_eq!(mcu_mode(frame), (Mode::ProtectiveStop, Command::ProtectiveStop));
        // What an empty frame would have meant: nobody there, full speed.
        let empty = outgoing(&[], &RigidTransform::IDENTITY, 0).unwrap();
        assert!(matches!(mcu_mode(empty), (Mode::Run, Command::Run { .. })));
    }
}
