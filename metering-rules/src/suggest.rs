//! The did-you-mean of a misspelled key, the same at compile time (the derive, against the
//! catalog) and at run time (a dimension read from configuration).

use alloc::vec::Vec;

/// The closest of `candidates` to `key`, if it is close enough to be a likely typo. A
/// candidate that differs only in ASCII case is the closest of all: keys are
/// case-sensitive, and that mistake is the likeliest.
pub fn closest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| {
            let rank = if candidate.eq_ignore_ascii_case(key) {
                0
            } else {
                distance(key, candidate) + 1
            };
            (rank, candidate)
        })
        .filter(|&(rank, candidate)| {
            rank <= (key.chars().count().max(candidate.chars().count()) / 3).max(1) + 1
        })
        .min_by_key(|&(rank, _)| rank)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        let keys = ["api_calls", "storage_gb_hours", "seats"];
        assert_eq!(closest("api_cals", keys), Some("api_calls"));
        assert_eq!(closest("storage_gb_hour", keys), Some("storage_gb_hours"));
        assert_eq!(closest("bandwidth", keys), None);
    }

    #[test]
    fn a_case_only_difference_wins() {
        let keys = ["api_calls", "API_CALLZ", "seats"];
        assert_eq!(closest("API_CALLS", keys), Some("api_calls"));
        assert_eq!(
            closest("ApiCalls", ["apicalls", "api_calls"]),
            Some("apicalls")
        );
        // Far apart even ignoring case: no suggestion.
        assert_eq!(closest("STORAGE", keys), None);
    }
}
