//! Build output in BuildKit's plain format: numbered steps, their output
//! lines with elapsed time, CACHED and DONE marks.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Where build progress goes (stderr, or nowhere with `-q`).
#[derive(Clone)]
pub struct Progress {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    next: Arc<Mutex<u32>>,
    quiet: bool,
}

/// One numbered step.
pub struct Step {
    progress: Progress,
    pub number: u32,
    started: Instant,
    /// The last lines of output, for the error report.
    tail: Arc<Mutex<Vec<String>>>,
}

impl Progress {
    pub fn new(out: Box<dyn Write + Send>, quiet: bool) -> Progress {
        Progress {
            out: Arc::new(Mutex::new(out)),
            next: Arc::new(Mutex::new(1)),
            quiet,
        }
    }

    fn line(&self, text: &str) {
        if !self.quiet {
            let mut out = self.out.lock().unwrap();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    pub fn step(&self, title: &str) -> Step {
        let number = {
            let mut n = self.next.lock().unwrap();
            *n += 1;
            *n - 1
        };
        self.line(&format!("#{number} {title}"));
        Step {
            progress: self.clone(),
            number,
            started: Instant::now(),
            tail: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl Step {
    pub fn log(&self, text: &str) {
        self.progress.line(&format!("#{} {text}", self.number));
    }

    /// A line of the step's own output, with the time since it started.
    pub fn output(&self, text: &str) {
        let t = self.started.elapsed().as_secs_f64();
        self.progress
            .line(&format!("#{} {t:.3} {text}", self.number));
        let mut tail = self.tail.lock().unwrap();
        tail.push(text.to_string());
        if tail.len() > 10 {
            tail.remove(0);
        }
    }

    pub fn tail(&self) -> Vec<String> {
        self.tail.lock().unwrap().clone()
    }

    pub fn cached(self) {
        self.log("CACHED");
    }

    pub fn done(self) {
        let t = self.started.elapsed().as_secs_f64();
        self.log(&format!("DONE {t:.1}s"));
    }

    pub fn error(self, message: &str) {
        self.log(&format!("ERROR: {message}"));
    }

    pub fn clone_handle(&self) -> Step {
        Step {
            progress: self.progress.clone(),
            number: self.number,
            started: self.started,
            tail: self.tail.clone(),
        }
    }
}
