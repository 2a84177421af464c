//! Merging two members and undoing a merge.
