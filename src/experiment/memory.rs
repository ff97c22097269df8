//! Memory estimates: before a problem is built, its families say how many bytes its weights,
//! data, workspaces and records take ([`super::family::Family::memory`]), and a run that would
//! not fit in the memory this process may use is refused with the estimate, what is available
//! and the key to lower (issue 15). An estimate is an upper-bound-minded sum of the large
//! arrays (8 bytes per f64), not an exact count; small bookkeeping is ignored.

use crate::error::{Error, Result};

/// One term of an estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// What it is, e.g. "BPTT states".
    pub what: &'static str,
    /// The config key that scales it most, e.g. `model.hidden`.
    pub key: &'static str,
    /// Bytes.
    pub bytes: u128,
}

/// Bytes of `n` f64 values (`n` as a product of sizes; saturating, never overflows).
pub fn f64s(factors: &[usize]) -> u128 {
    factors
        .iter()
        .fold(8u128, |a, &f| a.saturating_mul(f as u128))
}

/// The estimate's total.
pub fn total(items: &[Item]) -> u128 {
    items.iter().fold(0u128, |a, i| a.saturating_add(i.bytes))
}

/// Bytes written as `12.3 GB` / `456 MB` / `7.8 kB` (powers of 1000).
pub fn human(bytes: u128) -> String {
    let b = bytes as f64;
    if b >= 1e12 {
        format!("{:.1} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.1} kB", b / 1e3)
    }
}

/// Bytes this process can still allocate: the least of the machine's available memory
/// (`MemAvailable` in `/proc/meminfo`), the cgroup's limit minus its use, and the
/// address-space limit (`RLIMIT_AS`) minus the current virtual size. `None` where none of them
/// can be read (then nothing is refused).
pub fn available() -> Option<u128> {
    let mut best: Option<u128> = None;
    let mut take = |v: Option<u128>| {
        if let Some(v) = v {
            best = Some(best.map_or(v, |b| b.min(v)));
        }
    };
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    take(
        meminfo
            .as_deref()
            .and_then(|m| kib_field(m, "MemAvailable:")),
    );
    let read_u128 = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<u128>().ok())
    };
    if let (Some(max), Some(cur)) = (
        read_u128("/sys/fs/cgroup/memory.max"),
        read_u128("/sys/fs/cgroup/memory.current"),
    ) {
        take(Some(max.saturating_sub(cur)));
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass; no other memory is touched.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0;
    if ok && lim.rlim_cur != libc::RLIM_INFINITY {
        let status = std::fs::read_to_string("/proc/self/status").ok();
        let used = status
            .as_deref()
            .and_then(|s| kib_field(s, "VmSize:"))
            .unwrap_or(0);
        take(Some(u128::from(lim.rlim_cur).saturating_sub(used)));
    }
    best
}

/// A `Name:   123 kB` field of a `/proc` file, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u128> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u128 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuse `items` if they need more than `available` bytes: an error that names the total, the
/// largest terms with their keys, what is available and what to lower.
pub fn check(items: &[Item], available: Option<u128>) -> Result<()> {
    let need = total(items);
    let Some(avail) = available else {
        return Ok(());
    };
    if need <= avail {
        return Ok(());
    }
    let mut sorted: Vec<&Item> = items.iter().collect();
    sorted.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    let terms: Vec<String> = sorted
        .iter()
        .take(3)
        .map(|i| format!("{} {} ({})", i.what, human(i.bytes), i.key))
        .collect();
    Err(Error::invalid(
        "memory",
        format!(
            "this problem needs about {} ({}), but only {} is available to this process; \
             lower {} (or run on a machine with more memory)",
            human(need),
            terms.join(", "),
            human(avail),
            sorted[0].key
        ),
    ))
}
