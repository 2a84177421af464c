//! Whether two names probably name one person (the probable-duplicate review).

use crate::app::identity::sealed::fold;

/// Whether two names probably name one person: equal once folded, one the other's beginning
/// (`张三` and `张三丰`), or — for names of three or more characters — one typo apart. Two-character
/// names must be equal: at one address, `张伟` and `张强` are more likely father and son.
pub fn similar_names(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (fold(a).chars().collect(), fold(b).chars().collect());
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if short.len() >= 2 && long.starts_with(short) {
        return true;
    }
    short.len() >= 3 && long.len() - short.len() <= 1 && one_edit_apart(short, long)
}

/// Whether `long` (at most one longer) becomes `short` by one substitution or deletion.
pub(super) fn one_edit_apart(short: &[char], long: &[char]) -> bool {
    let mut i = 0;
    while i < short.len() && short[i] == long[i] {
        i += 1;
    }
    if short.len() == long.len() {
        short[i + 1..] == long[i + 1..]
    } else {
        short[i..] == long[i + 1..]
    }
}
