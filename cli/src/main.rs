//! `a4mer`: the command-line tool for integrators, field engineers, safety teams and ML
//! engineers.

use clap::{Parser, Subcommand};

mod args;
mod bag_input;
mod bundle;
mod cmd_bench;
mod cmd_bundle;
mod cmd_demo;
mod cmd_eval;
mod cmd_forecast;
mod cmd_import;
mod cmd_quantize;
mod cmd_replay;
mod cmd_selftest;
mod cmd_soak;
mod cmd_verify;
mod selftest_forecasts;
mod selftest_node;
// Training and motif inspection: what an ML engineer runs on a workstation.
mod cmd_motifs;
#[cfg(feature = "training")]
mod cmd_train;
#[cfg(feature = "training")]
mod cmd_train_anticipation;
#[cfg(feature = "training")]
mod cmd_train_interpolation;
mod motifs_plot;

#[derive(Parser)]
#[command(
    name = "a4mer",
    version = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("A4MER_GIT_REVISION"), ")"),
    about = "A4Mer human-motion anticipation: import, evaluate, bundle and verify device bundles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score forecasts on recordings with the standard protocol (MPJPE at 100..1000 ms).
    Eval(cmd_eval::EvalArgs),
    /// Inspect a motion file (--info: joints, SMPL-24 mapping, units, up axis, rate) or convert it
    /// to a rosbag2 bag (--to-bag).
    Import(cmd_import::ImportArgs),
    /// Pack binaries, model, launch files and a SHA-256 manifest into a reproducible device bundle.
    Bundle(cmd_bundle::BundleArgs),
    /// Check a bundle: every hash, nothing missing or extra, binaries built for this machine.
    Verify(cmd_verify::VerifyArgs),
    /// Train A4Mer (self-supervised pre-training + heads) and export an .a4m artifact.
    #[cfg(feature = "training")]
    Train(cmd_train::TrainArgs),
    /// Print atom segments and motif ids over time; over several recordings, how motifs line up with action labels.
    Motifs(cmd_motifs::MotifsArgs),
    /// Time the streaming engine per frame on real mocap (median, p99, max; memory; FLOPs).
    Bench(cmd_bench::BenchArgs),
    /// Run the offline model on one window of a recording (the reference for the Python peers).
    Forecast(cmd_forecast::ForecastArgs),
    /// Replay real mocap to the node over DDS on loopback and watch it anticipate (live view).
    Demo(cmd_demo::DemoArgs),
    /// Replay a rosbag2 bag through the node's engine by bag time: output bag, scores, events,
    /// HTML audit report. Deterministic for the bag and the model.
    Replay(cmd_replay::ReplayArgs),
    /// Soak: millions of frames of looped, augmented real mocap through the per-person engines
    /// with people coming and going; RSS drift, p99 per million frames, non-finite outputs.
    Soak(cmd_soak::SoakArgs),
    /// On the device after flashing: the model loads intact, forecasts the bundled clip as well
    /// as recorded when it was made, and keeps up with 30 Hz. PASS/FAIL and a JSON report.
    Selftest(cmd_selftest::SelftestArgs),
    /// int8 post-training quantization: calibrate through the engine, write an int8 .a4m, report
    /// size, held-out MPJPE, motif agreement and per-frame latency against f32.
    Quantize(cmd_quantize::QuantizeArgs),
}

fn main() {
    end_quietly_when_stdout_closes();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Eval(args) => cmd_eval::run(args),
        Command::Import(args) => cmd_import::run(args),
        Command::Bundle(args) => cmd_bundle::run(args),
        Command::Verify(args) => cmd_verify::run(args),
        #[cfg(feature = "training")]
        Command::Train(args) => cmd_train::run(args),
        Command::Motifs(args) => cmd_motifs::run(args),
        Command::Bench(args) => cmd_bench::run(args),
        Command::Demo(args) => cmd_demo::run(args),
        Command::Replay(args) => cmd_replay::run(args),
        Command::Soak(args) => cmd_soak::run(args),
        Command::Selftest(args) => cmd_selftest::run(args),
        Command::Forecast(args) => cmd_forecast::run(args),
        Command::Quantize(args) => cmd_quantize::run(args),
    };
    if let Err(e) = result {
        eprintln!("a4mer: error: {e:#}");
        std::process::exit(1);
    }
}

/// A reader that stops early (`a4mer motifs ... | head`) ends the command quietly with
/// status 0, as it ends any Unix filter: the reader has what it wanted, nothing failed.
///
/// Rust ignores SIGPIPE, so a write to the closed pipe fails with EPIPE and `println!`
/// panics ("failed printing to stdout: Broken pipe"). Restoring SIGPIPE's default action
/// would instead kill the process by signal (status 141 in a shell, not 0) and would do
/// so for every pipe or socket the process writes, not only stdout. Every subcommand
/// prints through `println!`, so that one panic is recognised here, once; any other
/// panic, and any other failure to print (a full disk behind `>`), reports as before.
fn end_quietly_when_stdout_closes() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload_as_str().is_some_and(is_closed_stdout) {
            std::process::exit(0);
        }
        report(info);
    }));
}

/// Whether a panic message is `println!`'s for stdout failing with a broken pipe. std
/// formats the cause as "<description> (os error N)"; the code, not the localisable
/// description, decides.
fn is_closed_stdout(message: &str) -> bool {
    let Some(cause) = message.strip_prefix("failed printing to stdout: ") else {
        return false;
    };
    cause
        .strip_suffix(')')
        .and_then(|c| c.rsplit_once("(os error "))
        .and_then(|(_, code)| code.parse::<i32>().ok())
        .is_some_and(|code| std::io::Error::from_raw_os_error(code).kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::is_closed_stdout;

    #[test]
    fn only_a_broken_pipe_on_stdout_is_a_closed_stdout() {
        let broken = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let epipe = std::io::Error::from_raw_os_error(32);
        assert_eq!(
            epipe.kind(),
            broken.kind(),
            "EPIPE is 32 on the platforms a4mer runs on"
        );
        assert!(is_closed_stdout(&format!("failed printing to stdout: {epipe}")));
        let full = std::io::Error::from_raw_os_error(28); // ENOSPC: output lost, must be reported
        assert!(!is_closed_stdout(&format!("failed printing to stdout: {full}")));
        assert!(!is_closed_stdout(&format!("failed printing to stderr: {epipe}")));
        assert!(!is_closed_stdout(
            "index out of bounds: the len is 3 but the index is 7"
        ));
    }
}
