//! Async work that must finish wherever it is called from: template builds, which many tests on
//! many runtimes wait for, and cleanups in `Drop`, which may run inside a runtime or while a
//! panic unwinds it.

use std::future::Future;

/// Runs the future `make` returns to completion on a thread of its own, with a runtime of its
/// own, and answers its output; a panic inside it is raised again here.
pub(crate) fn on_own_thread<T, F>(make: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    let worker = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build a runtime")
            .block_on(make())
    });
    match worker.join() {
        Ok(output) => output,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
