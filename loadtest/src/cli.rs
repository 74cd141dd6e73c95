//! Command-line options. The option names are a contract: `run-bench.sh` and CI scripts depend on
//! them (see issue 4). Every default points at loopback.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use oneclass_protocol::Codec;

/// Which load to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// S schools × C classes × N subscribers per class, P publishers per class: delivered
    /// messages per second and publish→delivery latency.
    Fanout,
    /// Ramp to N idle connections at `--rate` per second, hold, report connect rate, failures and
    /// the server's memory per connection at each checkpoint.
    Connect,
    /// Pairs of users in DMs: publish→reply round-trip latency.
    Chat,
    /// `POST /v1/notifications` at `--rate`: acceptance latency and arrival on the WebSocket.
    Notify,
}

/// The codec asked for in the WebSocket subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodecArg {
    Json,
    Msgpack,
}

impl From<CodecArg> for Codec {
    fn from(c: CodecArg) -> Self {
        match c {
            CodecArg::Json => Codec::Json,
            CodecArg::Msgpack => Codec::MsgPack,
        }
    }
}

/// Load generator for the OneClass hub (and any server speaking PROTOCOL.md).
///
/// Exit code: 0 when clean, 2 when any gap, duplicate or reorder was seen, 3 when there were
/// errors (failed connections, error replies, unexpected closes) but no ordering fault, 1 when the
/// run could not be set up.
#[derive(Debug, Clone, Parser)]
#[command(name = "oneclass-loadtest", version)]
pub struct Args {
    /// The scenario to run.
    #[arg(value_enum)]
    pub scenario: Scenario,

    /// WebSocket endpoint of the server under test.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    pub url: String,

    /// Codec (WebSocket subprotocol) of every connection.
    #[arg(long, value_enum, default_value = "json")]
    pub codec: CodecArg,

    /// How long to measure, after the warmup (`10s`, `500ms`, `2m`, or plain seconds). In
    /// `connect` it is how long the full set of connections is held.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Load before measuring starts; nothing that happens in it is counted except correctness.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// HS256 secret to mint tokens with (the hub's `ONECLASS_JWT_SECRET`).
    #[arg(long, env = "ONECLASS_JWT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// A file of tokens, one per line, used instead of minting: line i is the token of the i-th
    /// connection the scenario opens (see the README for the order).
    #[arg(long)]
    pub token_file: Option<PathBuf>,

    /// JWT issuer claim for minted tokens.
    #[arg(long, default_value = oneclass_protocol::token::DEFAULT_ISSUER)]
    pub issuer: String,

    /// Number of schools (ids `s1…sS`).
    #[arg(long, default_value_t = 1)]
    pub schools: u32,

    /// Classes per school (ids `c1…cC`); channel `class:{school}:{class}`.
    #[arg(long, default_value_t = 10)]
    pub classes: u32,

    /// Subscribers per class.
    #[arg(long, default_value_t = 30)]
    pub clients_per_class: u32,

    /// Publishing connections per class (not subscribed to the class).
    #[arg(long, default_value_t = 1)]
    pub publishers_per_class: u32,

    /// Length of each published message's `body.text`, in bytes.
    #[arg(long, default_value_t = 100)]
    pub payload_bytes: usize,

    /// fanout: total publishes per second, `0` = throughput mode (bounded by `--inflight`).
    /// connect: new connections per second (`0` = as fast as the dial concurrency allows).
    /// chat: total round trips per second started (`0` = closed loop).
    /// notify: notifications per second (`0` = 200).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,

    /// Throughput mode: per publisher, messages published but not yet received by every
    /// subscriber of its class.
    #[arg(long, default_value_t = 16)]
    pub inflight: u32,

    /// Loopback source addresses to spread connections over, e.g. `127.0.0.2-127.0.0.50` or a
    /// comma-separated list (each address gives its own ephemeral-port range).
    #[arg(long, value_parser = parse_source_ips)]
    pub source_ips: Option<SourceIps>,

    /// PID of the server under test: its CPU time and resident memory are read from `/proc`.
    #[arg(long)]
    pub hub_pid: Option<u32>,

    /// Write the full report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// connect: total connections (default: schools × classes × clients-per-class).
    #[arg(long)]
    pub connections: Option<u32>,

    /// connect: connection counts at which the server's memory is sampled.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,15000")]
    pub checkpoints: Vec<u32>,

    /// connect: only open the WebSocket (no `connect` op) — for servers that speak no protocol,
    /// such as the bare actix-ws peer.
    #[arg(long)]
    pub ws_only: bool,

    /// chat: number of DM pairs.
    #[arg(long, default_value_t = 50)]
    pub pairs: u32,

    /// Base URL of the REST API and `/metrics` (default: derived from `--url`).
    #[arg(long)]
    pub http_url: Option<String>,

    /// Label for the target in the summary and report (e.g. `hub`, `node-ws`).
    #[arg(long, default_value = "target")]
    pub label: String,

    /// Disable the live progress line.
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    /// Subscribers in the fanout population.
    pub fn subscribers(&self) -> u64 {
        u64::from(self.schools) * u64::from(self.classes) * u64::from(self.clients_per_class)
    }

    /// Channels (classes over all schools).
    pub fn channels(&self) -> u64 {
        u64::from(self.schools) * u64::from(self.classes)
    }

    /// The REST/metrics base URL: `--http-url`, or `--url` with the scheme swapped and the path
    /// dropped.
    pub fn http_base(&self) -> String {
        if let Some(u) = &self.http_url {
            return u.trim_end_matches('/').to_owned();
        }
        let rest = self
            .url
            .strip_prefix("ws://")
            .or_else(|| self.url.strip_prefix("wss://"))
            .unwrap_or(&self.url);
        let authority = rest.split('/').next().unwrap_or(rest);
        format!("http://{authority}")
    }
}

/// A list of local source addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIps(pub Vec<IpAddr>);

/// Parses `10s`, `250ms`, `2m`, `1h` or plain (possibly fractional) seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("bad duration `{s}`"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("bad duration `{s}`"));
    }
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit in `{s}` (use ms, s, m or h)")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses `A-B` (an inclusive IPv4 range), `A,B,C`, or one address.
pub fn parse_source_ips(s: &str) -> Result<SourceIps, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once('-') {
            let a: Ipv4Addr = a.trim().parse().map_err(|_| format!("bad address `{a}`"))?;
            let b: Ipv4Addr = b.trim().parse().map_err(|_| format!("bad address `{b}`"))?;
            let (a, b) = (u32::from(a), u32::from(b));
            if b < a || b - a > 65_535 {
                return Err(format!("bad address range `{part}`"));
            }
            out.extend((a..=b).map(|n| IpAddr::V4(Ipv4Addr::from(n))));
        } else {
            out.push(part.parse().map_err(|_| format!("bad address `{part}`"))?);
        }
    }
    if out.is_empty() {
        return Err("no source address given".into());
    }
    Ok(SourceIps(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Args {
        let mut argv = vec!["oneclass-loadtest"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).expect("arguments parse")
    }

    #[test]
    fn defaults_point_at_loopback_and_the_issue_defaults() {
        let a = parse(&["fanout"]);
        assert_eq!(a.scenario, Scenario::Fanout);
        assert_eq!(a.url, "ws://127.0.0.1:8080/ws");
        assert_eq!(a.codec, CodecArg::Json);
        assert_eq!(a.duration, Duration::from_secs(10));
        assert_eq!(a.warmup, Duration::from_secs(2));
        assert_eq!(a.inflight, 16);
        assert_eq!(a.rate, 0.0);
        assert_eq!(a.http_base(), "http://127.0.0.1:8080");
    }

    #[test]
    fn every_option_name_the_issue_lists_is_accepted() {
        let a = parse(&[
            "connect",
            "--url",
            "ws://127.0.0.1:9001/ws",
            "--codec",
            "msgpack",
            "--duration",
            "3s",
            "--warmup",
            "500ms",
            "--secret",
            "k",
            "--token-file",
            "/tmp/t",
            "--schools",
            "2",
            "--classes",
            "3",
            "--clients-per-class",
            "4",
            "--publishers-per-class",
            "2",
            "--payload-bytes",
            "64",
            "--rate",
            "3000",
            "--inflight",
            "8",
            "--source-ips",
            "127.0.0.2-127.0.0.4",
            "--hub-pid",
            "42",
            "--json",
            "out.json",
        ]);
        assert_eq!(a.scenario, Scenario::Connect);
        assert_eq!(Codec::from(a.codec), Codec::MsgPack);
        assert_eq!(a.duration, Duration::from_secs(3));
        assert_eq!(a.warmup, Duration::from_millis(500));
        assert_eq!(a.secret.as_deref(), Some("k"));
        assert_eq!(a.subscribers(), 24);
        assert_eq!(a.channels(), 6);
        assert_eq!(a.publishers_per_class, 2);
        assert_eq!(a.payload_bytes, 64);
        assert_eq!(a.rate, 3000.0);
        assert_eq!(a.inflight, 8);
        assert_eq!(a.source_ips.as_ref().unwrap().0.len(), 3);
        assert_eq!(a.hub_pid, Some(42));
        assert_eq!(a.json, Some(PathBuf::from("out.json")));
        assert_eq!(a.http_base(), "http://127.0.0.1:9001");
    }

    #[test]
    fn unknown_scenarios_and_codecs_are_refused() {
        assert!(Args::try_parse_from(["x", "flood"]).is_err());
        assert!(Args::try_parse_from(["x", "fanout", "--codec", "cbor"]).is_err());
    }

    #[test]
    fn durations_take_units_and_plain_seconds() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn source_ips_take_ranges_lists_and_single_addresses() {
        let r = parse_source_ips("127.0.0.2-127.0.0.50").unwrap();
        assert_eq!(r.0.len(), 49);
        assert_eq!(r.0[0], "127.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(r.0[48], "127.0.0.50".parse::<IpAddr>().unwrap());
        assert_eq!(parse_source_ips("127.0.0.2,127.0.0.3").unwrap().0.len(), 2);
        assert_eq!(parse_source_ips("127.0.0.9").unwrap().0.len(), 1);
        assert!(parse_source_ips("127.0.0.9-127.0.0.2").is_err());
        assert!(parse_source_ips("nope").is_err());
    }
}
