//! The `huiyuan` binary end to end, each test on a temporary data directory of its own. One test
//! binary, so the suite links once.
//!
//! - `serve`: zero-configuration start, graceful shutdown, the administration commands.
//! - `import`: `huiyuan import members` and the members as the API then serves them.
//! - `rotate_keys`: `huiyuan rotate-keys` between two runs of the server.
//! - `process`: the binary under test and a running `huiyuan serve`.

mod import;
mod process;
mod rotate_keys;
mod serve;
