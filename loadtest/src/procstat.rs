//! CPU time and resident memory of a process, from `/proc/<pid>/stat` and `/proc/<pid>/status`,
//! and the fallback for a server whose PID is unknown: `process_resident_memory_bytes` from its
//! Prometheus `/metrics`.

/// Clock ticks per second of `/proc/<pid>/stat` CPU fields. `sysconf(_SC_CLK_TCK)` is 100 on
/// every Linux architecture this runs on; reading it would need `unsafe` libc calls, which the
/// workspace forbids.
const CLK_TCK: f64 = 100.0;

/// A point-in-time sample of one process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    /// User + system CPU seconds since the process started.
    pub cpu_s: f64,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
}

/// Samples `/proc/<pid>`; `None` if the process is gone.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        cpu_s: cpu_from_stat(&stat)?,
        rss_bytes: rss_from_status(&status)?,
    })
}

/// Samples this process.
pub fn sample_self() -> ProcSample {
    sample(std::process::id()).unwrap_or_default()
}

/// utime + stime (fields 14 and 15), counted after the parenthesised command name, which may
/// itself hold spaces.
fn cpu_from_stat(stat: &str) -> Option<f64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state), so field n is at index n - 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / CLK_TCK)
}

fn rss_from_status(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `process_resident_memory_bytes` from Prometheus text.
pub fn rss_from_metrics(text: &str) -> Option<u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split_whitespace().next() == Some("process_resident_memory_bytes"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_read_after_a_command_name_with_spaces() {
        let stat = "42 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_from_stat(stat), Some(3.0));
    }

    #[test]
    fn rss_is_read_from_status_and_metrics() {
        assert_eq!(
            rss_from_status("Name: x\nVmRSS:\t  2048 kB\n"),
            Some(2 * 1024 * 1024)
        );
        let metrics =
            "# HELP process_resident_memory_bytes x\nprocess_resident_memory_bytes 1.5e6\n";
        assert_eq!(rss_from_metrics(metrics), Some(1_500_000));
    }

    #[test]
    fn this_process_can_be_sampled() {
        assert!(sample_self().rss_bytes > 0);
    }
}
