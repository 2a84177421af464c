//! The fingerprint of a migration tree: templates are named by it, so a changed or added
//! migration gets a new template instead of a stale one, and runs that share a tree (several
//! test binaries, several checkouts on one PostgreSQL server) share its template.

use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Raised when what a template holds changes without a migration changing (its layout here).
const LAYOUT_VERSION: &str = "testkit-template-1";

/// `huiyuan-store`'s migration tree for `backend_dir` (`sqlite` or `postgres`).
fn tree(backend_dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../store/migrations")
        .join(backend_dir)
}

/// 16 hex digits of a SHA-256 over the tree's file names and contents, in name order.
pub fn fingerprint(backend_dir: &str) -> String {
    let dir = tree(backend_dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("read the migrations in {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    let mut hash = Sha256::new();
    hash.update(LAYOUT_VERSION);
    for file in files {
        let name = file.file_name().expect("a file name");
        hash.update(name.as_encoded_bytes());
        hash.update([0]);
        hash.update(std::fs::read(&file).expect("read a migration"));
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..8])
}
