//! Output folders that never lie (issue 15): one writer at a time (a lock file naming its
//! PID), the temporary files of writers that died are removed, a folder is checked to be
//! writable before anything is computed, and `manifest.json` is removed when a run starts and
//! written last, listing every file with its SHA-256, so a folder without a manifest, or whose
//! files do not match their hashes, is incomplete.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A held lock on an output (released when dropped).
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` is alive (on this machine).
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Take the lock `dir/.<name>.lock` (creating `dir`): an error naming the PID if a live
/// process holds it; a lock left by a dead process is taken over.
pub fn lock(dir: &Path, name: &str) -> Result<OutputLock> {
    create_dir(dir)?;
    let path = dir.join(format!(".{name}.lock"));
    let me = std::process::id();
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                use std::io::Write;
                writeln!(f, "{me}").map_err(|e| Error::io(&path, e))?;
                return Ok(OutputLock { path });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok());
                match holder {
                    Some(pid) if pid != me && alive(pid) => {
                        return Err(Error::invalid(
                            dir.display().to_string(),
                            format!(
                                "another learndyn process (PID {pid}) is writing {name} here; \
                                 wait for it to finish or use another --out (if no such \
                                 process exists, delete {})",
                                path.display()
                            ),
                        ))
                    }
                    // Stale (its writer died) or unreadable: take it over.
                    _ => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Err(Error::invalid(
        path.display().to_string(),
        "could not be taken; delete it if no learndyn process writes here",
    ))
}

/// Create folder `dir` (and its parents); an error that says so if `dir` is a file.
pub fn create_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::invalid(
            dir.display().to_string(),
            "is a file, not a folder; give --out a folder path",
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Remove the temporary files (`.<name>.<pid>-<n>.tmp`, see [`crate::npy::tmp_path`]) that
/// writers which are no longer alive left in `dir`. Returns how many were removed.
pub fn clean_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix('.')
            .and_then(|r| r.strip_suffix(".tmp"))
            .and_then(|r| r.rsplit_once('.'))
            .and_then(|(_, tail)| tail.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !alive(pid) && std::fs::remove_file(e.path()).is_ok() {
                n += 1;
            }
        }
    }
    n
}

/// Check that files can be created in `dir` (creating it), before anything is computed.
pub fn check_writable(dir: &Path) -> Result<()> {
    create_dir(dir)?;
    let probe = crate::npy::tmp_path(&dir.join("write-probe"));
    std::fs::write(&probe, b"").map_err(|e| {
        Error::invalid(
            dir.display().to_string(),
            format!("is not writable ({e}); choose another --out or fix its permissions"),
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Free bytes for an unprivileged writer on the file system of `dir` (`None` if unknown).
pub fn free_bytes(dir: &Path) -> Option<u128> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct we pass for a NUL-terminated path; nothing else is
    // touched, and the struct is plain data.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0;
    ok.then(|| u128::from(st.f_bavail) * u128::from(st.f_frsize))
}

/// Refuse to start when the file system of `dir` has less room than the estimated output.
pub fn check_room(dir: &Path, output_bytes: u128) -> Result<()> {
    match free_bytes(dir) {
        Some(free) if free < output_bytes => Err(Error::invalid(
            dir.display().to_string(),
            format!(
                "has {} free, but the output needs about {}; free some space, choose another \
                 --out, or record less (output.records)",
                crate::experiment::memory::human(free),
                crate::experiment::memory::human(output_bytes)
            ),
        )),
        _ => Ok(()),
    }
}

/// Prepare `dir` for a run: lock it, remove stale temporary files, check it is writable and
/// has room for `output_bytes`, and
/// remove an older `manifest.json` so the folder reads as incomplete until the new one is
/// written last. Hold the returned lock until the run is written.
pub fn begin_run(dir: &Path, output_bytes: u128) -> Result<OutputLock> {
    let lock = lock(dir, "run")?;
    clean_stale_temps(dir);
    check_writable(dir)?;
    check_room(dir, output_bytes)?;
    let manifest = dir.join("manifest.json");
    if manifest.exists() {
        std::fs::remove_file(&manifest).map_err(|e| Error::io(&manifest, e))?;
    }
    Ok(lock)
}

/// SHA-256 (lower-case hex) of the file at `path`.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
