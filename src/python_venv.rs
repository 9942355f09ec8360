//! Virtual environments for Python apps run for real (the end-to-end tests,
//! the chaos runs, the benchmarks): made with Debian's `/usr/bin/python3`
//! (the Python the bridge embeds) and pip, holding packages from PyPI, and
//! kept for the next run while they stay the same.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file in the venv that lists what it holds.
const STAMP: &str = ".rustgi-packages";

fn run(program: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .map_err(|e| format!("run {}: {e}", program.display()))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{} {args:?} failed ({}):\n{}\n{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// `<temporary directory>/NAME` holding `packages`: reused when its stamp
/// lists the same, else made anew beside it and renamed into place. The
/// temporary directory is one every user can traverse, so the daemons'
/// users can read it.
pub fn venv(name: &str, packages: &[&str]) -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    let dir = base.join(name);
    let wanted = packages.join("\n");
    if fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s == wanted) {
        return Ok(dir);
    }
    let building = base.join(format!("{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&building);
    let building_str = building
        .to_str()
        .ok_or("the temporary directory is not UTF-8")?;
    run(Path::new("/usr/bin/python3"), &["-m", "venv", building_str])?;
    let mut args = vec![
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ];
    args.extend(packages);
    run(&building.join("bin/python3"), &args)?;
    fs::write(building.join(STAMP), &wanted).map_err(|e| format!("write the venv's stamp: {e}"))?;
    fs::set_permissions(&building, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", building.display()))?;
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&building, &dir).map_err(|e| format!("move the venv to {}: {e}", dir.display()))?;
    Ok(dir)
}
