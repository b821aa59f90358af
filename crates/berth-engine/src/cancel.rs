//! Ctrl-C for long operations (build, pull, push): SIGINT/SIGTERM set a flag
//! instead of killing the process, the work stops at its next check, and
//! everything half-made is cleaned up on the way out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The flag, with the signal handlers installed on first use.
pub(crate) fn interrupt_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register(sig, flag.clone());
        }
        flag
    })
}

pub(crate) fn interrupted() -> bool {
    interrupt_flag().load(Ordering::Relaxed)
}
