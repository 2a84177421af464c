//! Writes whose outcome nobody reads, queued in a write transaction and sent together.
//!
//! Every statement is a round trip: to sqlx's SQLite worker thread (two thread wake-ups, and the
//! one writer connection stays taken while the task waits for a core) or over the network to
//! PostgreSQL. An insert with a fresh id, an increment without a guard or an audit entry need no
//! answer, so [`Session::defer`](crate::Session::defer) queues them and the queue goes out in one
//! round trip before the session's next statement or at commit — the transaction's reads still
//! see every earlier write, and a failing queued write still fails (and rolls back) the
//! transaction, only later.
//!
//! A queued write is a [`Write`]: the rows of an insert, or the changes of the rows an equality
//! key finds, named by table and column. The queue builds the SQL from that structure, so it
//! knows which table each write touches without reading SQL text back.
//!
//! One round trip: SQLite runs `;`-separated statements in one call; PostgreSQL runs
//! data-modifying statements as the parts of one `WITH` statement. The parts of one PostgreSQL
//! statement share its snapshot — an update would not see a row an earlier part inserted, and of
//! two updates of one row only one would count — so an update of a table the statement already
//! writes starts the next statement (two round trips then, still in order).
//!
//! - `write`: [`Write`], what callers queue, and the SQL text each becomes.
//! - `queue`: a session's queue, grouped into one call per database.
//! - `value`: [`Value`], a value bound to a queued (or built) statement.

mod queue;
mod value;
mod write;

pub(crate) use queue::Queue;
pub use value::Value;
pub(crate) use value::{execute_now, postgres_query, sqlite_query};
pub use write::{Change, Write};
