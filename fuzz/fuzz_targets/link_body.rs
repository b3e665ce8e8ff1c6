//! Arbitrary CBOR bodies wrapped in a valid version byte, CRC and COBS framing, so the fuzzer
//! reaches the CBOR decoder (serde_cbor, RUSTSEC-2021-0127) instead of stopping at the CRC.
#![no_main]

use a4mer_firmware::link::{MAX_WIRE_LEN, PROTOCOL_VERSION, decode_frame, encode_frame};
use crc::{CRC_32_ISO_HDLC, Crc};
use libfuzzer_sys::fuzz_target;

const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

fuzz_target!(|body: &[u8]| {
    let mut raw = Vec::with_capacity(body.len() + 5);
    raw.push(PROTOCOL_VERSION);
    raw.extend_from_slice(body);
    let crc = CRC32.checksum(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    let mut wire = vec![0u8; cobs::max_encoding_length(raw.len())];
    let n = cobs::encode(&raw, &mut wire);

    if let Ok(frame) = decode_frame(&mut wire[..n]) {
        let mut out = [0u8; MAX_WIRE_LEN];
        let m = encode_frame(&frame, &mut out).expect("a decoded frame re-encodes");
        assert_eq!(decode_frame(&mut out[..m - 1]), Ok(frame));
    }
});
