//! The safety-MCU link over a real serial port (`A4MER_HW_SERIAL`, with a loopback plug or
//! `A4MER_HW_SERIAL_PEER` wired to its far end), and its host twin over a pseudo-terminal
//! pair: every frame the node's writer sends arrives intact at the firmware's receiver.

use a4mer_hw_tests::serial::{LinkRun, assert_intact, open_reader, pty_pair, run};
use a4mer_hw_tests::{SERIAL_PEER_VAR, SERIAL_VAR, env_var, skip};

fn report(what: &str, r: &LinkRun) {
    println!(
        "{what}: {} frames offered, {} written, {} accepted, {} dropped, {} bytes in {:.1} s ({:.0} B/s)",
        r.offered,
        r.sender.frames_sent,
        r.receiver.accepted,
        r.receiver.dropped(),
        r.bytes,
        r.seconds,
        r.bytes as f64 / r.seconds
    );
}

#[test]
fn a_real_serial_port_carries_every_link_frame() {
    let Some(device) = env_var(SERIAL_VAR) else {
        return skip(
            "serial",
            &format!("{SERIAL_VAR} is not set (e.g. {SERIAL_VAR}=/dev/ttyTHS1 with a loopback plug)"),
        );
    };
    let peer = env_var(SERIAL_PEER_VAR);
    let baud: u32 = env_var("A4MER_HW_SERIAL_BAUD")
        .map(|b| b.parse().expect("A4MER_HW_SERIAL_BAUD: a number"))
        .unwrap_or(921_600);
    let reader = open_reader(&device, peer.as_deref(), baud).unwrap_or_else(|e| panic!("{e}"));
    let r = run(&device, baud, reader, 5.0).unwrap_or_else(|e| panic!("{e}"));
    report(&format!("{device} at {baud} baud"), &r);
    assert_intact(&r);
}

#[test]
fn host_twin_a_pty_pair_carries_every_link_frame() {
    let (device, master, _slave) = pty_pair().unwrap();
    let r = run(&device, 921_600, Box::new(master), 3.0).unwrap();
    report("pty pair", &r);
    // `assert_intact` but for its share of offers written: on a shared host that measures
    // the scheduler (a late writer replaces a frame with a newer one, as designed). Every
    // offer is accounted for instead.
    let s = &r.sender;
    assert!(
        s.frames_sent + s.frames_superseded + 1 >= r.offered && s.frames_sent >= 1,
        "{r:#?}"
    );
    assert_eq!(s.write_errors, 0, "{r:#?}");
    assert_eq!(r.receiver.dropped(), 0, "frames dropped on the line: {r:#?}");
    assert!(u64::from(r.receiver.accepted) + 1 >= s.frames_sent, "{r:#?}");
    assert_eq!(r.matched as u32, r.receiver.accepted, "{r:#?}");
}
