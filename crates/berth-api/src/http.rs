//! The HTTP side of the API: bodies (whole, or streamed from a blocking
//! engine call through a channel), docker's error documents and status
//! codes, query strings, JSON bodies, and hijacked connections.

use std::convert::Infallible;
use std::io::{self, Read, Write};

use berth_engine::EngineError;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;

pub type Body = BoxBody<Bytes, io::Error>;

/// An error as docker's API reports it: a status and `{"message": ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn not_implemented(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, message)
    }

    pub fn response(&self) -> Response<Body> {
        json(self.status, &serde_json::json!({"message": self.message}))
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        use EngineError::*;
        let status = match &e {
            NoSuchImage(_) | NoSuchContainer(_) | NoSuchVolume(_) | NoSuchSecret(_)
            | NoSuchPod(_) | NoSuchNetwork(_) | RegistryNotFound(_) => StatusCode::NOT_FOUND,
            InvalidArgument(_) | BadContent(_) | CommandNotFound(_) | CommandNotInvokable(_) => {
                StatusCode::BAD_REQUEST
            }
            RegistryDenied(_) => StatusCode::FORBIDDEN,
            Conflict(_) => StatusCode::CONFLICT,
            Runtime(_) | Store(_) | Registry(_) | Interrupted | Io { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, e.to_string())
    }
}

pub type ApiResult = Result<Response<Body>, ApiError>;

fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = status;
    r
}

pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let mut data = serde_json::to_vec(value).expect("documents serialise");
    data.push(b'\n');
    bytes_of(status, "application/json", data)
}

/// A whole body of `content_type`.
pub fn bytes_of(status: StatusCode, content_type: &'static str, data: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(full(data));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn ok_json(value: &impl serde::Serialize) -> ApiResult {
    Ok(json(StatusCode::OK, value))
}

pub fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A response whose body comes later, from `chunks`.
pub fn streamed(content_type: &'static str) -> (Chunks, Response<Body>) {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let stream = futures_stream(rx);
    let mut r = Response::new(StreamBody::new(stream).boxed());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    (Chunks { tx }, r)
}

fn futures_stream(
    rx: mpsc::Receiver<Bytes>,
) -> impl futures_core::Stream<Item = Result<Frame<Bytes>, io::Error>> {
    ReceiverStream(rx)
}

struct ReceiverStream(mpsc::Receiver<Bytes>);

impl futures_core::Stream for ReceiverStream {
    type Item = Result<Frame<Bytes>, io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// The writing end of a streamed body. As a `Write` it blocks (for the
/// engine's threads); a write after the client left fails, so a long
/// operation whose reader went away stops.
#[derive(Clone)]
pub struct Chunks {
    tx: mpsc::Sender<Bytes>,
}

impl Chunks {
    /// Whether the client has gone.
    pub fn closed(&self) -> bool {
        self.tx.is_closed()
    }

    pub fn send(&self, data: impl Into<Bytes>) -> io::Result<()> {
        self.tx
            .blocking_send(data.into())
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }

    /// One line of NDJSON.
    pub fn line(&self, value: &Value) -> io::Result<()> {
        let mut data = serde_json::to_vec(value).expect("documents serialise");
        data.push(b'\n');
        self.send(data)
    }

    /// From async code.
    pub async fn send_async(&self, data: impl Into<Bytes>) -> io::Result<()> {
        self.tx
            .send(data.into())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(Bytes::copy_from_slice(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes docker's multiplexed frames of one stream (or raw bytes, for a TTY).
pub struct FrameWriter {
    pub chunks: Chunks,
    pub stream: u8,
    pub raw: bool,
}

impl FrameWriter {
    /// The writer of `stream` into `chunks`, or nowhere when it is not `wanted`.
    pub fn or_sink(chunks: &Chunks, stream: u8, raw: bool, wanted: bool) -> Box<dyn Write> {
        if wanted {
            Box::new(FrameWriter {
                chunks: chunks.clone(),
                stream,
                raw,
            })
        } else {
            Box::new(io::sink())
        }
    }
}

/// Copies what `sock` says into `chunks` until either ends (on a blocking thread).
pub fn pump(sock: std::os::unix::net::UnixStream, chunks: Chunks) {
    tokio::task::spawn_blocking(move || {
        let mut sock = sock;
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(n) = sock.read(&mut buf) {
            if n == 0 || chunks.send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                break;
            }
        }
    });
}

impl Write for FrameWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.raw {
            return self.chunks.write(buf);
        }
        let mut framed = Vec::with_capacity(buf.len() + 8);
        berth_engine::attach::write_frame(&mut framed, self.stream, buf)?;
        self.chunks.send(framed)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A request body as a blocking `Read`, fed by a task as it arrives.
pub struct BodyReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

pub fn body_reader(body: Incoming) -> BodyReader {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let mut body = body;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Ok(data) = frame.into_data() {
                if tx.send(data).await.is_err() {
                    break;
                }
            }
        }
    });
    BodyReader {
        rx,
        current: Bytes::new(),
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.current = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// The largest JSON body taken.
const JSON_LIMIT: usize = 16 << 20;

pub async fn read_all(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(req.into_body(), JSON_LIMIT);
    limited
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))
}

/// A JSON body into `T`. Nulls count as absent (as Go's zero values do
/// for docker); an empty body is `T`'s default.
pub async fn read_json<T: DeserializeOwned + Default>(
    req: Request<Incoming>,
) -> Result<T, ApiError> {
    let data = read_all(req).await?;
    parse_json(&data)
}

pub fn parse_json<T: DeserializeOwned + Default>(data: &[u8]) -> Result<T, ApiError> {
    match parse_value(data)? {
        Value::Null => Ok(T::default()),
        v => from_value(v, ""),
    }
}

/// A body as JSON (null when empty), a 400 when it is not JSON.
pub fn parse_value(data: &[u8]) -> Result<Value, ApiError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(data)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON in the request body: {e}")))
}

/// `value` into `T`, nulls taken as absent; a 400 naming the field (under
/// `prefix`) that does not fit.
pub fn from_value<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(strip_nulls(value)).map_err(|e| {
        let field = match (prefix, e.path().to_string().as_str()) {
            ("", ".") => "the body".to_string(),
            (p, ".") => p.to_string(),
            ("", f) => f.to_string(),
            (p, f) => format!("{p}.{f}"),
        };
        ApiError::bad_request(format!("invalid request body: {field}: {}", e.inner()))
    })
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// A request's query string, decoded.
#[derive(Clone, Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            q.unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k, true), decode(v, true))
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter as docker reads one: 1/true/True/yes set, 0/false/""
    /// unset; anything else is a 400 naming it.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "y" | "on" => Ok(true),
                "0" | "false" | "no" | "n" | "off" | "" => Ok(false),
                _ => Err(ApiError::bad_request(format!(
                    "invalid value for {key}: {v:?}: use true or false"
                ))),
            },
        }
    }

    /// An integer parameter; a 400 naming it when it is not one.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {key}: {v:?}: not an integer"))
            }),
        }
    }

    /// A required string parameter.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("the {key} parameter is required")))
    }
}

/// Percent-decoding (and `+` as a space in query strings).
pub fn decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the client asked to take the connection over (`Upgrade: tcp`).
pub fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("tcp") || v.eq_ignore_ascii_case("h2c"))
}

/// The 101 answer to a hijack, with docker's stream type.
pub fn switching(content_type: &'static str) -> Response<Body> {
    let mut r = empty(StatusCode::SWITCHING_PROTOCOLS);
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    h.insert(hyper::header::UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Carries a hijacked connection to a container's stdio: the client's bytes
/// to `sock` (its end of input half-closes `sock`), `sock`'s to the client
/// until `sock` ends, then the connection closes.
pub async fn bridge(upgraded: hyper::upgrade::Upgraded, sock: std::os::unix::net::UnixStream) {
    use tokio::io::AsyncWriteExt;
    if sock.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(sock) = tokio::net::UnixStream::from_std(sock) else {
        return;
    };
    let (mut from_holder, mut to_holder) = sock.into_split();
    let io = hyper_util::rt::TokioIo::new(upgraded);
    let (mut from_client, mut to_client) = tokio::io::split(io);
    let input = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_client, &mut to_holder).await;
        let _ = to_holder.shutdown().await;
    });
    let _ = tokio::io::copy(&mut from_holder, &mut to_client).await;
    let _ = to_client.shutdown().await;
    input.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_flags_parse() {
        let q = Query::parse(Some("a=1&b=x%2Fy+z&c=True&d=maybe&t=one&t=two"));
        assert_eq!(q.get("b"), Some("x/y z"));
        assert!(q.flag("a").unwrap() && q.flag("c").unwrap());
        assert!(!q.flag("missing").unwrap());
        assert!(q.flag("d").is_err());
        assert_eq!(q.all("t").collect::<Vec<_>>(), ["one", "two"]);
        assert!(q.int("b").is_err());
        assert_eq!(decode("100%", false), "100%");
    }

    #[test]
    fn json_bodies_treat_null_as_absent() {
        #[derive(serde::Deserialize, Default, Debug)]
        #[serde(default)]
        struct B {
            n: i64,
            v: Vec<String>,
        }
        let b: B = parse_json(br#"{"n": null, "v": null}"#).unwrap();
        assert_eq!((b.n, b.v.len()), (0, 0));
        let b: B = parse_json(b"").unwrap();
        assert_eq!(b.n, 0);
        assert!(parse_json::<B>(b"{nope").is_err());
        let e = parse_json::<B>(br#"{"n": "x"}"#).unwrap_err();
        assert!(e.message.contains("n: invalid type"), "{}", e.message);
    }
}
