//! The host side of the emulation bench: plays the Jetson on the emulated board's UART0 (a
//! TCP socket QEMU serves), sends frames made by the firmware crate's own encoder, reads the
//! board's `Decision` frames back, and checks them against the same monitor and SSM run on the
//! host. Prints one JSON line last: per scenario, pass/fail and figures (times are the board's
//! own clock, i.e. emulated time). Started by `scripts/mcu-emulated.sh`, which starts QEMU.
//!
//! `cargo run -p a4mer-mcu-mps2-an386 --example emulate -- PORT`
//! `cargo run -p a4mer-mcu-mps2-an386 --example emulate -- --stall PORT` (the board there runs
//! the `stall-test` image, whose safety loop hangs 1 s after boot: prints the one scenario
//! that checks the hardware watchdog resets it)

mod line;
mod scenarios;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let stall = args.first().is_some_and(|a| a == "--stall");
    if stall {
        args.remove(0);
    }
    let port: u16 = args
        .first()
        .context("usage: emulate [--stall] PORT (QEMU's UART0 socket)")?
        .parse()
        .context("PORT must be a TCP port number")?;
    if stall {
        let result = scenarios::watchdog_reset(port)?;
        println!("{result}");
        if result["pass"] != json!(true) {
            std::process::exit(1);
        }
        return Ok(());
    }
    let mut line = line::Line::open(port)?;
    // The board boots before the bench connects; its heartbeat (every 100 ms) says it runs.
    let Some(first) = line.wait_for(0, Duration::from_secs(20), |_| true) else {
        bail!("no decision from the board within 20 s: is the image running?")
    };
    eprintln!(
        "board up: decision #{} at {} us, {:?} ({:?})",
        first.seq, first.at_us, first.mode, first.reason
    );

    let mut sender = scenarios::Sender::new();
    let results = vec![
        scenarios::normal(&mut line, &mut sender)?,
        scenarios::sender_stops(&mut line, &mut sender)?,
        scenarios::garbage(&mut line, &mut sender)?,
        scenarios::degraded(&mut line, &mut sender)?,
        scenarios::cut_and_restore(&mut line, &mut sender)?,
    ];
    let pass = results.iter().all(|r| r["pass"] == json!(true));
    let undecodable = line.log.lock().map(|l| l.undecodable).unwrap_or(0);
    println!(
        "{}",
        json!({
            "board": "mps2-an386",
            "pass": pass,
            "undecodable_decision_runs": undecodable,
            "scenarios": results,
        })
    );
    if !pass {
        std::process::exit(1);
    }
    Ok(())
}
