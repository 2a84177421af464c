//! A thread of its own for SQLite write transactions (every [`crate::app::mutation`] runs there), and
//! group commit over them.
//!
//! SQLite has one writer connection, and a transaction holds it from `BEGIN` to `COMMIT`. Each
//! statement is a hand-off to sqlx's worker thread and back; on the shared runtime the task that
//! holds the writer is woken into a queue behind every HTTP request in flight, so the writer sits
//! idle between statements and the next transaction waits. Running the transactions on a
//! single-threaded runtime that does nothing else puts the holder back to work as soon as its
//! statement is done.
//!
//! The changes waiting when the writer frees up run as one [`WriteGroup`]: one transaction, a
//! savepoint each, one commit (see [`huiyuan_store::write_group`] for what that saves). A change
//! that fails is rolled back alone and answered at once; the others are answered after the
//! group's commit, so no caller ever hears of a write that is not durable. The lane's thread and
//! sqlx's worker thread for the writer connection are kept on one CPU (see
//! [`crate::writer_affinity`]) unless the settings say not to. PostgreSQL has many
//! writers and its sockets belong to the main runtime's reactor, so there each change runs where
//! it was called, in a transaction of its own.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::writer_affinity::{self, Pinned};
use huiyuan_store::write_group::WriteGroup;
use huiyuan_store::{Session, Store, StoreError};
use std::future::Future;
use std::pin::Pin;
use tokio::runtime::Builder;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// Most changes in one group: bounds how long the first of them waits for its answer.
const MAX_GROUP: usize = 32;

/// Answers a change's caller once the group's fate is known.
type Deliver = Box<dyn FnOnce(Result<(), ApiError>) + Send>;

/// A change waiting for the writer: runs in the session it is given.
type Job = Box<dyn FnOnce(Session) -> Pin<Box<dyn Future<Output = Deliver> + Send>> + Send>;

/// Where write transactions run; cheap to clone. The thread ends when the last clone goes.
#[derive(Clone)]
pub struct WriterLane {
    /// `None`: run in place (PostgreSQL, or the thread could not start).
    jobs: Option<mpsc::UnboundedSender<Job>>,
}

impl WriterLane {
    /// A lane on its own thread for SQLite, on one CPU with the writer connection's thread when
    /// `pin` is set; in place for PostgreSQL.
    pub fn new(store: &Store, pin: bool) -> Self {
        let in_place = Self { jobs: None };
        if store.backend_name() != "sqlite" {
            return in_place;
        }
        let runtime = match Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::warn!(%error, "no writer lane; write transactions run on the main runtime");
                return in_place;
            }
        };
        let (jobs, waiting) = mpsc::unbounded_channel();
        let store = store.clone();
        let started = std::thread::Builder::new()
            .name("huiyuan-writer".to_owned())
            // Runs until every clone of the lane (every sender) is gone.
            .spawn(move || {
                // Chosen before this thread is pinned, from the CPUs it inherited.
                let cpu = pin.then(writer_affinity::choose_cpu).flatten();
                runtime.block_on(coordinate(store, waiting, cpu))
            });
        match started {
            Ok(_) => Self { jobs: Some(jobs) },
            Err(error) => {
                tracing::warn!(%error, "no writer lane; write transactions run on the main runtime");
                in_place
            }
        }
    }

    /// Runs `work` (a whole write transaction) on the lane and answers with its result once it
    /// is committed. `work` gets the session to write in, or `None` to open its own (in place).
    pub async fn run<T, F, Fut>(&self, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Option<Session>) -> Fut + Send + 'static,
        Fut: Future<Output = ApiResult<T>> + Send + 'static,
    {
        let Some(jobs) = &self.jobs else {
            return work(None).await;
        };
        let (answer, answered) = oneshot::channel::<ApiResult<T>>();
        // In the caller's span, so what the transaction logs keeps the request's fields.
        let span = tracing::Span::current();
        let job: Job = Box::new(move |session| {
            Box::pin(
                async move {
                    match work(Some(session)).await {
                        Ok(value) => Box::new(move |committed: Result<(), ApiError>| {
                            answer.send(committed.map(|()| value)).ok();
                        }) as Deliver,
                        // Its writes are rolled back to its savepoint, never committed: nothing
                        // to wait for.
                        Err(error) => {
                            answer.send(Err(error)).ok();
                            Box::new(|_| {}) as Deliver
                        }
                    }
                }
                .instrument(span),
            )
        });
        jobs.send(job)
            .map_err(|_| ApiError::internal("the writer lane has stopped"))?;
        answered.await.map_err(|_| {
            // The group it ran in could not begin, or the change panicked: nothing was written.
            ApiError::with_detail(ErrorCode::Unavailable, "the write could not be run; retry")
        })?
    }
}

/// Puts this thread and the writer connection's on `cpu` and makes this one a batch thread (see
/// [`writer_affinity`]); a failure costs speed only, so it is logged and the lane goes on.
fn pin(store: &Store, cpu: Option<usize>) {
    let Some(worker) = store.sqlite_writer_thread() else {
        return;
    };
    match writer_affinity::pin_with(&worker, cpu) {
        Ok(Pinned::Cpu(cpu)) => tracing::info!(cpu, "SQLite writer threads kept on one CPU"),
        Ok(Pinned::NotNeeded) => {}
        Err(error) => tracing::warn!(
            %error,
            "could not pin the SQLite writer threads to one CPU or make the lane a batch thread"
        ),
    }
}

/// The lane's loop: takes the changes waiting, runs them as one group, commits, answers.
async fn coordinate(store: Store, mut waiting: mpsc::UnboundedReceiver<Job>, cpu: Option<usize>) {
    pin(&store, cpu);
    while let Some(first) = waiting.recv().await {
        let mut group = match WriteGroup::begin(&store).await {
            Ok(Some(group)) => group,
            Ok(None) => return,
            Err(error) => {
                // Dropping the change answers its caller 503; the next one tries again.
                tracing::error!(%error, "could not begin a write transaction");
                drop(first);
                // The pool may open a new writer connection, on a new thread.
                pin(&store, cpu);
                continue;
            }
        };
        // The changes waiting now, and no later ones: a change that came after the group began
        // would hold back the answers of those before it.
        let quota = (waiting.len() + 1).min(MAX_GROUP);
        let mut answers: Vec<Deliver> = Vec::new();
        let (mut next, mut taken) = (Some(first), 0);
        let mut broken = None;
        while let Some(job) = next.take() {
            taken += 1;
            let session = group.session().await;
            // A task of its own, so a panicking change loses only its own answer.
            match tokio::spawn(job(session)).await {
                Ok(deliver) => answers.push(deliver),
                Err(error) => tracing::error!(%error, "a write transaction panicked"),
            }
            if let Err(error) = group.settle().await {
                broken = Some(error);
                break;
            }
            if taken < quota {
                next = waiting.try_recv().ok();
            }
        }
        let committed = match broken {
            // Dropping the group rolls every change in it back.
            Some(error) => Err(error),
            None if group.changes() == 0 => Ok(()),
            None => group.commit().await,
        };
        if let Err(error) = &committed {
            tracing::error!(%error, changes = answers.len(), "a group of write transactions failed");
            pin(&store, cpu);
        }
        for deliver in answers {
            deliver(committed.as_ref().map(|_| ()).map_err(group_failure));
        }
    }
}

/// What each change of a failed group answers: nothing of it was written, and a retry is safe.
fn group_failure(error: &StoreError) -> ApiError {
    let code = if error.is_unavailable() {
        ErrorCode::Unavailable
    } else {
        ErrorCode::Internal
    };
    ApiError {
        cause: Some(error.to_string()),
        ..ApiError::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use huiyuan_store::{DatabaseSettings, on_backend};

    async fn store_with_table() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&DatabaseSettings::sqlite(dir.path()))
            .await
            .unwrap();
        let mut s = store.write().await.unwrap();
        on_backend!(s, c => sqlx::query("CREATE TABLE lane_rows (id BIGINT PRIMARY KEY)")
            .execute(&mut *c).await.map(|_| ()))
        .unwrap();
        s.commit().await.unwrap();
        (dir, store)
    }

    async fn insert(session: &mut Session, id: i64) -> ApiResult<()> {
        on_backend!(session, c => sqlx::query("INSERT INTO lane_rows (id) VALUES ($1)")
            .bind(id).execute(&mut *c).await.map(|_| ()))
        .map_err(StoreError::from)?;
        Ok(())
    }

    async fn stored(store: &Store, id: Option<i64>) -> Vec<i64> {
        let mut read = store.read().await.unwrap();
        on_backend!(read, c => sqlx::query_scalar(
            "SELECT id FROM lane_rows WHERE $1 IS NULL OR id = $1 ORDER BY id")
            .bind(id).fetch_all(&mut *c).await)
        .unwrap()
    }

    /// 200 changes at once, so the lane runs them in groups: each kept change is committed
    /// before its caller hears of it; one that fails — by its own error, by a statement the
    /// database refuses, or by panicking — leaves nothing behind and takes no other change with
    /// it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failed_changes_leave_their_group_and_answers_wait_for_the_commit() {
        let (_dir, store) = store_with_table().await;
        let lane = WriterLane::new(&store, true);
        let fails = |id: i64| id % 3 == 0 || id % 7 == 0 || id % 11 == 5;
        let mut tasks = Vec::new();
        for id in 0..200_i64 {
            let (lane, store) = (lane.clone(), store.clone());
            tasks.push(tokio::spawn(async move {
                let result = lane
                    .run(move |session| async move {
                        let mut session = session.expect("SQLite changes run in a group");
                        insert(&mut session, id).await?;
                        if id % 3 == 0 {
                            return Err(ApiError::new(ErrorCode::Conflict));
                        }
                        if id % 7 == 0 {
                            insert(&mut session, id).await?;
                        }
                        if id % 11 == 5 {
                            panic!("change {id} panics after writing");
                        }
                        session.commit().await?;
                        Ok(id)
                    })
                    .await;
                if result.is_ok() {
                    assert_eq!(
                        stored(&store, Some(id)).await,
                        vec![id],
                        "change {id} was answered before its group committed"
                    );
                }
                (id, result)
            }));
        }
        for task in tasks {
            let (id, result) = task.await.unwrap();
            match result {
                Ok(answer) => {
                    assert!(!fails(id), "change {id} should have failed");
                    assert_eq!(answer, id);
                }
                Err(error) => {
                    assert!(fails(id), "change {id} failed: {error:?}");
                    let expected = if id % 3 == 0 || id % 7 == 0 {
                        ErrorCode::Conflict
                    } else {
                        ErrorCode::Unavailable
                    };
                    assert_eq!(error.code, expected, "change {id}");
                }
            }
        }
        let kept: Vec<i64> = (0..200).filter(|id| !fails(*id)).collect();
        assert_eq!(stored(&store, None).await, kept);
    }

    /// The lane keeps the store's writer thread on the one CPU it chose (when there are two or
    /// more to choose from), and leaves it alone when told not to.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_thread_is_kept_on_one_cpu_unless_told_not_to() {
        for pin in [true, false] {
            let (_dir, store) = store_with_table().await;
            let lane = WriterLane::new(&store, pin);
            lane.run(|session| async move {
                let mut session = session.expect("SQLite changes run in a group");
                insert(&mut session, 1).await?;
                session.commit().await?;
                Ok(())
            })
            .await
            .unwrap();
            let worker = store.sqlite_writer_thread().unwrap();
            let cpus = writer_affinity::cpus_of_thread(&worker).unwrap();
            let all = writer_affinity::cpus_of_thread_self();
            match (pin, writer_affinity::choose_cpu()) {
                (true, Some(cpu)) => assert_eq!(cpus, vec![cpu]),
                _ => assert_eq!(cpus, all, "pin: {pin}"),
            }
        }
    }
}
