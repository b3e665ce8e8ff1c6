use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

fn env(vars: &[(&str, &str)]) -> SecurityEnv {
    SecurityEnv::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
}

#[path = "../../test-support/keystore.rs"]
mod support;

/// A keystore as sros2 lays it out, with a `/talker` enclave, made by the script
/// integrators use.
fn keystore(dir: &Path, options: &[&str]) {
    support::make_keystore(dir, 0, &["/talker"], options);
}

fn secured(keystore: &Path, strategy: &str) -> SecurityEnv {
    env(&[
        ("ROS_SECURITY_ENABLE", "true"),
        ("ROS_SECURITY_STRATEGY", strategy),
        ("ROS_SECURITY_KEYSTORE", keystore.to_str().unwrap()),
    ])
}

#[test]
fn the_environment_is_read_as_rcl_reads_it() {
    let e = env(&[]);
    assert!(!e.enabled && e.enable_ignored.is_none());
    assert_eq!(e.strategy, Strategy::Permissive);
    let e = env(&[("ROS_SECURITY_ENABLE", "true"), ("ROS_SECURITY_STRATEGY", "Enforce")]);
    assert!(e.enabled);
    assert_eq!(e.strategy, Strategy::Enforce);
    // strcmp in rcl: anything but exactly `true` / `Enforce` does not count.
    for v in ["True", "TRUE", "1", " true"] {
        let e = env(&[("ROS_SECURITY_ENABLE", v)]);
        assert!(!e.enabled, "{v}");
        assert_eq!(e.enable_ignored.as_deref(), Some(v));
        let p = plan(&e, None, true, SystemTime::now()).unwrap();
        assert!(p.summary().contains("is not `true`"), "{}", p.summary());
    }
    assert_eq!(
        env(&[("ROS_SECURITY_STRATEGY", "enforce")]).strategy,
        Strategy::Permissive
    );
    assert_eq!(env(&[("ROS_SECURITY_KEYSTORE", "")]).keystore, None);
}

#[test]
fn the_enclave_comes_from_the_override_then_the_argument_then_root() {
    let dir = tempfile::tempdir().unwrap();
    keystore(dir.path(), &[]);
    let mut e = secured(dir.path(), "Enforce");
    let now = SystemTime::now();
    let p = plan(&e, Some("/a4mer/a4mer_node"), true, now).unwrap();
    assert_eq!(
        p.enclave_dir(),
        Some(dir.path().join("enclaves/a4mer/a4mer_node").as_path())
    );
    e.enclave_override = Some("/talker".into());
    let p = plan(&e, Some("/a4mer/a4mer_node"), true, now).unwrap();
    assert_eq!(p.enclave_dir(), Some(dir.path().join("enclaves/talker").as_path()));
    assert_eq!(enclave_dir(Path::new("/k"), "/"), Path::new("/k/enclaves"));
    for bad in ["a4mer", "/a4mer/", "//x", "/1a", "/a-b"] {
        let e = plan(&secured(dir.path(), "Enforce"), Some(bad), true, now).unwrap_err();
        assert!(matches!(e, SecurityError::Enclave { .. }), "{bad}: {e}");
    }
}

#[test]
fn enforce_refuses_to_start_without_credentials_naming_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let no_keystore = env(&[("ROS_SECURITY_ENABLE", "true"), ("ROS_SECURITY_STRATEGY", "Enforce")]);
    assert_eq!(plan(&no_keystore, None, true, now), Err(SecurityError::NoKeystore));
    let e = plan(&secured(dir.path(), "Enforce"), Some("/a4mer/a4mer_node"), true, now).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "SECURITY ERROR: directory '{}/enclaves/a4mer/a4mer_node' does not exist.",
            dir.path().display()
        )
    );
    keystore(dir.path(), &[]);
    let enclave = dir.path().join("enclaves/a4mer/a4mer_node");
    std::fs::remove_file(enclave.join("permissions.p7s")).unwrap();
    let e = plan(&secured(dir.path(), "Enforce"), Some("/a4mer/a4mer_node"), true, now).unwrap_err();
    assert_eq!(e, SecurityError::MissingFile(enclave.join("permissions.p7s")));
    assert!(e.to_string().contains("permissions.p7s: missing"), "{e}");
    // A build without DDS Security cannot honour Enforce.
    let e = plan(&secured(dir.path(), "Enforce"), Some("/talker"), false, now).unwrap_err();
    assert_eq!(e, SecurityError::Unsupported);
}

#[test]
fn permissive_runs_unsecured_without_credentials_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let p = plan(&secured(dir.path(), "Permissive"), Some("/a4mer/a4mer_node"), true, now).unwrap();
    let SecurityPlan::Unsecured { reason, .. } = &p else {
        panic!("{p:?}")
    };
    assert!(reason.contains("does not exist"), "{reason}");
    assert!(p.summary().starts_with("permissive, UNSECURED"), "{}", p.summary());
    keystore(dir.path(), &[]);
    let p = plan(&secured(dir.path(), "Permissive"), Some("/talker"), false, now).unwrap();
    assert!(p.summary().contains("without DDS Security"), "{}", p.summary());
    let p = plan(&secured(dir.path(), "Permissive"), Some("/talker"), true, now).unwrap();
    assert_eq!(p.summary(), "permissive (enclave /talker)");
}

#[test]
fn present_but_invalid_credentials_are_refused_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    keystore(dir.path(), &["--expired"]);
    let now = SystemTime::now();
    for strategy in ["Enforce", "Permissive"] {
        let e = plan(&secured(dir.path(), strategy), Some("/talker"), true, now).unwrap_err();
        assert!(
            matches!(&e, SecurityError::BadFile { file, .. } if file.ends_with("talker/cert.pem")),
            "{e}"
        );
        assert!(e.to_string().contains("expired at"), "{e}");
    }
    let fresh = tempfile::tempdir().unwrap();
    keystore(fresh.path(), &[]);
    // The certificates were back-dated a day, as sros2 does; two days back they are not yet valid.
    let e = plan(
        &secured(fresh.path(), "Enforce"),
        Some("/talker"),
        true,
        now - Duration::from_secs(2 * 86_400),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not valid before"), "{e}");
    let talker = fresh.path().join("enclaves/talker");
    std::fs::write(talker.join("key.pem"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\n").unwrap();
    let e = plan(&secured(fresh.path(), "Permissive"), Some("/talker"), true, now).unwrap_err();
    assert!(e.to_string().contains("key.pem: the key has a password"), "{e}");
    keystore(fresh.path(), &["--force"]);
    // governance.p7s is a symlink into the keystore: replace the link, not the shared file.
    std::fs::remove_file(talker.join("permissions.p7s")).unwrap();
    std::fs::write(talker.join("permissions.p7s"), "<permissions/>").unwrap();
    let e = plan(&secured(fresh.path(), "Enforce"), Some("/talker"), true, now).unwrap_err();
    assert!(e.to_string().contains("permissions.p7s: not an S/MIME signed"), "{e}");
    std::fs::write(talker.join("cert.pem"), "not a certificate").unwrap();
    let e = plan(&secured(fresh.path(), "Enforce"), Some("/talker"), true, now).unwrap_err();
    assert!(e.to_string().contains("cert.pem: not a PEM X.509 certificate"), "{e}");
}
