//! What the service shares between requests: how to open the engine (one
//! per blocking thread: the store's connection is not shared between
//! threads), execs made and not yet forgotten, attach requests waiting for
//! a start, and how busy it is (for the idle timeout).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_engine::{Engine, EngineError};

use crate::exec::ExecEntry;
use crate::http::ApiError;

/// Where the store is and how it is set up.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub root: PathBuf,
    pub state_dir: PathBuf,
    pub registries_config: Option<PathBuf>,
    pub net: berth_engine::networks::NetConfig,
}

impl EngineConfig {
    fn open(&self) -> Result<Engine, EngineError> {
        let mut e = Engine::open(&self.root, &self.state_dir)?;
        e.set_registries_config(self.registries_config.clone());
        e.set_network_config(self.net.clone());
        Ok(e)
    }
}

thread_local! {
    static ENGINE: RefCell<Option<(PathBuf, Engine)>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's engine for `config`, opened on first use.
fn with_engine<T>(
    config: &EngineConfig,
    f: impl FnOnce(&Engine) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(root, _)| *root != config.root) {
            *slot = Some((config.root.clone(), config.open()?));
        }
        let (_, engine) = slot.as_ref().expect("opened above");
        f(engine)
    })
}

/// An attach request made before its container started.
pub struct PendingAttach {
    pub request: berth_engine::attach::Request,
    pub connected: tokio::sync::oneshot::Sender<std::os::unix::net::UnixStream>,
}

pub struct State {
    pub config: EngineConfig,
    pub execs: Mutex<HashMap<String, ExecEntry>>,
    pub pending: Mutex<HashMap<String, Vec<PendingAttach>>>,
    busy: AtomicUsize,
    last: Mutex<Instant>,
}

impl State {
    pub fn new(config: EngineConfig) -> State {
        State {
            config,
            execs: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            busy: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }

    /// Runs an engine call on a blocking thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_api(move |e| f(e).map_err(ApiError::from)).await
    }

    /// [`State::run`] for calls that make their own API errors.
    pub async fn run_api<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || with_engine(&config, f))
            .await
            .map_err(|e| ApiError::internal(format!("the engine call failed: {e}")))?
    }

    /// How long nothing has been under way (zero while something is).
    pub fn idle_for(&self) -> Duration {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        self.last.lock().expect("activity lock").elapsed()
    }
}

/// Held while a request, its streamed answer or a hijacked connection is
/// under way: the service is not idle then.
pub struct Busy(Arc<State>);

impl Busy {
    pub fn new(state: &Arc<State>) -> Busy {
        state.busy.fetch_add(1, Ordering::SeqCst);
        Busy(state.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock().expect("activity lock") = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}
