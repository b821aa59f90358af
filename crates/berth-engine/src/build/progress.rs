//! Build output: BuildKit's plain format (numbered steps, their output lines
//! with elapsed time, CACHED and DONE marks), or on a terminal a compact view
//! that shows one line per step with its time, and a step's output only when
//! it fails; or the classic builder's (`Step 1/3 : FROM busybox`, the
//! output as it comes, ` ---> Using cache`), which the API's `/build` gives.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Tty,
    Quiet,
    Classic,
}

/// Where build progress goes (stderr, or nowhere with `-q`).
#[derive(Clone)]
pub struct Progress {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    next: Arc<Mutex<u32>>,
    mode: Mode,
    started: Instant,
}

/// One numbered step.
pub struct Step {
    progress: Progress,
    pub number: u32,
    title: String,
    started: Instant,
    /// The last lines of output, for the error report.
    tail: Arc<Mutex<Vec<String>>>,
}

impl Progress {
    pub fn new(out: Box<dyn Write + Send>, mode: Mode) -> Progress {
        Progress {
            out: Arc::new(Mutex::new(out)),
            next: Arc::new(Mutex::new(1)),
            mode,
            started: Instant::now(),
        }
    }

    fn write(&self, text: &str) {
        let mut out = self.out.lock().unwrap();
        let _ = write!(out, "{text}");
        let _ = out.flush();
    }

    fn line(&self, text: &str) {
        if self.mode == Mode::Plain {
            self.write(&format!("{text}\n"));
        }
    }

    pub fn step(&self, title: &str) -> Step {
        let number = {
            let mut n = self.next.lock().unwrap();
            *n += 1;
            *n - 1
        };
        match self.mode {
            Mode::Plain => self.line(&format!("#{number} {title}")),
            Mode::Tty => self.write(&format!("\x1b[34m => {title}\x1b[0m")),
            Mode::Classic => {
                if let Some(step) = classic_title(title) {
                    self.write(&format!("{step}\n"));
                }
            }
            Mode::Quiet => {}
        }
        Step {
            progress: self.clone(),
            number,
            title: title.to_string(),
            started: Instant::now(),
            tail: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The closing line on a terminal: the whole build's time.
    pub fn finish(&self) {
        if self.mode == Mode::Tty {
            self.write(&format!(
                "\x1b[34m[+] Building {:.1}s (done)\x1b[0m\n",
                self.started.elapsed().as_secs_f64()
            ));
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
        if self.progress.mode == Mode::Classic {
            self.progress.write(&format!("{text}\n"));
        }
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

    /// Rewrites the step's terminal line with its outcome.
    fn settle(&self, mark: &str, colour: &str) {
        let t = self.started.elapsed().as_secs_f64();
        self.progress.write(&format!(
            "\r\x1b[K\x1b[{colour}m => {mark}{}{:>8}\x1b[0m\n",
            self.title,
            format!("{t:.1}s")
        ));
    }

    pub fn cached(self) {
        match self.progress.mode {
            Mode::Tty => self.settle("CACHED ", "34"),
            Mode::Classic => self.progress.write(" ---> Using cache\n"),
            _ => self.log("CACHED"),
        }
    }

    pub fn done(self) {
        let t = self.started.elapsed().as_secs_f64();
        match self.progress.mode {
            Mode::Tty => self.settle("", "34"),
            _ => self.log(&format!("DONE {t:.1}s")),
        }
    }

    pub fn error(self, message: &str) {
        match self.progress.mode {
            Mode::Tty => {
                self.settle("ERROR ", "31");
                for l in self.tail() {
                    self.progress.write(&format!("\x1b[31m    {l}\x1b[0m\n"));
                }
            }
            _ => self.log(&format!("ERROR: {message}")),
        }
    }

    pub fn clone_handle(&self) -> Step {
        Step {
            progress: self.progress.clone(),
            number: self.number,
            title: self.title.clone(),
            started: self.started,
            tail: self.tail.clone(),
        }
    }
}

/// `[stage 2/5] RUN make` → `Step 2/5 : RUN make`; None for BuildKit's own
/// steps (loading the context, exporting), which the classic builder has not.
fn classic_title(title: &str) -> Option<String> {
    let rest = title.strip_prefix('[')?;
    let (counter, instruction) = rest.split_once("] ")?;
    if counter.starts_with("internal") {
        return None;
    }
    let numbers = counter.rsplit(' ').next()?;
    Some(format!("Step {numbers} : {instruction}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn classic_titles() {
        assert_eq!(
            super::classic_title("[2/3] RUN echo hi").as_deref(),
            Some("Step 2/3 : RUN echo hi")
        );
        assert_eq!(
            super::classic_title("[builder 1/2] FROM busybox").as_deref(),
            Some("Step 1/2 : FROM busybox")
        );
        assert_eq!(super::classic_title("[internal] load build context"), None);
        assert_eq!(super::classic_title("exporting to image"), None);
    }
}
