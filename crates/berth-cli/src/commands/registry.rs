//! `pull`, `push`, `login`, `logout`, with docker's output: one line per
//! layer, redrawn in place as progress bars on a terminal, plain status lines
//! otherwise.

use std::io::{IsTerminal, Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_engine::pull::{LayerStatus, PullEvent, PullOptions, Pulled};
use berth_engine::push::{PushEvent, PushStatus};
use berth_engine::time::human_size;
use berth_engine::{Engine, EngineError};
use berth_image::spec::Platform;

use super::{fail, CliError};
use crate::cli::{LoginArgs, LogoutArgs, PullArgs, PushArgs};

/// Lines keyed by layer id, as docker's jsonmessage display draws them.
pub struct LayerLines {
    out: Mutex<Screen>,
    tty: bool,
}

struct Screen {
    w: Box<dyn Write + Send>,
    ids: Vec<String>,
    texts: Vec<String>,
    /// How many layer lines are on the terminal below the header.
    drawn: usize,
    last_draw: Instant,
    /// When each layer's bytes started moving, for its speed.
    started: std::collections::HashMap<String, Instant>,
}

impl LayerLines {
    pub fn new(w: Box<dyn Write + Send>, tty: bool) -> Self {
        LayerLines {
            out: Mutex::new(Screen {
                w,
                ids: Vec::new(),
                texts: Vec::new(),
                drawn: 0,
                last_draw: Instant::now(),
                started: Default::default(),
            }),
            tty,
        }
    }

    /// A line that is not a layer's (`latest: Pulling from ...`, `Digest: ...`).
    pub fn message(&self, text: &str) {
        let mut s = self.out.lock().expect("screen");
        let _ = writeln!(s.w, "{text}");
        // Layer lines start below it.
        s.ids.clear();
        s.texts.clear();
        s.drawn = 0;
    }

    /// A layer's byte progress as docker's bar, with its speed.
    pub fn progress(&self, id: &str, verb: &str, done: u64, total: u64) {
        let started = *self
            .out
            .lock()
            .expect("screen")
            .started
            .entry(id.to_string())
            .or_insert_with(Instant::now);
        let secs = started.elapsed().as_secs_f64();
        let speed = if secs > 0.05 {
            format!("  {}/s", human_size((done as f64 / secs) as u64))
        } else {
            String::new()
        };
        self.layer(id, format!("{}{speed}", bar(verb, done, total)), true);
    }

    /// Sets a layer's line. Byte progress (`transient`) only shows on a
    /// terminal, and at most ten times a second.
    pub fn layer(&self, id: &str, text: String, transient: bool) {
        let mut s = self.out.lock().expect("screen");
        let known = s.ids.iter().position(|i| i == id);
        let i = match known {
            Some(i) => i,
            None => {
                s.ids.push(id.to_string());
                s.texts.push(String::new());
                s.ids.len() - 1
            }
        };
        s.texts[i] = text;
        if !self.tty {
            if !transient {
                let line = format!("{id}: {}", s.texts[i]);
                let _ = writeln!(s.w, "{line}");
            }
            return;
        }
        if transient && known.is_some() && s.last_draw.elapsed() < Duration::from_millis(100) {
            return;
        }
        s.redraw();
    }
}

impl Screen {
    fn redraw(&mut self) {
        let mut buf = String::new();
        if self.drawn > 0 {
            buf.push_str(&format!("\x1b[{}A", self.drawn));
        }
        for (id, text) in self.ids.iter().zip(&self.texts) {
            buf.push_str(&format!("\x1b[2K\r{id}: {text}\n"));
        }
        self.drawn = self.ids.len();
        self.last_draw = Instant::now();
        let _ = self.w.write_all(buf.as_bytes());
        let _ = self.w.flush();
    }
}

/// docker's `Downloading [=====>     ]  12.3MB/50MB`.
fn bar(verb: &str, done: u64, total: u64) -> String {
    const WIDTH: usize = 50;
    let filled = if total == 0 {
        0
    } else {
        ((done as f64 / total as f64) * WIDTH as f64) as usize
    }
    .min(WIDTH);
    let mut b = "=".repeat(filled);
    if filled < WIDTH {
        b.push('>');
        b.push_str(&" ".repeat(WIDTH - filled - 1));
    }
    format!("{verb} [{b}]  {}/{}", human_size(done), human_size(total))
}

fn pull_event(lines: &LayerLines, e: PullEvent) {
    match e {
        PullEvent::Resolved { tag, repository } => {
            lines.message(&format!("{tag}: Pulling from {repository}"))
        }
        PullEvent::Layer { id, status } => {
            let (text, transient) = match status {
                LayerStatus::AlreadyExists => ("Already exists".to_string(), false),
                LayerStatus::Waiting => ("Pulling fs layer".to_string(), false),
                LayerStatus::Downloading { done, total } => {
                    return lines.progress(&id, "Downloading", done, total)
                }
                LayerStatus::Complete => ("Pull complete".to_string(), false),
            };
            lines.layer(&id, text, transient);
        }
    }
}

/// Pulls with docker's display on `w` (stdout for `pull`, stderr for `run`).
pub fn pull_with_progress(
    engine: &Engine,
    name: &str,
    opts: &PullOptions,
    w: Box<dyn Write + Send>,
    tty: bool,
) -> Result<Pulled, EngineError> {
    let lines = LayerLines::new(w, tty);
    let pulled = engine.pull(name, opts, &|e| pull_event(&lines, e))?;
    finish_pull(&lines, &pulled);
    Ok(pulled)
}

fn finish_pull(lines: &LayerLines, p: &Pulled) {
    lines.message(&format!("Digest: {}", p.digest));
    let status = if p.updated {
        "Downloaded newer image for"
    } else {
        "Image is up to date for"
    };
    lines.message(&format!("Status: {status} {}", p.reference.familiar()));
}

/// Ctrl-C ends a transfer with 130, as a shell reports SIGINT; else docker's 1.
fn transfer_error(e: EngineError) -> CliError {
    match e {
        EngineError::Interrupted => CliError::new(
            130,
            "canceled: interrupted; nothing was kept, so pull again to start over",
        ),
        other => fail(other),
    }
}

pub fn pull(engine: &Engine, a: PullArgs) -> Result<i32, CliError> {
    let opts = PullOptions {
        platform: a
            .platform
            .as_deref()
            .map(Platform::parse)
            .transpose()
            .map_err(|e| CliError::new(1, e))?,
        ..Default::default()
    };
    let name_given =
        berth_image::Reference::parse_unnormalised(&a.name).map_err(|e| fail(e.into()))?;
    let quiet_sink = || -> Box<dyn Write + Send> { Box::new(std::io::sink()) };
    let out = || -> Box<dyn Write + Send> {
        if a.quiet {
            quiet_sink()
        } else {
            Box::new(std::io::stdout())
        }
    };
    let tty = !a.quiet && std::io::stdout().is_terminal();
    if a.all_tags {
        let lines = LayerLines::new(out(), tty);
        let pulled = engine
            .pull_all_tags(&a.name, &opts, &|e| pull_event(&lines, e))
            .map_err(transfer_error)?;
        if let Some(last) = pulled.last() {
            lines.message(&format!(
                "Status: Downloaded newer image for {}",
                last.reference.familiar_name()
            ));
        }
        println!("{}", name_given.name());
        return Ok(0);
    }
    if name_given.tag.is_none() && name_given.digest.is_none() && !a.quiet {
        println!("Using default tag: latest");
    }
    let pulled = pull_with_progress(engine, &a.name, &opts, out(), tty).map_err(transfer_error)?;
    println!("{}", pulled.reference);
    Ok(0)
}

pub fn push(engine: &Engine, a: PushArgs) -> Result<i32, CliError> {
    let tty = !a.quiet && std::io::stdout().is_terminal();
    let lines = LayerLines::new(
        if a.quiet {
            Box::new(std::io::sink())
        } else {
            Box::new(std::io::stdout())
        },
        tty,
    );
    let given = berth_image::Reference::parse_unnormalised(&a.name).map_err(|e| fail(e.into()))?;
    if given.tag.is_none() && !a.all_tags && !a.quiet {
        println!("Using default tag: latest");
    }
    let pushed = engine
        .push(&a.name, a.all_tags, None, &|e| match e {
            PushEvent::Repository(r) => {
                lines.message(&format!("The push refers to repository [{r}]"))
            }
            PushEvent::Layer { id, status } => {
                let (text, transient) = match status {
                    PushStatus::Preparing => ("Preparing".to_string(), false),
                    PushStatus::Pushing { done, total } => {
                        return lines.progress(&id, "Pushing", done, total)
                    }
                    PushStatus::Pushed => ("Pushed".to_string(), false),
                    PushStatus::AlreadyExists => ("Layer already exists".to_string(), false),
                    PushStatus::MountedFrom(from) => (format!("Mounted from {from}"), false),
                };
                lines.layer(&id, text, transient);
            }
        })
        .map_err(transfer_error)?;
    for p in &pushed {
        if a.quiet {
            println!("{}", given.with_tag(&p.tag));
        } else {
            lines.message(&format!("{}: digest: {} size: {}", p.tag, p.digest, p.size));
        }
    }
    Ok(0)
}

pub fn login(registries_config: Option<&std::path::Path>, a: LoginArgs) -> Result<i32, CliError> {
    let server = a.server.clone().unwrap_or_else(|| "docker.io".into());
    if a.password.is_some() && a.password_stdin {
        return Err(CliError::new(
            1,
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    let password = if a.password_stdin {
        if a.username.is_none() {
            return Err(CliError::new(
                1,
                "Must provide --username with --password-stdin",
            ));
        }
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::new(1, format!("reading the password from stdin: {e}")))?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = a.password.clone() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new(
                1,
                "Cannot perform an interactive login from a non TTY device: give -u USER --password-stdin",
            ));
        }
        prompt_password()?
    };
    let username = match a.username.clone() {
        Some(u) => u,
        None => prompt_line("Username: ")?,
    };
    if username.is_empty() || password.is_empty() {
        return Err(CliError::new(1, "Username and password are required"));
    }
    let credential = berth_engine::pull::Credential {
        username,
        secret: password,
    };
    berth_engine::pull::login(registries_config, &server, credential)
        .map_err(|e| CliError::new(1, format!("login to {server} failed: {e}")))?;
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(a: LogoutArgs) -> Result<i32, CliError> {
    let server = a.server.as_deref().unwrap_or("docker.io");
    let (name, had) = berth_engine::pull::logout(server).map_err(fail)?;
    if had {
        println!("Removing login credentials for {name}");
    } else {
        println!("Not logged in to {name}");
    }
    Ok(0)
}

fn prompt_line(prompt: &str) -> Result<String, CliError> {
    eprint!("{prompt}");
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .map_err(|e| CliError::new(1, e.to_string()))?;
    Ok(s.trim().to_string())
}

/// Reads a password from the terminal with echo off.
fn prompt_password() -> Result<String, CliError> {
    use nix::sys::termios::{self, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).map_err(|e| CliError::new(1, e.to_string()))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet)
        .map_err(|e| CliError::new(1, e.to_string()))?;
    let line = prompt_line("Password: ");
    let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    line
}
