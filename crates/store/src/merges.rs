//! The merge log and moving member-owned rows between members.
