//! `process_resident_memory_bytes` and `process_open_fds`, read from `/proc/self` at scrape time.
//!
//! A collector rather than gauges: the values belong to the process, not to any hub, and are
//! read fresh on each scrape without touching shared state. Resident memory comes from
//! `VmRSS` in `/proc/self/status`, which the kernel reports in KiB, so no page size is assumed.
//! A collector's help text is written as given (the registry adds the full stop only to what is
//! registered through it), so these end with their own.
//! Where `/proc` cannot be read (not Linux), both report 0.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the process's figures on each scrape.
#[derive(Debug, Default)]
pub(super) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let figures = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                resident_bytes(),
            ),
            ("process_open_fds", "Open file descriptors.", open_fds()),
        ];
        for (name, help, value) in figures {
            let gauge = ConstGauge::new(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

/// Resident memory of this process in bytes, from `VmRSS` (in KiB) in `/proc/self/status`.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(vm_rss_bytes)
        .unwrap_or(0)
}

fn vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Open file descriptors of this process.
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_vm_rss_in_kib() {
        let status = "Name:\thub\nVmPeak:\t  9000 kB\nVmRSS:\t  2048 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_bytes(status), Some(2 * 1024 * 1024));
        assert_eq!(vm_rss_bytes("Name:\thub\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_resident_memory_and_open_descriptors() {
        assert!(resident_bytes() > 0);
        assert!(open_fds() > 0);
    }
}
