//! json-file logs, as docker writes them: one JSON object a line,
//! `{"log":"text\n","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::time;

#[derive(Serialize, Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
}

/// `--log-opt max-size` / `max-file`: docker's json-file rotation. The
/// current file is `PATH`; older ones `PATH.1` (newest) to `PATH.N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes a file may hold before the next entry starts a new one.
    pub max_size: Option<u64>,
    /// Files kept, the current one included (at least 1).
    pub max_files: u32,
}

/// Appends log entries; shared by the stdout and stderr copiers.
#[derive(Clone)]
pub struct LogWriter {
    /// None: output that docker does not log (`exec`, `--log-driver none`).
    file: Option<Arc<Mutex<Rotating>>>,
}

struct Rotating {
    file: File,
    path: PathBuf,
    size: u64,
    rotation: Rotation,
}

impl Rotating {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(max) = self.rotation.max_size {
            if self.size > 0 && self.size + data.len() as u64 > max {
                self.rotate()?;
            }
        }
        self.file.write_all(data)?;
        self.size += data.len() as u64;
        Ok(())
    }

    /// PATH.(n-1) → PATH.n ... PATH → PATH.1, and a new empty PATH. A
    /// follower keeps reading the renamed file to its end, then moves on.
    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.rotation.max_files.max(1);
        if keep > 1 {
            for i in (1..keep - 1).rev() {
                let from = rotated(&self.path, i);
                if from.exists() {
                    std::fs::rename(&from, rotated(&self.path, i + 1))?;
                }
            }
            std::fs::rename(&self.path, rotated(&self.path, 1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

impl LogWriter {
    pub fn create(path: &Path, rotation: Rotation) -> io::Result<LogWriter> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            file: Some(Arc::new(Mutex::new(Rotating {
                file,
                path: path.to_path_buf(),
                size,
                rotation,
            }))),
        })
    }

    /// A writer that keeps nothing.
    pub fn discard() -> LogWriter {
        LogWriter { file: None }
    }

    /// Writes `data` as entries, one per line (a last partial line is its own entry).
    pub fn write(&self, stream: &str, data: &[u8]) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let now = time::now();
        let mut out = Vec::new();
        for line in data.split_inclusive(|b| *b == b'\n') {
            let e = Entry {
                log: String::from_utf8_lossy(line).into_owned(),
                stream: stream.into(),
                time: now.clone(),
            };
            serde_json::to_writer(&mut out, &e)?;
            out.push(b'\n');
        }
        file.lock().expect("log lock").write(&out)
    }
}

/// What `logs` should print.
#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    pub tail: Option<usize>,
    pub timestamps: bool,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// `-f`: keep printing until the container stops.
    pub follow: bool,
    /// `--details`: the log's extra attributes before each line (berth's
    /// json-file keeps none, so docker's separating space alone).
    pub details: bool,
}

/// Streams the entries of a json-file log to `stdout` and `stderr`.
pub fn read(
    path: &Path,
    opts: &LogOptions,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> io::Result<()> {
    follow(path, opts, stdout, stderr, &|| false)
}

fn wanted(e: &Entry, opts: &LogOptions) -> bool {
    let t = time::parse(&e.time);
    !(opts.since.is_some_and(|s| t.is_some_and(|t| t < s))
        || opts.until.is_some_and(|u| t.is_some_and(|t| t > u)))
}

fn print_entry(
    e: &Entry,
    opts: &LogOptions,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> io::Result<()> {
    let out: &mut dyn Write = if e.stream == "stderr" {
        &mut *stderr
    } else {
        &mut *stdout
    };
    if opts.timestamps {
        write!(out, "{} ", time::fixed_nanos(&e.time))?;
    }
    if opts.details {
        write!(out, " ")?;
    }
    out.write_all(e.log.as_bytes())
}

/// Like [`read`], then goes on printing entries as they are appended while
/// `running()` holds (`logs -f`), with one last read after it stops.
pub fn follow(
    path: &Path,
    opts: &LogOptions,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    running: &dyn Fn() -> bool,
) -> io::Result<()> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !running() => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            File::create(path)?;
            File::open(path)?
        }
        Err(e) => return Err(e),
    };
    // The rotated files, oldest first, hold what came before.
    let mut older = Vec::new();
    let mut n = 1;
    while rotated(path, n).exists() {
        older.push(rotated(path, n));
        n += 1;
    }
    older.reverse();
    let mut reader = BufReader::new(file);
    // Whole lines only: a line still being written waits for the next round.
    let mut pending = String::new();
    let next_entries =
        |reader: &mut BufReader<File>, pending: &mut String| -> io::Result<Vec<Entry>> {
            let mut out = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(out);
                }
                pending.push_str(&line);
                if !pending.ends_with('\n') {
                    return Ok(out);
                }
                if let Ok(e) = serde_json::from_str::<Entry>(pending.trim_end()) {
                    if wanted(&e, opts) {
                        out.push(e);
                    }
                }
                pending.clear();
            }
        };
    let mut entries = Vec::new();
    for p in &older {
        if let Ok(f) = File::open(p) {
            entries.extend(next_entries(&mut BufReader::new(f), &mut String::new())?);
        }
    }
    entries.extend(next_entries(&mut reader, &mut pending)?);
    let skip = opts
        .tail
        .map(|n| entries.len().saturating_sub(n))
        .unwrap_or(0);
    for e in &entries[skip..] {
        print_entry(e, opts, stdout, stderr)?;
    }
    stdout.flush()?;
    stderr.flush()?;
    let mut last_round = !running();
    while !last_round {
        std::thread::sleep(std::time::Duration::from_millis(50));
        last_round = !running();
        for e in next_entries(&mut reader, &mut pending)? {
            print_entry(&e, opts, stdout, stderr)?;
        }
        // Rotated: what we read is now PATH.1, read to its end above; go on
        // with the new PATH from its start.
        if rotated_away(reader.get_ref(), path) {
            if let Ok(f) = File::open(path) {
                reader = BufReader::new(f);
                pending.clear();
                for e in next_entries(&mut reader, &mut pending)? {
                    print_entry(&e, opts, stdout, stderr)?;
                }
            }
        }
        stdout.flush()?;
        stderr.flush()?;
    }
    Ok(())
}

/// Whether `path` now names another file than the open `file`.
fn rotated_away(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() != b.ino() || a.dev() != b.dev(),
        _ => false,
    }
}

/// Parses `--since` / `--until`: RFC 3339, a Unix timestamp, or a duration back from now (`10m`, `1h30m`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Some(t) = time::parse(s) {
        return Some(t);
    }
    if let Ok(secs) = s.parse::<f64>() {
        return DateTime::from_timestamp(secs.trunc() as i64, (secs.fract() * 1e9) as u32);
    }
    parse_duration(s).map(|d| Utc::now() - d)
}

/// Go-style durations: `1h30m`, `10s`, `500ms`.
pub fn parse_duration(s: &str) -> Option<chrono::Duration> {
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num.parse().ok()?;
        num.clear();
        total += v * match unit.as_str() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        any = true;
    }
    if !num.is_empty() || !any {
        return None;
    }
    Some(chrono::Duration::milliseconds((total * 1000.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_docker_lines() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("log");
        let w = LogWriter::create(&p, Rotation::default()).unwrap();
        w.write("stdout", b"one\ntwo\n").unwrap();
        w.write("stderr", b"err\n").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text
            .lines()
            .next()
            .unwrap()
            .starts_with(r#"{"log":"one\n","stream":"stdout","time":""#));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        read(
            &p,
            &LogOptions {
                tail: Some(2),
                ..Default::default()
            },
            &mut out,
            &mut err,
        )
        .unwrap();
        assert_eq!(
            (out.as_slice(), err.as_slice()),
            (&b"two\n"[..], &b"err\n"[..])
        );
    }

    #[test]
    fn rotation_keeps_max_files_and_reads_in_order() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("log");
        let rotation = Rotation {
            max_size: Some(200),
            max_files: 3,
        };
        let w = LogWriter::create(&p, rotation).unwrap();
        for i in 0..20 {
            w.write("stdout", format!("line {i:02}\n").as_bytes())
                .unwrap();
        }
        assert!(rotated(&p, 1).exists() && rotated(&p, 2).exists());
        assert!(!rotated(&p, 3).exists(), "no more than max-file files");
        for f in [p.clone(), rotated(&p, 1), rotated(&p, 2)] {
            assert!(std::fs::metadata(&f).unwrap().len() <= 200);
        }
        let mut out = Vec::new();
        read(&p, &LogOptions::default(), &mut out, &mut Vec::new()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() < 20, "the oldest were dropped");
        assert_eq!(*lines.last().unwrap(), "line 19");
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(lines, sorted, "oldest file first");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m").unwrap().num_minutes(), 90);
        assert_eq!(parse_duration("500ms").unwrap().num_milliseconds(), 500);
        assert!(parse_duration("10").is_none());
        assert!(parse_duration("5x").is_none());
        assert!(parse_time("2024-01-01T00:00:00Z").is_some());
    }
}
