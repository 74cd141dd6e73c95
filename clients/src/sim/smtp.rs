//! SMTP simulator: a small ESMTP server on its own port (SMTP is not HTTP, so it cannot sit
//! under a path prefix) that stores every message it accepts, answers magic recipients with
//! chosen failures, and writes the RFC 3464 bounce a real MTA would send back for the ones that
//! fail after acceptance.
//!
//! It speaks EHLO/HELO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP
//! and QUIT, without TLS. Faults queued for `smtp` apply at `MAIL FROM`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::control::{Fault, RecordedRequest, HANG};
use super::sandbox::Sim;

/// Settings of the SMTP simulator.
#[derive(Debug, Clone)]
pub struct SmtpSimConfig {
    /// Where to listen; `None` means the sandbox's IP on a free port.
    pub listen: Option<SocketAddr>,
    /// Accepted login.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Refuse `MAIL FROM` with 530 until the client has logged in.
    pub require_auth: bool,
}

impl Default for SmtpSimConfig {
    fn default() -> Self {
        Self {
            listen: None,
            username: "sandbox".to_owned(),
            password: "sandbox".to_owned(),
            require_auth: false,
        }
    }
}

/// A message the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimEmail {
    /// Envelope sender (`MAIL FROM`), without brackets.
    pub mail_from: String,
    /// Envelope recipients.
    pub rcpt_to: Vec<String>,
    /// The message as received, dot-unstuffed, CRLF line ends.
    pub data: String,
}

/// State of the SMTP simulator, reachable through [`super::SandboxHandle::smtp`].
#[derive(Debug)]
pub struct SmtpSim {
    addr: SocketAddr,
    mailbox: Mutex<Vec<SimEmail>>,
    bounces: Mutex<Vec<SimEmail>>,
    stop: watch::Sender<bool>,
}

impl SmtpSim {
    /// Where the SMTP server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every message accepted so far.
    pub fn emails(&self) -> Vec<SimEmail> {
        self.mailbox.lock().clone()
    }

    /// The DSNs the simulated remote MTA produced (addressed to the envelope sender).
    pub fn bounces(&self) -> Vec<SimEmail> {
        self.bounces.lock().clone()
    }

    pub(crate) fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Binds the SMTP listener before the sandbox state exists.
pub(crate) async fn bind(
    config: &SmtpSimConfig,
    ip: IpAddr,
) -> std::io::Result<(TcpListener, SmtpSim)> {
    let listener = TcpListener::bind(config.listen.unwrap_or(SocketAddr::new(ip, 0))).await?;
    let (stop, _) = watch::channel(false);
    let sim = SmtpSim {
        addr: listener.local_addr()?,
        mailbox: Mutex::new(Vec::new()),
        bounces: Mutex::new(Vec::new()),
        stop,
    };
    Ok((listener, sim))
}

/// Accepts connections until the sandbox stops.
pub(crate) fn spawn(sim: Arc<Sim>, listener: TcpListener) {
    let mut stop = sim.smtp.stop.subscribe();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let sim = sim.clone();
                    tokio::spawn(async move {
                        if let Err(error) = session(sim, stream).await {
                            tracing::debug!(%error, "smtp sim session ended");
                        }
                    });
                }
            }
        }
    });
}

/// What a magic recipient does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magic {
    Normal,
    /// Refused at RCPT with this reply.
    RcptReply(&'static str),
    /// Refused after DATA with this reply.
    DataReply(&'static str),
    /// Accepted, then bounced with a DSN of this action and status.
    Dsn(&'static str, &'static str, &'static str),
}

fn magic(recipient: &str) -> Magic {
    let local = recipient.split('@').next().unwrap_or_default();
    match local.to_ascii_lowercase().as_str() {
        "sim-unknown" => Magic::RcptReply("550 5.1.1 Recipient address rejected: User unknown"),
        "sim-full" => Magic::RcptReply("552 5.2.2 Mailbox full"),
        "sim-greylist" => Magic::RcptReply("451 4.7.1 Greylisted, please try again later"),
        "sim-toobig" => Magic::DataReply("552 5.3.4 Message size exceeds fixed limit"),
        "sim-policy" => Magic::DataReply("550 5.7.1 Message rejected by policy"),
        "sim-bounce" => Magic::Dsn("failed", "5.1.1", "550 5.1.1 User unknown"),
        "sim-delay" => Magic::Dsn("delayed", "4.2.2", "452 4.2.2 Mailbox full"),
        _ => Magic::Normal,
    }
}

async fn session(sim: Arc<Sim>, stream: TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let cfg = &sim.config.smtp;
    let host = "smtp.sim.oneclass";
    write
        .write_all(format!("220 {host} ESMTP OneClass simulator\r\n").as_bytes())
        .await?;
    let mut authed = false;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']).to_owned();
        let upper = command.to_ascii_uppercase();
        let verb = upper
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let reply: String = match verb.as_str() {
            "EHLO" => format!(
                "250-{host}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 10485760\r\n250 AUTH PLAIN LOGIN"
            ),
            "HELO" => format!("250 {host}"),
            "NOOP" => "250 2.0.0 OK".to_owned(),
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                "250 2.0.0 OK".to_owned()
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            "AUTH" => {
                let args: Vec<&str> = command.split_whitespace().skip(1).collect();
                let creds = match args.first().map(|m| m.to_ascii_uppercase()).as_deref() {
                    Some("PLAIN") => {
                        let encoded = match args.get(1) {
                            Some(initial) => (*initial).to_owned(),
                            None => {
                                write.write_all(b"334 \r\n").await?;
                                read_line(&mut lines).await?
                            }
                        };
                        STANDARD.decode(encoded.trim()).ok().and_then(|raw| {
                            let mut it = raw.split(|b| *b == 0).skip(1);
                            let user = String::from_utf8(it.next()?.to_vec()).ok()?;
                            let pass = String::from_utf8(it.next()?.to_vec()).ok()?;
                            Some((user, pass))
                        })
                    }
                    Some("LOGIN") => {
                        write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                        let user = read_line(&mut lines).await?;
                        write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                        let pass = read_line(&mut lines).await?;
                        let decode = |s: &str| {
                            STANDARD
                                .decode(s.trim())
                                .ok()
                                .and_then(|b| String::from_utf8(b).ok())
                        };
                        decode(&user).zip(decode(&pass))
                    }
                    _ => None,
                };
                match creds {
                    Some((user, pass)) if user == cfg.username && pass == cfg.password => {
                        authed = true;
                        "235 2.7.0 Authentication successful".to_owned()
                    }
                    _ => "535 5.7.8 Authentication credentials invalid".to_owned(),
                }
            }
            "MAIL" => {
                let mut reply = None;
                match sim.faults.take("smtp") {
                    Some(Fault::Status { status, body, .. }) => {
                        let text = if body.is_empty() {
                            "simulated failure".to_owned()
                        } else {
                            body
                        };
                        reply = Some(format!("{status} {text}"));
                    }
                    Some(Fault::DelayMs { ms }) => {
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                    }
                    Some(Fault::Hang) => {
                        tokio::time::sleep(HANG).await;
                        return Ok(());
                    }
                    None => {}
                }
                match reply {
                    Some(reply) => reply,
                    None if cfg.require_auth && !authed => {
                        "530 5.7.0 Authentication required".to_owned()
                    }
                    None => {
                        mail_from = Some(path_arg(&command));
                        rcpt_to.clear();
                        "250 2.1.0 Sender OK".to_owned()
                    }
                }
            }
            "RCPT" if mail_from.is_none() => "503 5.5.1 Need MAIL first".to_owned(),
            "RCPT" => {
                let to = path_arg(&command);
                match magic(&to) {
                    Magic::RcptReply(reply) => reply.to_owned(),
                    _ => {
                        rcpt_to.push(to);
                        "250 2.1.5 Recipient OK".to_owned()
                    }
                }
            }
            "DATA" if rcpt_to.is_empty() => "503 5.5.1 Need RCPT first".to_owned(),
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut lines).await?;
                let from = mail_from.take().unwrap_or_default();
                let to = std::mem::take(&mut rcpt_to);
                accept(&sim, from, to, data)
            }
            _ => "500 5.5.2 Command not recognised".to_owned(),
        };
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\r\n").await?;
    }
}

/// Stores an accepted message (or refuses it for a magic recipient) and returns the reply.
fn accept(sim: &Sim, mail_from: String, rcpt_to: Vec<String>, data: String) -> String {
    for to in &rcpt_to {
        if let Magic::DataReply(reply) = magic(to) {
            return reply.to_owned();
        }
    }
    sim.recorder.push(RecordedRequest {
        provider: "smtp".to_owned(),
        method: "SMTP".to_owned(),
        path: "/".to_owned(),
        query: String::new(),
        headers: std::iter::once(("mail-from".to_owned(), mail_from.clone()))
            .chain(rcpt_to.iter().map(|r| ("rcpt-to".to_owned(), r.clone())))
            .collect(),
        body: Bytes::from(data.clone()),
    });
    let id = uuid::Uuid::now_v7().simple().to_string();
    for to in &rcpt_to {
        if let Magic::Dsn(action, status, diagnostic) = magic(to) {
            if !mail_from.is_empty() {
                sim.smtp.bounces.lock().push(SimEmail {
                    mail_from: String::new(),
                    rcpt_to: vec![mail_from.clone()],
                    data: dsn(&mail_from, to, action, status, diagnostic, &data),
                });
            }
        }
    }
    sim.smtp.mailbox.lock().push(SimEmail {
        mail_from,
        rcpt_to,
        data,
    });
    format!("250 2.0.0 Ok: queued as {id}")
}

/// The DSN a remote MTA would mail back.
fn dsn(
    to: &str,
    recipient: &str,
    action: &str,
    status: &str,
    diagnostic: &str,
    original: &str,
) -> String {
    let headers = original.split("\r\n\r\n").next().unwrap_or_default();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let boundary = format!("sim-dsn-{}", uuid::Uuid::now_v7().simple());
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.sim.oneclass>\r\n\
         To: <{to}>\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: {date}\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Delivery to <{recipient}> {action}: {diagnostic}\r\n\r\n\
         --{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.sim.oneclass\r\nArrival-Date: {date}\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n\
         Remote-MTA: dns; mailbox.sim.oneclass\r\nDiagnostic-Code: smtp; {diagnostic}\r\n\r\n\
         --{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n\r\n\
         --{boundary}--\r\n"
    )
}

/// `MAIL FROM:<a@b> SIZE=10` → `a@b`.
fn path_arg(command: &str) -> String {
    let after = command.split_once(':').map_or("", |(_, rest)| rest).trim();
    let path = match (after.find('<'), after.find('>')) {
        (Some(s), Some(e)) if s < e => &after[s + 1..e],
        _ => after.split_whitespace().next().unwrap_or_default(),
    };
    path.to_owned()
}

async fn read_line<R: AsyncBufReadExt + Unpin>(lines: &mut R) -> std::io::Result<String> {
    let mut line = String::new();
    lines.read_line(&mut line).await?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Reads DATA up to the lone dot, undoing dot-stuffing, with CRLF line ends.
async fn read_data<R: AsyncBufReadExt + Unpin>(lines: &mut R) -> std::io::Result<String> {
    let mut data = String::new();
    let mut raw = Vec::new();
    loop {
        raw.clear();
        if lines.read_until(b'\n', &mut raw).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\r', '\n']);
        if line == "." {
            return Ok(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(line));
        data.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_paths_are_read_with_or_without_brackets_and_parameters() {
        assert_eq!(path_arg("MAIL FROM:<a@b.c> SIZE=100"), "a@b.c");
        assert_eq!(path_arg("RCPT TO: x@y.z"), "x@y.z");
        assert_eq!(path_arg("MAIL FROM:<>"), "");
    }

    #[test]
    fn the_generated_bounce_parses_as_a_dsn() {
        let raw = dsn(
            "bounce+r1.00@b.example",
            "sim-bounce@x.example",
            "failed",
            "5.1.1",
            "550 5.1.1 User unknown",
            "Message-ID: <r1@oneclass>\r\nSubject: x\r\n\r\nbody",
        );
        let parsed = crate::email::parse_dsn(raw.as_bytes()).unwrap();
        assert_eq!(parsed.to, ["bounce+r1.00@b.example"]);
        assert_eq!(parsed.original_message_id.as_deref(), Some("r1@oneclass"));
        assert!(parsed.recipients[0].is_hard_bounce());
    }
}
