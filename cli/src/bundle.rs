//! Device bundles: one reproducible `tar.zst` per device with the binaries, the model,
//! launch and parameter files and a manifest of SHA-256 hashes; and their verification.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use a4mer_runtime::artifact::Artifact;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "MANIFEST.json";
pub const FORMAT: u32 = 1;
/// Refuse bundles that unpack larger than this: a device bundle is tens of MB.
const MAX_UNPACKED_BYTES: u64 = 2 << 30;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub executable: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelEntry {
    pub path: String,
    pub sha256: String,
    /// The model's id: the first 16 hex digits of its SHA-256, as the node reports it in
    /// `/diagnostics` (`hardware_id: model sha256 <id>`).
    pub id: String,
    /// The artifact's format version, and `int8` or `f32`.
    pub format_version: u32,
    pub precision: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    pub version: String,
    pub git_revision: String,
    pub target: String,
    pub model: ModelEntry,
    pub files: Vec<FileEntry>,
}

pub use a4mer_runtime::digest::sha256_hex;

/// What goes into a bundle, by path inside it.
pub struct Contents {
    pub files: BTreeMap<String, (Vec<u8>, bool)>,
}

impl Contents {
    pub fn new() -> Self {
        Self { files: BTreeMap::new() }
    }

    pub fn add_file(&mut self, inside: &str, from: &Path, executable: bool) -> Result<()> {
        let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
        self.add_bytes(inside, bytes, executable);
        Ok(())
    }

    pub fn add_bytes(&mut self, inside: &str, bytes: Vec<u8>, executable: bool) {
        self.files.insert(inside.to_string(), (bytes, executable));
    }

    /// Every file under `dir`, placed under `inside/`.
    pub fn add_dir(&mut self, inside: &str, dir: &Path) -> Result<()> {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(dir).unwrap_or(&path);
                    let name = format!("{inside}/{}", rel.to_string_lossy());
                    let executable = is_executable(&path);
                    self.add_file(&name, &path, executable)?;
                }
            }
        }
        Ok(())
    }
}

impl Default for Contents {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

/// Write `contents` and their manifest as a reproducible `tar.zst`: sorted entries, fixed
/// mtimes, owner and modes, so the same inputs give the same bytes.
pub fn write_bundle(out: &Path, manifest_base: Manifest, contents: &Contents, zstd_level: i32) -> Result<Manifest> {
    let mut manifest = manifest_base;
    manifest.files = contents
        .files
        .iter()
        .map(|(path, (bytes, executable))| FileEntry {
            path: path.clone(),
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
            executable: *executable,
        })
        .collect();
    let manifest_json = serde_json::to_vec_pretty(&manifest)?;

    let tmp = out.with_extension("partial");
    let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let encoder = zstd::stream::Encoder::new(file, zstd_level)?;
    let mut tar = tar::Builder::new(encoder);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut append = |path: &str, bytes: &[u8], executable: bool| -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(if executable { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, bytes)
            .with_context(|| format!("adding {path} to {}", out.display()))
    };
    append(MANIFEST, &manifest_json, false)?;
    for (path, (bytes, executable)) in &contents.files {
        append(path, bytes, *executable)?;
    }
    let encoder = tar.into_inner()?;
    encoder.finish()?.sync_all()?;
    std::fs::rename(&tmp, out).with_context(|| format!("moving bundle into place at {}", out.display()))?;
    Ok(manifest)
}

/// A bundle's files as read back, by path.
pub struct Unpacked {
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Read a `tar.zst` bundle or an unpacked bundle directory.
pub fn read_bundle(path: &Path) -> Result<Unpacked> {
    let mut files = BTreeMap::new();
    if path.is_dir() {
        let mut c = Contents::new();
        c.add_dir("", path)?;
        for (name, (bytes, _)) in c.files {
            files.insert(name.trim_start_matches('/').to_string(), bytes);
        }
        return Ok(Unpacked { files });
    }
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let decoder = zstd::stream::Decoder::new(file).with_context(|| format!("{}: not a zstd stream", path.display()))?;
    let mut archive = tar::Archive::new(decoder.take(MAX_UNPACKED_BYTES));
    let mut total = 0u64;
    for entry in archive
        .entries()
        .with_context(|| format!("{}: not a tar archive", path.display()))?
    {
        let mut entry = entry.with_context(|| format!("{}: damaged or truncated archive", path.display()))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry.path()?.to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("{}: damaged or truncated at {name}", path.display()))?;
        total += bytes.len() as u64;
        if total >= MAX_UNPACKED_BYTES {
            bail!("{}: unpacks to more than {} bytes", path.display(), MAX_UNPACKED_BYTES);
        }
        files.insert(name, bytes);
    }
    Ok(Unpacked { files })
}

/// `int8` or `f32`: what a model runs in.
pub fn precision(a: &Artifact) -> &'static str {
    if a.is_int8() { "int8" } else { "f32" }
}

/// The CPU architecture an executable was built for, in Rust's `target_arch` spelling.
pub fn binary_arch(bytes: &[u8]) -> Option<&'static str> {
    use object::{Architecture, Object};
    let file = object::File::parse(bytes).ok()?;
    Some(match file.architecture() {
        Architecture::X86_64 => "x86_64",
        Architecture::Aarch64 => "aarch64",
        Architecture::Arm => "arm",
        Architecture::Riscv64 => "riscv64",
        _ => "other",
    })
}

/// Checks that the MCU image loads into the board's memory (MPS2 AN386: code and read-only
/// data in SSRAM1 at 0, RAM in SSRAM2/3 at 0x2000_0000) and starts in its code region: an image
/// linked for another board (e.g. the STM32-class stub example) would run nowhere. Returns
/// what was checked, or which segment lies outside.
pub fn mcu_memory_map(bytes: &[u8]) -> Result<String, String> {
    use a4mer_mcu_mps2_an386::{CODE, DATA};
    use object::{Object, ObjectSegment};
    let file = object::File::parse(bytes).map_err(|e| format!("not an ELF image: {e}"))?;
    let (mut code, mut data, mut segments) = (0u64, 0u64, 0usize);
    for seg in file.segments() {
        let (start, size) = (seg.address(), seg.size());
        if size == 0 {
            continue;
        }
        let end = start
            .checked_add(size)
            .ok_or_else(|| format!("segment at {start:#010x} wraps the address space"))?;
        if CODE.contains(&start) && end <= CODE.end {
            code += size;
        } else if DATA.contains(&start) && end <= DATA.end {
            data += size;
        } else {
            return Err(format!(
                "segment {start:#010x}..{end:#010x} is outside the MPS2 AN386's code ({:#010x}..{:#010x}) and data ({:#010x}..{:#010x}) regions: built for another board",
                CODE.start, CODE.end, DATA.start, DATA.end
            ));
        }
        segments += 1;
    }
    if segments == 0 {
        return Err("no loadable segment".into());
    }
    let entry = file.entry();
    if !CODE.contains(&entry) {
        return Err(format!("entry point {entry:#010x} is outside the code region"));
    }
    Ok(format!(
        "MPS2 AN386: {segments} segments, {code} B in code (SSRAM1 at 0), {data} B in data (SSRAM2/3 at 0x20000000), entry {entry:#x}"
    ))
}

/// The newest `GLIBC_x.y` symbol version a dynamically linked executable asks for (its
/// version-needs strings), e.g. (2, 35): the device's glibc must be at least that.
pub fn needed_glibc(bytes: &[u8]) -> Option<(u32, u32)> {
    const TAG: &[u8] = b"GLIBC_2.";
    let mut best = None;
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(TAG.len()).position(|w| w == TAG) {
        let start = i + pos + TAG.len();
        let digits = bytes[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        // A version name ends the string: `GLIBC_2.35\0` (not `GLIBC_2.35.1` or text).
        if digits > 0 && bytes.get(start + digits) == Some(&0) {
            // One unreadable string does not hide the others.
            if let Some(minor) = std::str::from_utf8(&bytes[start..start + digits])
                .ok()
                .and_then(|d| d.parse::<u32>().ok())
            {
                best = best.max(Some((2, minor)));
            }
        }
        i = start;
    }
    best
}

/// The glibc of each JetPack line's Ubuntu base: what a device binary must run on.
pub const JETPACK_GLIBC: [(&str, (u32, u32)); 2] = [
    ("JetPack 5 (Ubuntu 20.04)", (2, 31)),
    ("JetPack 6 (Ubuntu 22.04)", (2, 35)),
];

/// Which JetPack lines a binary needing glibc `need` runs on, in words, and whether it
/// runs on any of them.
pub fn jetpack_fit(need: (u32, u32)) -> (bool, String) {
    let fits: Vec<String> = JETPACK_GLIBC
        .iter()
        .map(|(name, have)| {
            let verdict = if need <= *have { "runs" } else { "does not run" };
            format!("{verdict} on {name}, glibc {}.{}", have.0, have.1)
        })
        .collect();
    let any = JETPACK_GLIBC.iter().any(|(_, have)| need <= *have);
    (any, fits.join("; "))
}

/// This machine's glibc version, from `getconf GNU_LIBC_VERSION` ("glibc 2.35"); None on
/// a system without glibc.
pub fn machine_glibc() -> Option<(u32, u32)> {
    let out = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    Some((major.parse().ok()?, minor.split('.').next()?.parse().ok()?))
}

/// The `target_arch` part of a target triple.
pub fn triple_arch(triple: &str) -> &str {
    triple.split('-').next().unwrap_or(triple)
}

/// One verification result line.
pub struct Check {
    pub ok: bool,
    pub what: String,
    pub detail: String,
}

/// Check a bundle against its manifest: every hash and size, nothing extra, nothing
/// missing, binaries built for `machine_arch`.
pub fn verify(unpacked: &Unpacked, machine_arch: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |ok: bool, what: String, detail: String| checks.push(Check { ok, what, detail });
    let Some(raw) = unpacked.files.get(MANIFEST) else {
        check(false, MANIFEST.into(), "missing: not an a4mer bundle".into());
        return checks;
    };
    let manifest: Manifest = match serde_json::from_slice(raw) {
        Ok(m) => m,
        Err(e) => {
            check(false, MANIFEST.into(), format!("unreadable: {e}"));
            return checks;
        }
    };
    check(
        manifest.format == FORMAT,
        "bundle format".into(),
        format!("{} (this a4mer reads {FORMAT})", manifest.format),
    );
    check(
        true,
        "bundle".into(),
        format!(
            "{} {} for {}, git {}",
            manifest.name, manifest.version, manifest.target, manifest.git_revision
        ),
    );
    for entry in &manifest.files {
        match unpacked.files.get(&entry.path) {
            None => check(false, entry.path.clone(), "listed in the manifest but missing".into()),
            Some(bytes) => {
                let sha = sha256_hex(bytes);
                let ok = sha == entry.sha256 && bytes.len() as u64 == entry.bytes;
                let detail = if ok {
                    format!("sha256 {}", &sha[..16])
                } else {
                    format!(
                        "sha256 {} ({} bytes) does not match the manifest's {} ({} bytes)",
                        &sha[..16],
                        bytes.len(),
                        &entry.sha256[..entry.sha256.len().min(16)],
                        entry.bytes
                    )
                };
                check(ok, entry.path.clone(), detail);
                if entry.executable && entry.path.starts_with("bin/") {
                    let arch = binary_arch(bytes).unwrap_or("not an executable");
                    let expected = if machine_arch == std::env::consts::ARCH {
                        "this machine is"
                    } else {
                        "--arch is"
                    };
                    check(
                        arch == machine_arch,
                        format!("{} architecture", entry.path),
                        format!("built for {arch}, {expected} {machine_arch}"),
                    );
                    if let Some(need) = needed_glibc(bytes) {
                        let (on_jetpack, jetpack) = jetpack_fit(need);
                        // The machine's own glibc only decides on the device itself (or a
                        // machine of its arch); elsewhere the JetPack lines do.
                        let have = (arch == std::env::consts::ARCH).then(machine_glibc).flatten();
                        let (ok, detail) = match have {
                            Some(have) => (
                                need <= have,
                                format!(
                                    "needs glibc {}.{}, this machine has {}.{}",
                                    need.0, need.1, have.0, have.1
                                ),
                            ),
                            None if arch == "aarch64" => (
                                on_jetpack,
                                format!("needs glibc {}.{} or newer: {jetpack}", need.0, need.1),
                            ),
                            None => (true, format!("needs glibc {}.{} or newer", need.0, need.1)),
                        };
                        check(ok, format!("{} C library", entry.path), detail);
                        if arch == "aarch64" && have.is_some() {
                            check(true, format!("{} JetPack", entry.path), jetpack);
                        }
                    }
                }
                if entry.path.starts_with("firmware/") {
                    let arch = binary_arch(bytes).unwrap_or("not an ELF image");
                    check(
                        arch == "arm",
                        format!("{} architecture", entry.path),
                        format!("built for {arch}; the safety MCU is arm (Cortex-M4F)"),
                    );
                    let (ok, detail) = match mcu_memory_map(bytes) {
                        Ok(d) => (true, d),
                        Err(e) => (false, e),
                    };
                    check(ok, format!("{} memory map", entry.path), detail);
                }
            }
        }
    }
    for name in unpacked.files.keys() {
        if name != MANIFEST && !manifest.files.iter().any(|e| &e.path == name) {
            check(false, name.clone(), "present but not in the manifest".into());
        }
    }
    let keys: Vec<&String> = unpacked
        .files
        .iter()
        .filter(|(_, bytes)| holds_private_key(bytes))
        .map(|(name, _)| name)
        .collect();
    check(
        keys.is_empty(),
        "private keys".into(),
        if keys.is_empty() {
            "none: an enclave's key.pem is provisioned on the device, never shipped".into()
        } else {
            format!(
                "{} hold a private key; a bundle may carry an enclave's public artifacts only",
                keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            )
        },
    );
    match unpacked.files.get(&manifest.model.path) {
        Some(bytes) => match Artifact::from_bytes(bytes, &manifest.model.path) {
            Ok(a) => check(
                true,
                "model integrity".into(),
                format!(
                    "{}: SHA-256 verified, format version {}, {}",
                    manifest.model.path,
                    a.format_version,
                    precision(&a)
                ),
            ),
            Err(e) => check(false, "model integrity".into(), e.to_string()),
        },
        None => check(
            false,
            "model integrity".into(),
            format!("{}: named by the manifest but missing", manifest.model.path),
        ),
    }
    let model_listed = manifest
        .files
        .iter()
        .any(|e| e.path == manifest.model.path && e.sha256 == manifest.model.sha256);
    check(
        model_listed,
        "model".into(),
        format!(
            "{} id {} (listed with its SHA-256)",
            manifest.model.path, manifest.model.id
        ),
    );
    checks
}

/// Whether `bytes` hold a PEM private key: a `-----BEGIN ... PRIVATE KEY-----` line with a
/// base64 body after it (a binary that only names the label does not count).
pub fn holds_private_key(bytes: &[u8]) -> bool {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const LABEL_END: &[u8] = b"PRIVATE KEY-----";
    let mut from = 0;
    while let Some(at) = find(&bytes[from..], BEGIN).map(|i| from + i) {
        let line_end = bytes[at..].iter().take(80).position(|&b| b == b'\n').map(|i| at + i);
        if let Some(end) = line_end {
            let header = bytes[at..end].strip_suffix(b"\r").unwrap_or(&bytes[at..end]);
            let body = bytes[end + 1..]
                .iter()
                .take(64)
                .take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b));
            if header.ends_with(LABEL_END) && body.count() >= 40 {
                return true;
            }
        }
        from = at + BEGIN.len();
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Default directory of deployment binaries for `target`.
pub fn default_bin_dir(target: &str) -> PathBuf {
    cargo_target_dir().join(target).join("dist")
}

/// `$CARGO_TARGET_DIR`, or `target` as cargo defaults it.
pub fn cargo_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jetpack_lines_follow_the_glibc_a_binary_needs() {
        let (ok, text) = jetpack_fit((2, 31));
        assert!(ok);
        assert!(
            text.contains("runs on JetPack 5") && text.contains("runs on JetPack 6"),
            "{text}"
        );
        let (ok, text) = jetpack_fit((2, 35));
        assert!(ok);
        assert!(
            text.contains("does not run on JetPack 5 (Ubuntu 20.04), glibc 2.31") && text.contains("runs on JetPack 6"),
            "{text}"
        );
        let (ok, text) = jetpack_fit((2, 38));
        assert!(!ok, "{text}");
    }

    #[test]
    fn the_newest_glibc_version_string_is_found() {
        let bytes = b"\0GLIBC_2.17\0GLIBC_2.31\0GLIBC_2.28\0GLIBC_2.4x\0GLIBC_PRIVATE\0";
        assert_eq!(needed_glibc(bytes), Some((2, 31)));
        assert_eq!(needed_glibc(b"no versions here"), None);
    }

    /// A minimal ELF32 ARM executable: entry point and (address, size) load segments.
    fn arm_elf(entry: u32, segments: &[(u32, u32)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0");
        b.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        b.extend_from_slice(&40u16.to_le_bytes()); // EM_ARM
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&entry.to_le_bytes());
        b.extend_from_slice(&52u32.to_le_bytes()); // e_phoff
        b.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
        b.extend_from_slice(&0x0500_0400u32.to_le_bytes()); // EABI5, hard float
        for v in [52u16, 32, segments.len() as u16, 40, 0, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for &(addr, size) in segments {
            for v in [1u32, 0, addr, addr, 0, size, 6, 4] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        b
    }

    #[test]
    fn the_mcu_image_must_load_into_the_boards_memory() {
        let board = arm_elf(0x401, &[(0, 0x400), (0x400, 0x1_0000), (0x2000_0000, 0x2000)]);
        assert_eq!(binary_arch(&board), Some("arm"));
        let ok = mcu_memory_map(&board).expect("the MPS2 AN386 map");
        assert!(ok.contains("3 segments") && ok.contains("8192 B in data"), "{ok}");

        // The STM32-class stub example: flash at 0x0800_0000.
        let stub = arm_elf(0x0800_0401, &[(0x0800_0000, 0x1_0000), (0x2000_0000, 0x2000)]);
        let err = mcu_memory_map(&stub).expect_err("another board's map");
        assert!(
            err.contains("0x08000000..0x08010000") && err.contains("another board"),
            "{err}"
        );

        let over = arm_elf(0x401, &[(0, 0x400), (0x2000_0000, 0x50_0000)]);
        assert!(mcu_memory_map(&over).is_err(), "RAM past SSRAM2/3");
        let entry = arm_elf(0x2000_0001, &[(0, 0x400)]);
        assert!(
            mcu_memory_map(&entry)
                .expect_err("entry in RAM")
                .contains("entry point")
        );
        assert!(mcu_memory_map(b"not an elf").is_err());
    }
}
