//! An installed bundle, checked the way a field engineer would after flashing: every hash,
//! the selftest, and the node started from the systemd unit's own command line.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the unit expects the bundle; replaced by the root under test.
const UNIT_ROOT: &str = "/opt/a4mer";
const UNIT: &str = "launch/systemd/a4mer-node.service";
const UNIT_ENV: &str = "launch/systemd/a4mer-node.env";

/// What a checked installation showed.
#[derive(Debug)]
pub struct Checked {
    pub verify: String,
    pub selftest: serde_json::Value,
    /// The model the manifest names (path in the bundle, id), and the node's start-up line
    /// naming the model it loaded.
    pub model_path: String,
    pub model_id: String,
    pub node_banner: String,
    pub ready_after_s: f64,
    pub watchdog_pings: usize,
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!("{what} failed ({}):\n{text}", out.status));
    }
    Ok(text)
}

/// The unit's `ExecStart=` as an argument vector, with `/opt/a4mer` moved to `root` and
/// `${VAR}`/`$VAR` expanded from `env` as systemd would (`${VAR}` is one argument even when
/// empty; an empty `$VAR` disappears).
pub fn exec_start(root: &Path, env: &[(String, String)]) -> Result<Vec<String>, String> {
    let unit_path = root.join(UNIT);
    let unit = std::fs::read_to_string(&unit_path).map_err(|e| format!("{}: {e}", unit_path.display()))?;
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .ok_or_else(|| format!("{}: no ExecStart=", unit_path.display()))?;
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let root_s = root.to_string_lossy();
    let mut argv = Vec::new();
    for word in line.split_whitespace() {
        let word = word.replace(UNIT_ROOT, &root_s);
        if let Some(name) = word.strip_prefix('$').filter(|n| !n.starts_with('{')) {
            argv.extend(lookup(name).split_whitespace().map(str::to_string));
            continue;
        }
        let mut out = String::new();
        let mut rest = word.as_str();
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let end = rest[i..]
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in ExecStart: {word}"))?;
            out.push_str(&lookup(&rest[i + 2..i + end]));
            rest = &rest[i + end + 1..];
        }
        out.push_str(rest);
        argv.push(out);
    }
    Ok(argv)
}

/// `Environment=` lines of the unit, then the bundle's env file, as systemd layers them.
fn unit_env(root: &Path) -> Result<Vec<(String, String)>, String> {
    let mut env = Vec::new();
    let unit = std::fs::read_to_string(root.join(UNIT)).map_err(|e| format!("{UNIT}: {e}"))?;
    let assignments = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .map(str::to_string)
        .chain(
            std::fs::read_to_string(root.join(UNIT_ENV))
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .map(str::to_string),
        )
        .collect::<Vec<_>>();
    for a in assignments {
        if let Some((k, v)) = a.split_once('=') {
            env.push((
                k.trim().to_string(),
                v.trim().replace(UNIT_ROOT, &root.to_string_lossy()),
            ));
        }
    }
    Ok(env)
}

/// How the selftest's latency gates apply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// The device's own budgets: a quiet Jetson must meet them.
    DeviceBudgets,
    /// Recorded, not gated: a debug build on a host shared with builds and other tests,
    /// where a missed budget says nothing about the bundle.
    Recorded,
}

/// Verify, selftest, and start the node as its systemd unit does (READY, watchdog pings,
/// clean stop on SIGTERM), all from the bundle under `root`.
pub fn check(root: &Path, domain_id: u32, latency: Latency) -> Result<Checked, String> {
    let bin = |name: &str| root.join("bin").join(name);
    let verify = run(Command::new(bin("a4mer")).arg("verify").arg(root), "a4mer verify")?;
    let manifest_path = root.join("MANIFEST.json");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&manifest_path).map_err(|e| format!("{}: {e}", manifest_path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let model_rel = manifest["model"]["path"]
        .as_str()
        .ok_or("MANIFEST.json: no model.path")?;
    let model_id = manifest["model"]["id"]
        .as_str()
        .ok_or("MANIFEST.json: no model.id")?
        .to_string();

    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let report = scratch.path().join("selftest.json");
    // From a directory without `data/`: the selftest must find the bundle's own clips.
    // `--node`: the bundle's a4mer_node between a publisher and a subscriber on loopback DDS.
    let mut selftest = Command::new(bin("a4mer"));
    selftest.current_dir(scratch.path()).arg("selftest").arg("--node");
    if latency == Latency::Recorded {
        // Wide enough that only a stalled node or engine fails; the figures are still in
        // the report.
        selftest.args(["--node-p99-ms", "10000", "--push-p99-limit-us", "1000000"]);
    }
    run(
        selftest
            .arg("--model")
            .arg(root.join(model_rel))
            .arg("--report")
            .arg(&report),
        "a4mer selftest",
    )?;
    let selftest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).map_err(|e| format!("{}: {e}", report.display()))?)
            .map_err(|e| format!("selftest report: {e}"))?;

    let env = unit_env(root)?;
    let argv = exec_start(root, &env)?;
    let (ready_after_s, watchdog_pings, node_banner) = start_node(&argv, &env, scratch.path(), domain_id)?;
    Ok(Checked {
        verify,
        selftest,
        model_path: model_rel.to_string(),
        model_id,
        node_banner,
        ready_after_s,
        watchdog_pings,
    })
}

/// Start `argv` with the unit's environment and a notify socket; wait for READY=1 and two
/// watchdog pings; SIGTERM; expect STOPPING=1 and exit 0. Returns (ready after s, pings,
/// the node's start-up line).
fn start_node(
    argv: &[String],
    env: &[(String, String)],
    scratch: &Path,
    domain_id: u32,
) -> Result<(f64, usize, String), String> {
    let socket_path = scratch.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).map_err(|e| format!("{}: {e}", socket_path.display()))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let stderr_path = scratch.join("node.stderr");
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let (program, args) = argv.split_first().ok_or("empty ExecStart")?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        // Loopback only and a domain of our own: never talk to the robot's ROS graph.
        .env("ROS_DOMAIN_ID", domain_id.to_string())
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null())
        .stderr(stderr);
    let mut child = cmd.spawn().map_err(|e| format!("starting {program}: {e}"))?;
    let started = Instant::now();
    let mut got: Vec<(f64, String)> = Vec::new();
    let mut buf = [0u8; 512];
    let mut receive = |got: &mut Vec<(f64, String)>| {
        if let Ok(n) = socket.recv(&mut buf) {
            got.push((
                started.elapsed().as_secs_f64(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
        }
    };
    let pings_after_ready = |got: &[(f64, String)]| {
        got.iter()
            .position(|(_, m)| m.contains("READY=1"))
            .map(|r| got[r..].iter().filter(|(_, m)| m.contains("WATCHDOG=1")).count())
    };
    let outcome = loop {
        receive(&mut got);
        if pings_after_ready(&got).is_some_and(|n| n >= 2) {
            break Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!(
                "the node exited before READY=1 and two watchdog pings: {status}"
            ));
        }
        if started.elapsed() > Duration::from_secs(30) {
            break Err("no READY=1 and two watchdog pings within 30 s".to_string());
        }
    };
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        receive(&mut got);
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            _ if Instant::now() > deadline => {
                let _ = child.kill();
                break None;
            }
            _ => {}
        }
    };
    receive(&mut got);
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    outcome.map_err(|e| format!("{e}\nnode stderr:\n{log}"))?;
    match status {
        Some(s) if s.success() => {}
        Some(s) => return Err(format!("the node exited {s} after SIGTERM\n{log}")),
        None => return Err(format!("the node did not stop within 10 s of SIGTERM\n{log}")),
    }
    if !got.iter().any(|(_, m)| m.contains("STOPPING=1")) {
        return Err(format!("no STOPPING=1 on SIGTERM: {got:?}"));
    }
    let ready = got
        .iter()
        .find(|(_, m)| m.contains("READY=1"))
        .map(|(t, _)| *t)
        .unwrap_or_default();
    let banner = log
        .lines()
        .find(|l| l.contains("model"))
        .unwrap_or_default()
        .to_string();
    Ok((ready, pings_after_ready(&got).unwrap_or(0), banner))
}

/// Unpack a `tar.zst` bundle under `into`, keeping its modes, as `tar --zstd -xf` does.
pub fn unpack(bundle: &Path, into: &Path) -> Result<(), String> {
    let file = std::fs::File::open(bundle).map_err(|e| format!("{}: {e}", bundle.display()))?;
    let decoder = zstd::stream::Decoder::new(file).map_err(|e| format!("{}: {e}", bundle.display()))?;
    tar::Archive::new(decoder)
        .unpack(into)
        .map_err(|e| format!("unpacking {}: {e}", bundle.display()))
}
