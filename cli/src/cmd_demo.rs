//! `a4mer demo`: publisher, node and subscriber on real DDS on loopback, with a live line
//! per second and a summary.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use clap::Args;

use a4mer_measure::bench::MocapLoop;
use a4mer_motion::load_motions;
use a4mer_node::NodeSetup;
use a4mer_node::demo::{DemoCamera, DemoConfig, DemoSummary, HORIZONS_S, LiveLine, NodeLaunch};
use a4mer_node::sched::{SchedConfig, apply_to_current_thread};
use a4mer_ros::ros_args::RosEnv;
use a4mer_ros::security::{self, SecurityPlan};
use a4mer_runtime::{PoseFrame, frame_period_ns};

use crate::args::{SourceArgs, print_json};

/// `--sros2`: the node's enclave, as `scripts/make-keystore.sh` grants it.
const NODE_ENCLAVE: &str = "/a4mer/a4mer_node";
/// `--sros2`: the demo publisher's and subscriber's enclave.
const DEMO_ENCLAVE: &str = "/a4mer/demo";

#[derive(Args)]
pub struct DemoArgs {
    /// Model artifact for the node. Default: the node's bundled model.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Recordings replayed as the people in front of the robot (BVH files, DeepMimic clips
    /// or directories). The default is a take the bundled model never trained on, so the
    /// live error is what a user meets.
    #[arg(long, default_value = "data/mocap/bvhtools_test2.bvh", num_args = 1.., value_name = "FILE|DIR")]
    data: Vec<PathBuf>,
    /// People in the scene (each a different part of the recordings, 1.5 m apart).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    people: u32,
    /// How long to stream, seconds.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// DDS domain of the demo; traffic stays on loopback whatever the domain.
    #[arg(long, default_value_t = 77, value_parser = clap::value_parser!(u16).range(0..=232))]
    domain: u16,
    /// Run the node as the `a4mer_node` binary next to this one (its own process, so its
    /// start-up and memory are measured on their own) instead of a thread.
    #[arg(long)]
    node_process: bool,
    /// Start N busy loops (threads at SCHED_OTHER, nice 0) for the whole run: the camera
    /// SDK and body tracking a Jetson runs beside the node.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=64))]
    cpu_hog: u32,
    /// The node's scheduling policy (its `sched.policy` parameter): inherit, other, fifo, rr.
    /// The default is the shipped systemd unit's (`SCHED_FIFO` 40), so the demo measures the
    /// node as deployed. fifo and rr need root, CAP_SYS_NICE or an RLIMIT_RTPRIO; without,
    /// the node runs at `SCHED_OTHER` and says why.
    #[arg(long, value_name = "POLICY", default_value = "fifo")]
    sched_policy: String,
    /// The node's `sched.priority` (fifo and rr).
    #[arg(long, value_name = "1..99", default_value_t = 40)]
    sched_priority: u32,
    /// The node's `sched.cpus`: CPUs for its frame loop, e.g. `1` or `0,1`.
    #[arg(long, value_name = "CPU,...", value_delimiter = ',')]
    sched_cpus: Vec<u32>,
    /// Run the demo's publisher and subscriber (and their DDS threads) at the node's
    /// policy too, as a robot's pose driver and controller would run (ros2_control's
    /// controller manager runs SCHED_FIFO): then the latency measured is the node's and the
    /// transport's, not the measuring side's own wait for a CPU. `false` leaves them at
    /// `SCHED_OTHER`, to see what a controller without priority would wait.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    sched_endpoints: bool,
    /// Publish the poses in a camera frame and the camera's pose in FRAME (the robot base,
    /// e.g. base_link) on /tf_static, and run the node with `output.frame_id:=FRAME`: the
    /// forecasts come back in FRAME through TF and are scored there. The camera sits 2.5 m
    /// ahead of the base and 1.4 m up (x, z), turned to face it (yaw pi), tilted 0.2 rad down.
    #[arg(long, value_name = "FRAME")]
    output_frame: Option<String>,
    /// Run the node and the demo's publisher and subscriber under SROS2 (DDS Security,
    /// Enforce) with this keystore: the node in enclave /a4mer/a4mer_node, the demo's peers
    /// in /a4mer/demo. `ROS_DOMAIN_ID=77 scripts/make-keystore.sh DIR /a4mer/demo` makes both
    /// (a keystore grants one domain: the demo's `--domain`).
    #[arg(long, value_name = "KEYSTORE")]
    sros2: Option<PathBuf>,
    /// Print the summary as one JSON object (live lines go to stderr).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    source: SourceArgs,
}

/// Busy loops competing with the node for the CPU, stopped and joined on drop.
struct CpuHogs {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl CpuHogs {
    fn start(n: u32) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|i| {
                let stop = Arc::clone(&stop);
                std::thread::Builder::new()
                    .name(format!("cpu-hog-{i}"))
                    .spawn(move || {
                        let mut x = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            for _ in 0..10_000 {
                                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                            }
                        }
                    })
                    .context("starting a --cpu-hog thread")
            })
            .collect::<Result<Vec<_>>>()?;
        if n > 0 {
            eprintln!("a4mer demo: {n} busy loops at SCHED_OTHER for the whole run");
        }
        Ok(Self { stop, threads })
    }
}

impl Drop for CpuHogs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "-".into())
}

fn live(line: &LiveLine) -> String {
    let now = line
        .motif_now
        .map(|(id, c)| format!("motif {id:>3} ({:.0}%)", c * 100.0))
        .unwrap_or_else(|| "motif   - (warming up)".into());
    // The head's distribution is over the motif `motif_ahead_s` from now, the current one
    // included: say so, with the chance of staying beside the most likely motif.
    let next = line
        .motif_ahead
        .map(|(id, p)| {
            let same = match line.motif_stays {
                Some(q) => format!(", same {:.0}%", q * 100.0),
                None => ", same <top-k".into(),
            };
            format!("in {:.1} s: {id:>3} ({:.0}%){same}", line.motif_ahead_s, p * 100.0)
        })
        .unwrap_or_default();
    let err: Vec<String> = HORIZONS_S
        .iter()
        .zip(&line.mpjpe_mm)
        .map(|(h, e)| format!("{:.0}ms {}", h * 1000.0, fmt_opt(*e, 0)))
        .collect();
    format!(
        "t={:>3.0}s  person {}: {now}  {next:<30} | error so far (mm) {} | latency p50 {} p99 {} ms | {:.0} forecasts/s",
        line.t_s,
        line.person_id,
        err.join(" "),
        fmt_opt(line.latency_p50_ms, 2),
        fmt_opt(line.latency_p99_ms, 2),
        line.forecasts_per_s
    )
}

fn print_summary(s: &DemoSummary) {
    println!("\nsummary");
    println!("  people                     {}", s.people);
    println!(
        "  frames sent / forecasts    {} / {} ({} motif messages)",
        s.frames_sent, s.forecasts_received, s.motif_messages_received
    );
    let l = &s.end_to_end_latency_ms;
    println!(
        "  pose in -> forecast out    p50 {} ms, p99 {} ms, max {} ms over {} forecasts (DDS on loopback)",
        fmt_opt(l.p50, 2),
        fmt_opt(l.p99, 2),
        fmt_opt(l.max, 2),
        l.count
    );
    let b = &s.baselines_mpjpe_mm;
    let best = b.best();
    for (h, ms) in s.horizons_s.iter().map(|h| h * 1000.0).enumerate() {
        let gain = match (s.mpjpe_mm[h], best[h]) {
            (Some(e), Some(best)) if best > 0.0 => format!("{:+.1} %", (1.0 - e / best) * 100.0),
            _ => "n/a".into(),
        };
        println!(
            "  MPJPE at {ms:>4.0} ms           {} mm; baselines zero {}, constant {}, damped {} mm; gain over the best {gain}",
            fmt_opt(s.mpjpe_mm[h], 1),
            fmt_opt(b.zero_velocity[h], 1),
            fmt_opt(b.constant_velocity[h], 1),
            fmt_opt(b.damped_velocity[h], 1),
        );
    }
    println!("  (damped velocity: tau {} s, the model's)", b.damping_tau_s);
    if let Some(m) = &s.motifs {
        let pct = |v: Option<f64>| fmt_opt(v.map(|v| v * 100.0), 1);
        println!(
            "  next motif, {} s ahead     Brier skill vs \"it stays\" {} %; top-1 {} % (it stays {} %), top-3 {} %, top-3 where it changed {} % of {}; ECE {} over {} ({} published as \"it stays\")",
            m.horizon_s,
            pct(m.brier_skill),
            pct(m.top1),
            pct(m.stay_top1),
            pct(m.top3),
            pct(m.change_top3),
            m.change_scored,
            fmt_opt(m.ece, 3),
            m.scored,
            m.published_stays
        );
    }
    println!(
        "  first forecast             {} s after the node started (warm-up alone is {:.1} s)",
        fmt_opt(s.first_forecast_s, 2),
        s.warmup_s
    );
    if let Some(rss) = s.node_peak_rss_mb {
        println!("  node peak RSS              {rss:.1} MiB");
    }
}

/// The people: each a looped walk through the recordings from a different start, shifted
/// sideways, stamped from now on the 30 Hz grid.
fn people_takes(motions: &[Vec<PoseFrame>], people: u32, frames: usize) -> Result<Vec<Vec<PoseFrame>>> {
    let takes: Vec<&[PoseFrame]> = motions.iter().map(Vec::as_slice).collect();
    let base_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock before 1970")?
        .as_nanos() as i64;
    (0..people)
        .map(|i| {
            let source = MocapLoop::new(&takes).context("the recordings have no take of 2 or more frames")?;
            Ok(source
                .skip(i as usize * 150)
                .take(frames)
                .enumerate()
                .map(|(k, mut f)| {
                    f.stamp_ns = base_ns + frame_period_ns(k as u64);
                    for p in f.joints_in_world.iter_mut() {
                        p[1] += 1.5 * i as f32;
                    }
                    f
                })
                .collect())
        })
        .collect()
}

pub fn run(args: DemoArgs) -> Result<()> {
    if !(args.seconds.is_finite() && (2.0..=3600.0).contains(&args.seconds)) {
        bail!("--seconds {} is outside 2..=3600", args.seconds);
    }
    let motions = load_motions(&args.data, &args.source.import_options()).context("loading the demo recordings")?;
    let motions: Vec<Vec<PoseFrame>> = motions.into_iter().map(|m| m.frames).collect();
    let frames = (args.seconds * 30.0).round() as usize;
    let people = people_takes(&motions, args.people, frames)?;

    let keystore = args.sros2.as_ref().map(|k| k.display().to_string());
    let env = RosEnv::from_lookup(|k| match k {
        "ROS_DOMAIN_ID" => Some(args.domain.to_string()),
        "ROS_LOCALHOST_ONLY" => Some("1".into()),
        "ROS_SECURITY_ENABLE" => keystore.as_ref().map(|_| "true".into()),
        "ROS_SECURITY_STRATEGY" => keystore.as_ref().map(|_| "Enforce".into()),
        "ROS_SECURITY_KEYSTORE" => keystore.clone(),
        _ => None,
    })
    .context("demo ROS environment")?;
    let mut ros_args = vec!["--ros-args".to_string()];
    if args.sros2.is_some() {
        ros_args.extend(["--enclave".into(), NODE_ENCLAVE.into()]);
    }
    // The demo's own peers: unsecured, or their enclave in the same keystore.
    let peer_security = match &args.sros2 {
        None => SecurityPlan::OFF,
        Some(k) => security::plan(
            &env.security,
            Some(DEMO_ENCLAVE),
            a4mer_node::dds::HAS_SECURITY,
            SystemTime::now(),
        )
        .with_context(|| format!("--sros2 {}: the demo's enclave {DEMO_ENCLAVE}", k.display()))?,
    };
    if let Some(m) = &args.model {
        ros_args.extend(["-p".into(), format!("model:={}", m.display())]);
    }
    ros_args.extend(["-p".into(), format!("tracks.max:={}", args.people.max(4))]);
    if let Some(frame) = &args.output_frame {
        ros_args.extend(["-p".into(), format!("output.frame_id:={frame}")]);
    }
    ros_args.extend([
        "-p".into(),
        format!("sched.policy:={}", args.sched_policy),
        "-p".into(),
        format!("sched.priority:={}", args.sched_priority),
    ]);
    if !args.sched_cpus.is_empty() {
        let cpus: Vec<String> = args.sched_cpus.iter().map(u32::to_string).collect();
        ros_args.extend(["-p".into(), format!("sched.cpus:=[{}]", cpus.join(", "))]);
    }
    let setup = NodeSetup::from_args(&ros_args, env.clone()).context("node start-up")?;
    let node_sched = setup.config.sched.clone();
    let damping_tau_s = setup.model.stream.damping_tau().seconds();
    let topics = setup.topics.clone();
    eprintln!(
        "a4mer demo: {} {}, {:.0} s of {} on DDS domain {} (loopback only); node {} with model {}",
        args.people,
        if args.people == 1 { "person" } else { "people" },
        args.seconds,
        args.data
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        args.domain,
        if args.node_process { "process" } else { "thread" },
        setup.model.origin
    );
    if args.sros2.is_some() {
        eprintln!(
            "a4mer demo: SROS2: node {}, peers {}",
            setup.security.summary(),
            peer_security.summary()
        );
    }
    let node = if args.node_process {
        let exe = std::env::current_exe()
            .context("locating the a4mer binary")?
            .with_file_name("a4mer_node");
        if !exe.is_file() {
            bail!(
                "--node-process: {} not found (build it: cargo build --bin a4mer_node)",
                exe.display()
            );
        }
        NodeLaunch::Process { exe, args: ros_args }
    } else {
        NodeLaunch::InProcess(Box::new(setup))
    };
    let json = args.json;
    // Busy loops first, so they keep SCHED_OTHER whatever this thread takes next.
    let hogs = CpuHogs::start(args.cpu_hog)?;
    if args.sched_endpoints {
        let applied = apply_to_current_thread(&SchedConfig {
            cpus: Vec::new(),
            ..node_sched
        });
        eprintln!("a4mer demo: publisher and subscriber at {}", applied.policy);
        if let Some(problem) = applied.problem {
            eprintln!("a4mer demo: warning: {problem}");
        }
    }
    let summary = a4mer_node::demo::run(
        DemoConfig {
            peer_security,
            people,
            node,
            poses_topic: topics.poses,
            forecast_topic: topics.forecast,
            motifs_topic: topics.motifs,
            env,
            camera: args.output_frame.as_deref().map(DemoCamera::facing),
            damping_tau_s,
        },
        &mut |line| {
            if json {
                eprintln!("{}", live(line));
            } else {
                println!("{}", live(line));
            }
        },
    )
    .context("demo");
    drop(hogs);
    let summary = summary?;
    if summary.forecasts_received == 0 {
        bail!("no forecast arrived over DDS in {:.0} s", args.seconds);
    }
    if json {
        print_json(&summary)
    } else {
        print_summary(&summary);
        Ok(())
    }
}
