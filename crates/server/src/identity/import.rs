//! Legacy member import.
