//! A minimal HTTP/1.1 JSON client (one request per connection), enough for the cluster to drive its
//! gateway and for the gateway to forward to the service processes.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::cloudmart::error::AppError;

/// How long one request may take (a `?wait=true` status waits for a saga's end).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(150);
/// The largest response read.
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// A response: status code and raw body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body's bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON (`Null` if it is not JSON).
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `method path` with `body` (JSON, if any) to `addr`.
///
/// # Errors
/// [`AppError::Http`] if the connection fails, times out, or the answer is not HTTP.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Response, AppError> {
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(addr, method, path, body))
        .await
        .map_err(|_| {
            io(format!(
                "{method} {path} on {addr}: no answer in {REQUEST_TIMEOUT:?}"
            ))
        })?
}

/// Sends a JSON request and returns the status and the JSON answer.
///
/// # Errors
/// As [`send`].
pub async fn json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), AppError> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let r = send(addr, method, path, body.as_bytes()).await?;
    Ok((r.status, r.json()))
}

async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Response, AppError> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.take(MAX_RESPONSE).read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io(format!("{method} {path} on {addr}: not an HTTP response")))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io(format!("{method} {path} on {addr}: no status code")))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = raw[split + 4..].to_vec();
    Ok(Response {
        status,
        body: if chunked { dechunk(&body) } else { body },
    })
}

/// Joins the chunks of a chunked body (stops at the last chunk or at anything malformed).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|n| *n > 0 && eol + 2 + *n <= raw.len()) else {
            break;
        };
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = raw.get(eol + 4 + size..).unwrap_or_default();
    }
    out
}

fn io(message: String) -> AppError {
    AppError::Http(std::io::Error::other(message))
}
