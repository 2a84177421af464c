//! Exact pro-rata splits. Sharing ¥10 of points-as-cash over three lines of ¥1 each cannot give
//! every line a third of a fen; the largest-remainder method hands out the floors and then one
//! fen each to the lines with the largest remainders, so the parts always sum to the whole.

/// Splits `total` over `weights` in proportion to them, in whole units, so that the parts sum to
/// `total` exactly.
///
/// Each part is the floor of its exact share; the units left over go one each to the largest
/// remainders, ties to the earlier weight. Negative weights count as zero, and a zero weight never
/// receives anything. When `total` is not positive or all weights are zero there is nothing to
/// split over and every part is zero. No part exceeds its weight when `total` does not exceed the
/// sum of the weights.
pub fn allocate_largest_remainder(total: i64, weights: &[i64]) -> Vec<i64> {
    let weights: Vec<i128> = weights.iter().map(|&w| i128::from(w.max(0))).collect();
    let sum: i128 = weights.iter().sum();
    let total = i128::from(total.max(0));
    if total == 0 || sum == 0 {
        return vec![0; weights.len()];
    }
    // total and every weight fit in i64, so their product fits in i128.
    let mut parts: Vec<i128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (index, weight) in weights.iter().enumerate() {
        let exact = total * weight;
        parts.push(exact / sum);
        remainders.push((exact % sum, index));
    }
    let handed_out: i128 = parts.iter().sum();
    let leftover = usize::try_from(total - handed_out).unwrap_or(0);
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, index) in remainders.iter().take(leftover) {
        parts[index] += 1;
    }
    // Every part is at most total, which came from an i64.
    parts
        .into_iter()
        .map(|part| i64::try_from(part).unwrap_or(i64::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_exactly_with_largest_remainders() {
        assert_eq!(allocate_largest_remainder(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(
            allocate_largest_remainder(100, &[5000, 3000, 2000]),
            vec![50, 30, 20]
        );
        // 7 × 2/7 = 2, 7 × 5/7 = 5: no remainders.
        assert_eq!(allocate_largest_remainder(7, &[2, 5]), vec![2, 5]);
        // 5 × [1, 2, 3] / 6 = 0.83, 1.67, 2.5: floors 0, 1, 2, two left for the largest remainders.
        assert_eq!(allocate_largest_remainder(5, &[1, 2, 3]), vec![1, 2, 2]);
    }

    #[test]
    fn nothing_to_split_gives_zeros() {
        assert_eq!(allocate_largest_remainder(0, &[3, 4]), vec![0, 0]);
        assert_eq!(allocate_largest_remainder(-5, &[3, 4]), vec![0, 0]);
        assert_eq!(allocate_largest_remainder(9, &[0, 0]), vec![0, 0]);
        assert_eq!(allocate_largest_remainder(9, &[]), Vec::<i64>::new());
        assert_eq!(allocate_largest_remainder(9, &[-4, 3]), vec![0, 9]);
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let parts = allocate_largest_remainder(i64::MAX, &[i64::MAX, i64::MAX, 1]);
        assert_eq!(
            parts.iter().map(|&p| i128::from(p)).sum::<i128>(),
            i128::from(i64::MAX)
        );
    }

    proptest! {
        #[test]
        fn allocation_sums_exactly(
            total in 0i64..1_000_000_000,
            weights in prop::collection::vec(0i64..10_000_000, 1..20),
        ) {
            let parts = allocate_largest_remainder(total, &weights);
            prop_assert_eq!(parts.len(), weights.len());
            let sum_weights: i64 = weights.iter().sum();
            let sum_parts: i64 = parts.iter().sum();
            if sum_weights > 0 {
                prop_assert_eq!(sum_parts, total);
            } else {
                prop_assert_eq!(sum_parts, 0);
            }
            for (part, weight) in parts.iter().zip(&weights) {
                prop_assert!(*part >= 0);
                if *weight == 0 {
                    prop_assert_eq!(*part, 0);
                }
                if total <= sum_weights {
                    prop_assert!(part <= weight);
                }
                // Within one unit of the exact share.
                if sum_weights > 0 {
                    let exact_floor = i128::from(total) * i128::from(*weight) / i128::from(sum_weights);
                    prop_assert!(i128::from(*part) - exact_floor <= 1 && i128::from(*part) >= exact_floor);
                }
            }
        }
    }
}
