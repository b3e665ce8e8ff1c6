//! Embeds the git revision the binary was built from (`a4mer --version`, bundle manifests).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let revision = match git(&["rev-parse", "HEAD"]) {
        Some(rev) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown".to_string(),
    };
    println!("cargo:rustc-env=A4MER_GIT_REVISION={revision}");
    // In a worktree, HEAD and index are per worktree but refs live in the common dir. A
    // watched path that does not exist makes cargo rerun this script (and relink the CLI)
    // on every build, so only existing paths are named.
    let dir = git(&["rev-parse", "--absolute-git-dir"]);
    let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]).or_else(|| dir.clone());
    let watched = [
        dir.as_ref().map(|d| format!("{d}/HEAD")),
        dir.as_ref().map(|d| format!("{d}/index")),
        common.as_ref().map(|c| format!("{c}/refs/heads")),
        common.as_ref().map(|c| format!("{c}/packed-refs")),
    ];
    for path in watched.into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
