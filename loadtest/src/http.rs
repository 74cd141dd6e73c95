//! A minimal HTTP/1.1 client (keep-alive, `Content-Length` or chunked bodies) for the two HTTP
//! calls the load generator makes: `POST /v1/notifications` and `GET /metrics`. Small enough to
//! keep the load generator's own CPU cost per request low and visible.

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive connection to `host:port`.
#[derive(Debug)]
pub struct HttpConn {
    stream: BufReader<TcpStream>,
    authority: String,
}

/// The authority (`host:port`) of an `http://` base URL.
pub fn authority(base: &str) -> anyhow::Result<String> {
    let rest = base
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("only http:// is supported: {base}"))?;
    Ok(rest.split('/').next().unwrap_or(rest).to_owned())
}

impl HttpConn {
    pub async fn open(base: &str) -> anyhow::Result<Self> {
        let authority = authority(base)?;
        let stream = TcpStream::connect(&authority)
            .await
            .with_context(|| format!("connecting {authority}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
            authority,
        })
    }

    /// Sends one request and reads the response: (status, body).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.authority,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;

        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("bad status line {line:?}"))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            if self.stream.read_line(&mut line).await? == 0 {
                bail!("connection closed in headers");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "content-length" {
                    length = v.parse::<usize>().ok();
                } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| anyhow!("bad chunk size {line:?}"))?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(n) = length {
            out.resize(n, 0);
            self.stream.read_exact(&mut out).await?;
        } else {
            self.stream.read_to_end(&mut out).await?;
        }
        Ok((status, out))
    }
}

/// One-shot `GET base+path`, returning the body of a 200.
pub async fn get(base: &str, path: &str) -> anyhow::Result<String> {
    let mut conn = HttpConn::open(base).await?;
    let (status, body) = conn
        .request("GET", path, &[("Connection", "close")], b"")
        .await?;
    if status != 200 {
        bail!("GET {path}: HTTP {status}");
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}
