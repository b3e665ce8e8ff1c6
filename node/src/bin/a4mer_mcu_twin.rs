//! `a4mer_mcu_twin`: the safety MCU's firmware logic on the host, at the far end of a
//! pseudo-terminal standing in for the UART. For bench and integration tests of the full
//! path: pose in → forecast → link → SSM decision.
//!
//! Prints `{"device": "/dev/pts/N"}` first (pass it to the node as `link.device`), then one
//! JSON line per accepted link frame with the monitor's decision for the configured robot.
//! Ends after `--for-s` seconds or when killed (a pulled cable, as far as the node knows).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serialport::{SerialPort, TTYPort};

use a4mer_firmware::monitor::{Command, Monitor, MonitorConfig};
use a4mer_firmware::ssm::RobotState;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let robot: Vec<f32> = arg(&args, "--robot")
        .unwrap_or_else(|| "0,0,1".into())
        .split(',')
        .map(|v| v.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .context("--robot x,y,z (metres, robot base frame)")?;
    let [x, y, z] = robot[..] else {
        bail!("--robot needs x,y,z");
    };
    let speed: f32 = arg(&args, "--speed")
        .unwrap_or_else(|| "1.0".into())
        .parse()
        .context("--speed m/s")?;
    let for_s: Option<f64> = arg(&args, "--for-s")
        .map(|v| v.parse())
        .transpose()
        .context("--for-s seconds")?;
    // The latency the MCU allows for a frame on the wire follows the link's baud.
    let baud: u32 = arg(&args, "--baud")
        .unwrap_or_else(|| "921600".into())
        .parse()
        .context("--baud (the node's link.baud)")?;
    let robot = RobotState {
        position_in_base_m: [x, y, z],
        programmed_speed_mps: speed,
    };

    let (mut master, slave) = TTYPort::pair().context("creating a pseudo-terminal pair")?;
    let device = slave.name().context("the pty has no name")?;
    println!("{}", serde_json::json!({ "device": device }));
    std::io::stdout().flush()?;
    master.set_timeout(Duration::from_millis(20))?;

    let mut receiver = a4mer_firmware::link::LinkReceiver::new();
    let mut monitor = Monitor::new(MonitorConfig::for_baud(baud)).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        if for_s.is_some_and(|s| start.elapsed().as_secs_f64() > s) {
            break;
        }
        let n = match master.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => 0,
            // No writer on the other side yet (EIO until the node opens the device).
            Err(_) => {
                std::thread::sleep(Duration::from_millis(20));
                0
            }
        };
        for &b in &buf[..n] {
            let Some(result) = receiver.push(b) else { continue };
            let now_us = start.elapsed().as_micros() as u64;
            let line = match result {
                Ok(frame) => {
                    let people = frame.people.len();
                    let held = frame.people.iter().filter(|p| p.unseen_us > 0).count();
                    let omitted = frame.omitted;
                    let pose_age_us = frame.header.pose_age_us;
                    let health = format!("{:?}", frame.health);
                    monitor.accept_frame(frame, now_us);
                    let (command, _) = monitor.command(&robot, now_us);
                    let assessment = monitor.assessment(&robot, now_us);
                    serde_json::json!({
                        "t_s": now_us as f64 / 1e6,
                        "people": people,
                        "people_held": held,
                        "people_omitted": omitted,
                        "pose_age_us": pose_age_us,
                        "health": health,
                        "mode": format!("{:?}", monitor.mode()),
                        "command": match command {
                            Command::Run { .. } => "run",
                            Command::Fallback { .. } => "fallback",
                            Command::ProtectiveStop => "protective_stop",
                        },
                        "scale": command.scale(),
                        "separation_m": assessment.map(|a| a.separation_m),
                        "accepted": receiver.counters().accepted,
                        "dropped": receiver.counters().dropped(),
                    })
                }
                Err(e) => serde_json::json!({ "t_s": now_us as f64 / 1e6, "rejected": format!("{e:?}") }),
            };
            println!("{line}");
        }
        std::io::stdout().flush()?;
    }
    drop(slave);
    Ok(())
}
