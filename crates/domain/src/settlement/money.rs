//! Fen from points and shares from basis points. Every conversion rounds half away from zero
//! here, so the same sum is valued the same way everywhere; products are taken in i128 so a
//! large period cannot overflow before the division.

/// `points` valued at `fen` per `per_points` points, rounded half away from zero. A zero or
/// negative `per_points` values nothing (validation keeps it positive).
pub fn value_fen(points: i64, fen: i64, per_points: i64) -> i64 {
    divide_rounded(i128::from(points) * i128::from(fen), i128::from(per_points))
}

/// `bps` basis points (1/10 000) of `amount_fen`, rounded half away from zero.
pub fn share_bps(amount_fen: i64, bps: i64) -> i64 {
    divide_rounded(i128::from(amount_fen) * i128::from(bps), 10_000)
}

fn divide_rounded(numerator: i128, denominator: i128) -> i64 {
    if denominator <= 0 {
        return 0;
    }
    let half = denominator / 2;
    let rounded = if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        -((-numerator + half) / denominator)
    };
    i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN })
}
