//! The macro behind every suite's `on_both!`.

/// Generates, for each `async fn name(…)` of the calling module, `mod name` with a `sqlite` and a
/// `postgres` test, each calling `$run(Backend, name)`: the suite's runner, which opens what the
/// test takes (a store, a running app) on that database. `multi_thread:` after the runner puts
/// them on a 4-worker runtime, for tests whose point is concurrency; attributes before a name
/// (`#[ignore = "…"]`) go on both.
///
/// Each suite wraps it in a one-line `on_both!` of its own that names its runner, so test modules
/// only list their tests.
#[macro_export]
macro_rules! on_both {
    ($run:path; multi_thread: $($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$meta])*
            async fn sqlite() {
                $run($crate::Backend::Sqlite, super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$meta])*
            async fn postgres() {
                $run($crate::Backend::Postgres, super::$name).await;
            }
        }
    )+};
    ($run:path; $($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            $(#[$meta])*
            async fn sqlite() {
                $run($crate::Backend::Sqlite, super::$name).await;
            }

            #[tokio::test]
            $(#[$meta])*
            async fn postgres() {
                $run($crate::Backend::Postgres, super::$name).await;
            }
        }
    )+};
}
