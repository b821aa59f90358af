//! One registry endpoint: requests with auth and retries, manifests, blobs,
//! uploads.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use berth_image::Digest;
use serde::Deserialize;
use ureq::http::{Method, Request, Response, StatusCode};
use ureq::{Body, SendBody};

use crate::auth::{parse_challenge, Challenge, Credential};
use crate::config::Endpoint;
use crate::RegistryError;

/// Every manifest kind berth understands, as the `Accept` header of a manifest request.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// A client for one registry endpoint (a registry or one of its mirrors).
pub struct Client {
    agent: ureq::Agent,
    /// `https://host:port` or `http://host:port`, found by [`Client::connect`].
    base: String,
    host: String,
    credential: Option<Credential>,
    challenge: Option<Challenge>,
    auth: Mutex<TokenState>,
    cancel: Option<Arc<AtomicBool>>,
}

#[derive(Default)]
struct TokenState {
    scopes: Vec<String>,
    token: Option<(String, Instant)>,
}

/// What a registry can answer when an upload starts.
pub enum Upload {
    /// The blob was mounted from another repository: nothing to send.
    Mounted,
    /// Send the blob to this upload location.
    Location(String),
}

/// A request body that can be sent again on a retry.
enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// `len` bytes of a file from `offset`; `progress` hears the file
    /// position as they are sent.
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
        progress: &'a (dyn Fn(u64) + Sync),
    },
}

/// A file section being sent, reporting how far it got.
struct Sending<'a> {
    inner: std::io::Take<std::fs::File>,
    position: u64,
    progress: &'a (dyn Fn(u64) + Sync),
}

impl Read for Sending<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position += n as u64;
        (self.progress)(self.position);
        Ok(n)
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

fn agent(insecure_tls: bool) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(insecure_tls)
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        // Blobs are already compressed; never let the transport decode them.
        .accept_encoding("identity")
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .max_idle_connections_per_host(16)
        .build()
        .new_agent()
}

fn connect_error(host: &str, e: &ureq::Error) -> RegistryError {
    RegistryError::Connect(format!("cannot reach registry {host}: {e}"))
}

fn is_retryable_status(s: StatusCode) -> bool {
    matches!(s.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

impl Client {
    /// Finds how to talk to `endpoint` (HTTPS, or plain HTTP where it is
    /// insecure and HTTPS does not answer) and what auth it asks for.
    pub fn connect(
        endpoint: &Endpoint,
        credential: Option<Credential>,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Result<Client, RegistryError> {
        let addr = endpoint.address.trim_end_matches('/');
        let candidates: Vec<String> = if addr.starts_with("http://") || addr.starts_with("https://")
        {
            vec![addr.to_string()]
        } else if endpoint.insecure {
            vec![format!("https://{addr}"), format!("http://{addr}")]
        } else {
            vec![format!("https://{addr}")]
        };
        let host = endpoint.host().to_string();
        let agent = agent(endpoint.insecure);
        let mut last = None;
        for base in candidates {
            let started = Instant::now();
            match agent.get(format!("{base}/v2/")).call() {
                Ok(resp) => {
                    let challenge = match resp.status().as_u16() {
                        401 => resp
                            .headers()
                            .get("www-authenticate")
                            .and_then(|h| h.to_str().ok())
                            .and_then(parse_challenge),
                        _ => None,
                    };
                    tracing::debug!(%base, ?challenge, elapsed = ?started.elapsed(), "registry ping");
                    return Ok(Client {
                        agent,
                        base,
                        host,
                        credential,
                        challenge,
                        auth: Mutex::new(TokenState::default()),
                        cancel,
                    });
                }
                Err(e) => last = Some(connect_error(&host, &e)),
            }
        }
        Err(last.expect("at least one candidate"))
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Adds a token scope (`repository:NAME:pull` or `...:pull,push`); the
    /// next request fetches a token that covers it.
    pub fn add_scope(&self, scope: String) {
        let mut st = self.auth.lock().expect("auth lock");
        if !st.scopes.contains(&scope) {
            st.scopes.push(scope);
            st.token = None;
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Checks that the credential is accepted: `login`.
    pub fn check_login(&self) -> Result<(), RegistryError> {
        match &self.challenge {
            None => Ok(()),
            Some(Challenge::Bearer { .. }) => self.fetch_token().map(|_| ()),
            Some(Challenge::Basic) => {
                let resp = self.send(
                    Method::GET,
                    &format!("{}/v2/", self.base),
                    &[],
                    Payload::Empty,
                )?;
                match resp.status().as_u16() {
                    200..=299 => Ok(()),
                    _ => Err(self.unauthorized()),
                }
            }
        }
    }

    fn unauthorized(&self) -> RegistryError {
        RegistryError::Unauthorized(match &self.credential {
            Some(_) => format!(
                "unauthorized: the credentials for {} were refused; run `berth login {}` again",
                self.host, self.host
            ),
            None => format!(
                "unauthorized: authentication required; run `berth login {}` first",
                self.host
            ),
        })
    }

    fn basic_header(cred: &Credential) -> String {
        let raw = format!("{}:{}", cred.username, cred.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// A bearer token for the current scopes, from the realm the registry named.
    fn fetch_token(&self) -> Result<String, RegistryError> {
        let Some(Challenge::Bearer { realm, service }) = &self.challenge else {
            unreachable!("only called for bearer registries")
        };
        let scopes = self.auth.lock().expect("auth lock").scopes.clone();
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            query.push(("service", s));
        }
        for s in &scopes {
            query.push(("scope", s));
        }
        let resp = match &self.credential {
            // An identity token (from `docker login` with OAuth) is exchanged as a refresh token.
            Some(c) if c.username == "<token>" => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", c.secret.as_str()),
                    ("client_id", "berth"),
                ];
                let scope = scopes.join(" ");
                if let Some(s) = service {
                    form.push(("service", s));
                }
                form.push(("scope", &scope));
                self.agent.post(realm).send_form(form)
            }
            other => {
                let mut req = self.agent.get(realm).query_pairs(query);
                if let Some(c) = other {
                    req = req.header("Authorization", Self::basic_header(c));
                }
                req.call()
            }
        }
        .map_err(|e| {
            RegistryError::Connect(format!(
                "cannot reach the token service of {}: {e}",
                self.host
            ))
        })?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 => return Err(self.unauthorized()),
            s => {
                return Err(RegistryError::Server(format!(
                    "the token service of {} answered {s}",
                    self.host
                )))
            }
        }
        let text = resp
            .into_body()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .unwrap_or_default();
        let body: TokenResponse = serde_json::from_str(&text)
            .map_err(|e| RegistryError::BadContent(format!("token from {}: {e}", self.host)))?;
        let token = if body.token.is_empty() {
            body.access_token
        } else {
            body.token
        };
        if token.is_empty() {
            return Err(RegistryError::BadContent(format!(
                "the token service of {} returned no token",
                self.host
            )));
        }
        // Refresh a little before the registry would refuse it (60 s is the spec's default).
        let life = Duration::from_secs(body.expires_in.unwrap_or(60).max(10));
        let expires = Instant::now() + life - Duration::from_secs(5);
        self.auth.lock().expect("auth lock").token = Some((token.clone(), expires));
        Ok(token)
    }

    fn authorization(&self, refresh: bool) -> Result<Option<String>, RegistryError> {
        match &self.challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credential.as_ref().map(Self::basic_header)),
            Some(Challenge::Bearer { .. }) => {
                let cached = {
                    let st = self.auth.lock().expect("auth lock");
                    st.token
                        .as_ref()
                        .filter(|(_, exp)| !refresh && Instant::now() < *exp)
                        .map(|(t, _)| t.clone())
                };
                let token = match cached {
                    Some(t) => t,
                    None => self.fetch_token()?,
                };
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// One request with auth (a fresh token after a 401, once) and retries
    /// with backoff after dropped connections and 5xx/429 answers.
    fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        payload: Payload<'_>,
    ) -> Result<Response<Body>, RegistryError> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            if self.cancelled() {
                return Err(RegistryError::Interrupted);
            }
            attempt += 1;
            let mut builder = Request::builder().method(method.clone()).uri(url);
            if let Some(a) = self.authorization(refreshed)? {
                builder = builder.header("Authorization", a);
            }
            for (k, v) in headers {
                builder = builder.header(*k, v.as_str());
            }
            let result = match &payload {
                Payload::Empty => self.agent.run(builder.body(()).expect("valid request")),
                Payload::Bytes(b) => {
                    builder = builder.header("Content-Length", b.len().to_string());
                    self.agent.run(builder.body(*b).expect("valid request"))
                }
                Payload::File {
                    path,
                    offset,
                    len,
                    progress,
                } => {
                    let mut f = std::fs::File::open(path)
                        .map_err(|e| RegistryError::Config(format!("{}: {e}", path.display())))?;
                    f.seek(SeekFrom::Start(*offset))
                        .map_err(|e| RegistryError::Config(format!("{}: {e}", path.display())))?;
                    builder = builder.header("Content-Length", len.to_string());
                    let mut sending = Sending {
                        inner: f.take(*len),
                        position: *offset,
                        progress: *progress,
                    };
                    let body = SendBody::from_reader(&mut sending);
                    self.agent.run(builder.body(body).expect("valid request"))
                }
            };
            match result {
                Ok(resp)
                    if resp.status() == StatusCode::UNAUTHORIZED
                        && !refreshed
                        && self.challenge.is_some() =>
                {
                    refreshed = true;
                    attempt -= 1;
                }
                Ok(resp) if is_retryable_status(resp.status()) && attempt < ATTEMPTS => {
                    tracing::debug!(%url, status = %resp.status(), attempt, "retrying");
                    backoff(attempt);
                }
                Ok(resp) => return Ok(resp),
                Err(e) if attempt < ATTEMPTS => {
                    tracing::debug!(%url, error = %e, attempt, "retrying");
                    backoff(attempt);
                }
                Err(e) => return Err(connect_error(&self.host, &e)),
            }
        }
    }

    /// The registry's error for a failed answer, in docker's words.
    fn failure(&self, resp: Response<Body>, what: &str) -> RegistryError {
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let detail = registry_errors(&body);
        match status {
            401 => self.unauthorized(),
            403 => RegistryError::Denied(format!(
                "{what}: denied: {}",
                detail.unwrap_or_else(|| "requested access to the resource is denied".into())
            )),
            404 => RegistryError::NotFound(format!(
                "{what} not found{}",
                detail.map(|d| format!(": {d}")).unwrap_or_default()
            )),
            s => RegistryError::Server(format!(
                "{what}: the registry answered {s}{}",
                detail.map(|d| format!(": {d}")).unwrap_or_default()
            )),
        }
    }

    /// A manifest or index by tag or digest: its bytes and media type. When
    /// `reference` is a digest, the bytes are checked against it.
    pub fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
        what: &str,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let resp = self.send(
            Method::GET,
            &url,
            &[("Accept", MANIFEST_ACCEPT.into())],
            Payload::Empty,
        )?;
        if !resp.status().is_success() {
            return Err(self.failure(resp, &format!("manifest for {what}")));
        }
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let bytes = resp
            .into_body()
            .with_config()
            .limit(4 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| RegistryError::BadContent(format!("manifest for {what}: {e}")))?;
        if let Ok(want) = reference.parse::<Digest>() {
            let got = Digest::of(&bytes);
            if got != want {
                return Err(RegistryError::BadContent(format!(
                    "manifest for {what}: the registry sent content with digest {got}, not {want}"
                )));
            }
        }
        Ok((bytes, content_type))
    }

    /// `GET /v2/NAME/tags/list`, following `Link` pages.
    pub fn list_tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        let mut url = format!("{}/v2/{repo}/tags/list", self.base);
        let mut tags = Vec::new();
        for _ in 0..1000 {
            let resp = self.send(Method::GET, &url, &[], Payload::Empty)?;
            if !resp.status().is_success() {
                return Err(self.failure(resp, &format!("tags of {repo}")));
            }
            let next = resp
                .headers()
                .get("link")
                .and_then(|h| h.to_str().ok())
                .and_then(|l| l.split_once('<'))
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(u, _)| u.to_string());
            let text = resp
                .into_body()
                .with_config()
                .limit(16 << 20)
                .read_to_string()
                .map_err(|e| RegistryError::BadContent(format!("tags of {repo}: {e}")))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| RegistryError::BadContent(format!("tags of {repo}: {e}")))?;
            tags.extend(
                v.get("tags")
                    .and_then(|t| t.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(String::from)),
            );
            match next {
                Some(n) if n.starts_with('/') => url = format!("{}{n}", self.base),
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(tags)
    }

    /// Whether the repository holds a blob (`HEAD`).
    pub fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        let resp = self.send(Method::HEAD, &url, &[], Payload::Empty)?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(self.failure(resp, &format!("blob {digest} in {repo}"))),
        }
    }

    /// A small blob (an image config) read whole and verified.
    pub fn get_blob_bytes(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut out = Vec::with_capacity(size.min(16 << 20) as usize);
        self.blob_reader(repo, digest, Some(size))?
            .read_to_end(&mut out)
            .map_err(|e| io_to_registry(e, &format!("blob {digest}")))?;
        let got = Digest::of(&out);
        if got != *digest {
            return Err(RegistryError::BadContent(format!(
                "blob {digest}: the registry sent content with digest {got}"
            )));
        }
        Ok(out)
    }

    /// A blob as a stream that resumes with `Range` after a dropped
    /// connection. It checks the length (when known), not the digest: callers
    /// hash what they keep.
    pub fn blob_reader(
        &self,
        repo: &str,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<BlobReader<'_>, RegistryError> {
        self.blob_reader_from(repo, digest, size, 0)
    }

    /// The rest of a blob from byte `offset` (a download picked up again).
    pub fn blob_reader_from(
        &self,
        repo: &str,
        digest: &Digest,
        size: Option<u64>,
        offset: u64,
    ) -> Result<BlobReader<'_>, RegistryError> {
        let mut r = BlobReader {
            client: self,
            url: format!("{}/v2/{repo}/blobs/{digest}", self.base),
            what: format!("blob {digest}"),
            offset,
            size,
            body: None,
            resumes: 0,
        };
        r.open()?;
        Ok(r)
    }

    /// Starts an upload, mounting the blob from `from` when given.
    pub fn start_upload(
        &self,
        repo: &str,
        mount: Option<(&Digest, &str)>,
    ) -> Result<Upload, RegistryError> {
        let mut url = format!("{}/v2/{repo}/blobs/uploads/", self.base);
        if let Some((d, from)) = mount {
            url.push_str(&format!("?mount={d}&from={from}"));
        }
        let resp = self.send(Method::POST, &url, &[], Payload::Bytes(&[]))?;
        match resp.status().as_u16() {
            201 => Ok(Upload::Mounted),
            202 => Ok(Upload::Location(self.location(&resp)?)),
            _ => Err(self.failure(resp, &format!("upload to {repo}"))),
        }
    }

    fn location(&self, resp: &Response<Body>) -> Result<String, RegistryError> {
        let loc = resp
            .headers()
            .get("location")
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| {
                RegistryError::Server(format!(
                    "{}: an upload answer without a Location",
                    self.host
                ))
            })?;
        Ok(
            if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_string()
            } else {
                format!("{}{loc}", self.base)
            },
        )
    }

    /// Sends a blob from a file: in one `PUT` when it is at most `chunk`
    /// bytes, else in `PATCH` chunks and a closing `PUT`. `progress` hears
    /// how many bytes were sent.
    pub fn upload_blob(
        &self,
        location: String,
        path: &Path,
        digest: &Digest,
        size: u64,
        chunk: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), RegistryError> {
        let what = format!("upload of {digest}");
        let with_digest = |loc: &str| {
            let sep = if loc.contains('?') { '&' } else { '?' };
            format!("{loc}{sep}digest={digest}")
        };
        let octet = ("Content-Type", "application/octet-stream".to_string());
        let mut location = location;
        // A small blob goes whole with the closing PUT; a big one in PATCH
        // chunks first, and the PUT then carries nothing.
        let closing = if size <= chunk {
            Payload::File {
                path,
                offset: 0,
                len: size,
                progress,
            }
        } else {
            let mut offset = 0;
            while offset < size {
                let len = chunk.min(size - offset);
                let range = ("Content-Range", format!("{}-{}", offset, offset + len - 1));
                let resp = self.send(
                    Method::PATCH,
                    &location,
                    &[octet.clone(), range],
                    Payload::File {
                        path,
                        offset,
                        len,
                        progress,
                    },
                )?;
                if resp.status().as_u16() != 202 {
                    return Err(self.failure(resp, &what));
                }
                location = self.location(&resp)?;
                offset += len;
            }
            Payload::Bytes(&[])
        };
        let resp = self.send(Method::PUT, &with_digest(&location), &[octet], closing)?;
        match resp.status().as_u16() {
            201 | 204 => Ok(()),
            _ => Err(self.failure(resp, &what)),
        }
    }

    /// Uploads a manifest under a tag or digest; returns the digest the
    /// registry computed (checked against ours).
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base);
        let resp = self.send(
            Method::PUT,
            &url,
            &[("Content-Type", media_type.to_string())],
            Payload::Bytes(bytes),
        )?;
        if !resp.status().is_success() {
            return Err(self.failure(resp, &format!("manifest {repo}:{reference}")));
        }
        let ours = Digest::of(bytes);
        if let Some(theirs) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|h| h.to_str().ok())
            .and_then(|s| s.parse::<Digest>().ok())
        {
            if theirs != ours {
                return Err(RegistryError::BadContent(format!(
                    "manifest {repo}:{reference}: the registry stored it as {theirs}, not {ours}"
                )));
            }
        }
        Ok(ours)
    }
}

fn backoff(attempt: u32) {
    std::thread::sleep(FIRST_BACKOFF * 2u32.pow(attempt.saturating_sub(1).min(4)));
}

fn io_to_registry(e: io::Error, what: &str) -> RegistryError {
    if crate::is_cancelled(&e) {
        return RegistryError::Interrupted;
    }
    match e.kind() {
        io::ErrorKind::InvalidData => RegistryError::BadContent(format!("{what}: {e}")),
        _ => RegistryError::Connect(format!("{what}: {e}")),
    }
}

/// `code: message` of a distribution error body, if it is one.
fn registry_errors(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let errs = v.get("errors")?.as_array()?;
    let parts: Vec<String> = errs
        .iter()
        .map(|e| {
            let code = e
                .get("code")
                .and_then(|c| c.as_str())
                .unwrap_or("")
                .to_ascii_lowercase()
                .replace('_', " ");
            let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            if code.is_empty() {
                msg.to_string()
            } else {
                format!("{code}: {msg}")
            }
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A blob download that picks up where it stopped after a dropped connection.
pub struct BlobReader<'c> {
    client: &'c Client,
    url: String,
    what: String,
    offset: u64,
    size: Option<u64>,
    body: Option<ureq::BodyReader<'static>>,
    resumes: u32,
}

impl BlobReader<'_> {
    fn open(&mut self) -> Result<(), RegistryError> {
        let headers: Vec<(&str, String)> = if self.offset > 0 {
            vec![("Range", format!("bytes={}-", self.offset))]
        } else {
            vec![]
        };
        let resp = self
            .client
            .send(Method::GET, &self.url, &headers, Payload::Empty)?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(self.client.failure(resp, &self.what));
        }
        let mut body = resp.into_body().into_reader();
        if self.offset > 0 && status == 200 {
            // The registry ignored the Range: skip what we already have.
            io::copy(&mut (&mut body).take(self.offset), &mut io::sink())
                .map_err(|e| io_to_registry(e, &self.what))?;
        }
        self.body = Some(body);
        Ok(())
    }

    fn resume(&mut self, why: &str) -> io::Result<()> {
        self.body = None;
        if self.resumes >= ATTEMPTS {
            return Err(io::Error::other(format!(
                "{}: the download broke off {} times, at byte {} ({why})",
                self.what, self.resumes, self.offset
            )));
        }
        self.resumes += 1;
        tracing::debug!(what = %self.what, offset = self.offset, %why, "resuming download");
        backoff(self.resumes);
        self.open().map_err(|e| match e {
            RegistryError::Interrupted => io::Error::other(crate::Cancelled),
            other => io::Error::other(other.to_string()),
        })
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.client.cancelled() {
                return Err(io::Error::other(crate::Cancelled));
            }
            let Some(body) = self.body.as_mut() else {
                self.resume("no connection")?;
                continue;
            };
            match body.read(buf) {
                Ok(0) => match self.size {
                    Some(size) if self.offset < size => {
                        self.resume("the connection closed early")?;
                    }
                    _ => return Ok(0),
                },
                Ok(n) => {
                    self.offset += n as u64;
                    if let Some(size) = self.size {
                        if self.offset > size {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("{}: the registry sent more than the {size} bytes the manifest gives", self.what),
                            ));
                        }
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.resume(&e.to_string())?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_error_bodies_read_as_docker_prints_them() {
        assert_eq!(
            registry_errors(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#).as_deref(),
            Some("manifest unknown: manifest unknown")
        );
        assert_eq!(registry_errors("<html>"), None);
    }
}
