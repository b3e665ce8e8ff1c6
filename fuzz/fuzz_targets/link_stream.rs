//! Arbitrary bytes on the serial line, fed to the MCU's receiver one by one, and the whole
//! input to the stateless decoder. Nothing may panic; every frame end is either accepted or
//! counted as dropped; an accepted frame re-encodes and decodes to itself.
#![no_main]

use a4mer_firmware::link::{LinkReceiver, MAX_WIRE_LEN, decode_frame, encode_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rx = LinkReceiver::new();
    let mut ends = 0u32;
    for &b in data {
        let Some(result) = rx.push(b) else { continue };
        ends += 1;
        if let Ok(frame) = result {
            let mut wire = [0u8; MAX_WIRE_LEN];
            let n = encode_frame(&frame, &mut wire).expect("an accepted frame re-encodes");
            let again = decode_frame(&mut wire[..n - 1]).expect("a re-encoded frame decodes");
            assert_eq!(again, frame);
        }
    }
    let c = rx.counters();
    assert_eq!(c.accepted + c.dropped(), ends);

    let mut whole = data.to_vec();
    let _ = decode_frame(&mut whole);
});
