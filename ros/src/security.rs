//! SROS2 (DDS Security) as rcl configures it, before any DDS entity exists.
//!
//! rcl's rules (`rcl/src/rcl/security.c`): security is on only when `ROS_SECURITY_ENABLE`
//! is exactly `true`; only `ROS_SECURITY_STRATEGY=Enforce` enforces; the enclave is
//! `ROS_SECURITY_ENCLAVE_OVERRIDE`, else `--ros-args --enclave`, else `/`; its directory
//! is `$ROS_SECURITY_KEYSTORE/enclaves/<enclave>`, holding the six files rmw_dds_common
//! names. With those files missing, Enforce refuses to start and Permissive runs
//! unsecured.
//!
//! Files that are present but wrong are refused in both modes, because Permissive only
//! forgives a node that has no credentials at all. The checks here are the ones the DDS
//! layer skips or words badly: the certificates' validity dates (RustDDS never reads
//! them), a private key with a password (RustDDS cannot use one), and documents that are
//! not S/MIME signed. Signatures and grants are verified by the DDS layer itself.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use x509_cert::Certificate;
use x509_cert::der::DecodePem;

/// The enclave's files, named as rmw_dds_common's `get_security_files` names them.
pub const ENCLAVE_FILES: [&str; 6] = [
    "identity_ca.cert.pem",
    "cert.pem",
    "key.pem",
    "permissions_ca.cert.pem",
    "governance.p7s",
    "permissions.p7s",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    Enforce,
    #[default]
    Permissive,
}

/// The security variables of the environment, read by rcl's rules.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SecurityEnv {
    /// `ROS_SECURITY_ENABLE` is exactly `true`.
    pub enabled: bool,
    /// `ROS_SECURITY_STRATEGY`: exactly `Enforce`, or Permissive.
    pub strategy: Strategy,
    /// `ROS_SECURITY_KEYSTORE`, when set and not empty.
    pub keystore: Option<PathBuf>,
    /// `ROS_SECURITY_ENCLAVE_OVERRIDE`, when set and not empty.
    pub enclave_override: Option<String>,
    /// `ROS_SECURITY_ENABLE` set to anything but `true` (`True`, `1`): off, as in rcl, and
    /// said at start-up so the typo is seen.
    pub enable_ignored: Option<String>,
}

impl SecurityEnv {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        // rcl compares the raw values (strcmp), so no trimming here.
        let raw_enable = lookup("ROS_SECURITY_ENABLE").filter(|v| !v.is_empty());
        let enabled = raw_enable.as_deref() == Some("true");
        let strategy = match lookup("ROS_SECURITY_STRATEGY").as_deref() {
            Some("Enforce") => Strategy::Enforce,
            _ => Strategy::Permissive,
        };
        let non_empty = |k: &str| lookup(k).filter(|v| !v.is_empty());
        Self {
            enabled,
            strategy,
            keystore: non_empty("ROS_SECURITY_KEYSTORE").map(PathBuf::from),
            enclave_override: non_empty("ROS_SECURITY_ENCLAVE_OVERRIDE"),
            enable_ignored: raw_enable.filter(|_| !enabled),
        }
    }
}

impl SecurityEnv {
    /// The variables that reproduce this environment in a child process (`None`: unset).
    pub fn vars(&self) -> [(&'static str, Option<String>); 4] {
        [
            ("ROS_SECURITY_ENABLE", self.enabled.then(|| "true".into())),
            (
                "ROS_SECURITY_STRATEGY",
                (self.strategy == Strategy::Enforce).then(|| "Enforce".into()),
            ),
            (
                "ROS_SECURITY_KEYSTORE",
                self.keystore.as_ref().map(|k| k.display().to_string()),
            ),
            ("ROS_SECURITY_ENCLAVE_OVERRIDE", self.enclave_override.clone()),
        ]
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecurityError {
    #[error("SECURITY ERROR: enclave `{enclave}`: {reason}")]
    Enclave { enclave: String, reason: String },
    #[error("SECURITY ERROR: ROS_SECURITY_STRATEGY=Enforce but ROS_SECURITY_KEYSTORE is not set")]
    NoKeystore,
    #[error("SECURITY ERROR: directory '{}' does not exist.", .0.display())]
    NoEnclaveDir(PathBuf),
    #[error("SECURITY ERROR: {}: missing (an enclave needs {})", .0.display(), ENCLAVE_FILES.join(", "))]
    MissingFile(PathBuf),
    #[error(
        "SECURITY ERROR: ROS_SECURITY_STRATEGY=Enforce, but this a4mer_node was built without DDS Security (cargo feature `sros2`)"
    )]
    Unsupported,
    #[error("SECURITY ERROR: {}: {reason}", file.display())]
    BadFile { file: PathBuf, reason: String },
}

/// What the node's DDS participant runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityPlan {
    /// Security not asked for.
    Off { note: Option<String> },
    /// DDS Security with the enclave's files in `dir`.
    Secured {
        strategy: Strategy,
        enclave: String,
        dir: PathBuf,
    },
    /// Permissive, with no usable credentials: unsecured, and said in `/diagnostics`.
    Unsecured { enclave: String, reason: String },
}

impl SecurityPlan {
    /// Not asked for (tools, tests and the demo's own peers).
    pub const OFF: Self = Self::Off { note: None };

    /// How the participant runs, in a word or two: `off`, `enforce`, `permissive`, or
    /// `permissive, UNSECURED`.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::Off { .. } => "off",
            Self::Secured {
                strategy: Strategy::Enforce,
                ..
            } => "enforce",
            Self::Secured { .. } => "permissive",
            Self::Unsecured { .. } => "permissive, UNSECURED",
        }
    }

    /// The enclave, when security was asked for.
    pub fn enclave(&self) -> Option<&str> {
        match self {
            Self::Off { .. } => None,
            Self::Secured { enclave, .. } | Self::Unsecured { enclave, .. } => Some(enclave),
        }
    }

    /// One line for the start-up log and `/diagnostics`.
    pub fn summary(&self) -> String {
        match self {
            Self::Off { note: None } => "off".into(),
            Self::Off { note: Some(n) } => format!("off ({n})"),
            Self::Secured { enclave, .. } => format!("{} (enclave {enclave})", self.mode()),
            Self::Unsecured { enclave, reason } => format!("{} (enclave {enclave}): {reason}", self.mode()),
        }
    }

    /// The enclave directory the participant must load, when secured.
    pub fn enclave_dir(&self) -> Option<&Path> {
        match self {
            Self::Secured { dir, .. } => Some(dir),
            _ => None,
        }
    }
}

/// Decide how the node runs from `env`, the `--enclave` argument, whether this build's DDS
/// layer has security, and the time certificates are checked against.
pub fn plan(
    env: &SecurityEnv,
    enclave_arg: Option<&str>,
    dds_has_security: bool,
    now: SystemTime,
) -> Result<SecurityPlan, SecurityError> {
    if !env.enabled {
        return Ok(SecurityPlan::Off {
            note: env
                .enable_ignored
                .as_ref()
                .map(|v| format!("ROS_SECURITY_ENABLE={v} is not `true`, so security is off, as in rcl")),
        });
    }
    let enclave = env
        .enclave_override
        .as_deref()
        .or(enclave_arg)
        .unwrap_or("/")
        .to_string();
    check_enclave_name(&enclave)?;
    let enforce = env.strategy == Strategy::Enforce;
    // Permissive forgives missing credentials only: the node runs unsecured and says why.
    let missing = |err: SecurityError| {
        if enforce {
            Err(err)
        } else {
            Ok(SecurityPlan::Unsecured {
                enclave: enclave.clone(),
                reason: err.to_string().trim_start_matches("SECURITY ERROR: ").to_string(),
            })
        }
    };
    let Some(keystore) = &env.keystore else {
        return missing(SecurityError::NoKeystore);
    };
    let dir = enclave_dir(keystore, &enclave);
    if !dir.is_dir() {
        return missing(SecurityError::NoEnclaveDir(dir));
    }
    if let Some(file) = ENCLAVE_FILES.iter().map(|f| dir.join(f)).find(|p| !p.is_file()) {
        return missing(SecurityError::MissingFile(file));
    }
    if !dds_has_security {
        return missing(SecurityError::Unsupported);
    }
    for cert in ["cert.pem", "identity_ca.cert.pem", "permissions_ca.cert.pem"] {
        check_certificate(&dir.join(cert), now)?;
    }
    check_private_key(&dir.join("key.pem"))?;
    for doc in ["governance.p7s", "permissions.p7s"] {
        check_signed(&dir.join(doc))?;
    }
    Ok(SecurityPlan::Secured {
        strategy: env.strategy,
        enclave,
        dir,
    })
}

/// `<keystore>/enclaves/<enclave without its leading />`; `/` is `enclaves` itself.
pub fn enclave_dir(keystore: &Path, enclave: &str) -> PathBuf {
    let rel = enclave.trim_start_matches('/');
    let root = keystore.join("enclaves");
    if rel.is_empty() { root } else { root.join(rel) }
}

/// An enclave is an absolute ROS namespace: `/`, or `/` then tokens of letters, digits and
/// `_` that do not start with a digit, joined by `/`.
fn check_enclave_name(enclave: &str) -> Result<(), SecurityError> {
    let bad = |reason: &str| SecurityError::Enclave {
        enclave: enclave.into(),
        reason: reason.into(),
    };
    let Some(rest) = enclave.strip_prefix('/') else {
        return Err(bad("must start with /"));
    };
    if rest.is_empty() {
        return Ok(());
    }
    for token in rest.split('/') {
        let mut chars = token.chars();
        match chars.next() {
            None => return Err(bad("has an empty token (// or a trailing /)")),
            Some(c) if c.is_ascii_digit() => return Err(bad("a token starts with a digit")),
            _ => {}
        }
        if !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad("only letters, digits, _ and / are allowed"));
        }
    }
    Ok(())
}

fn read(file: &Path) -> Result<Vec<u8>, SecurityError> {
    std::fs::read(file).map_err(|e| SecurityError::BadFile {
        file: file.into(),
        reason: format!("cannot read: {e}"),
    })
}

fn check_certificate(file: &Path, now: SystemTime) -> Result<(), SecurityError> {
    let bad = |reason: String| SecurityError::BadFile {
        file: file.into(),
        reason,
    };
    let cert = Certificate::from_pem(read(file)?).map_err(|e| bad(format!("not a PEM X.509 certificate: {e}")))?;
    let validity = cert.tbs_certificate().validity();
    if now < validity.not_before.to_system_time() {
        return Err(bad(format!("not valid before {}", validity.not_before)));
    }
    if now > validity.not_after.to_system_time() {
        return Err(bad(format!("expired at {}", validity.not_after)));
    }
    Ok(())
}

fn check_private_key(file: &Path) -> Result<(), SecurityError> {
    let text = String::from_utf8_lossy(&read(file)?).into_owned();
    let bad = |reason: &str| SecurityError::BadFile {
        file: file.into(),
        reason: reason.into(),
    };
    if text.contains("ENCRYPTED") {
        return Err(bad(
            "the key has a password; DDS Security here needs an unencrypted key, as sros2 writes it",
        ));
    }
    if !text.contains("-----BEGIN") || !text.contains("PRIVATE KEY-----") {
        return Err(bad("not a PEM private key"));
    }
    Ok(())
}

fn check_signed(file: &Path) -> Result<(), SecurityError> {
    let text = String::from_utf8_lossy(&read(file)?).into_owned();
    if text.contains("multipart/signed") {
        Ok(())
    } else {
        Err(SecurityError::BadFile {
            file: file.into(),
            reason: "not an S/MIME signed document (multipart/signed)".into(),
        })
    }
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
