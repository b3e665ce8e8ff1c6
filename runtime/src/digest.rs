//! SHA-256 as every provenance record, manifest and report writes it: lowercase hex.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// A file's SHA-256, read in blocks (recordings and bags can be large).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(to_hex(&h.finalize()))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = std::env::temp_dir().join(format!("a4mer-digest-{}", std::process::id()));
        std::fs::write(&dir, vec![7u8; 200_000]).unwrap();
        assert_eq!(sha256_file(&dir).unwrap(), sha256_hex(&vec![7u8; 200_000]));
        std::fs::remove_file(&dir).unwrap();
        assert!(sha256_file(Path::new("/no/such/file")).is_err());
    }
}
