//! Process limits and the concurrency bounds every scenario shares.

/// Connections being opened at once (TCP connect + WebSocket upgrade + `connect` op). Bounds the
/// load the set-up phase puts on the server's accept loop and on this process.
pub const MAX_CONCURRENT_DIALS: usize = 256;

/// Keep-alive HTTP connections used by `notify` to post notifications.
pub const HTTP_WORKERS: usize = 16;

/// File descriptors this process keeps for itself (stdio, the runtime, `/proc` reads, HTTP).
pub const RESERVED_FDS: u64 = 64;

/// Raises the soft open-file limit to the hard limit (the hard limit cannot be raised without
/// privileges; on the benchmark machine it is about 20,000). Returns the new soft limit.
pub fn raise_nofile() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024),
    }
}
