//! The catalog check across several enums (`#[metering(catalog = "...", with(...))]`).
//!
//! A derive sees one enum only, so it cannot compare another enum's keys with the catalog
//! while it expands. It writes a constant instead, evaluated by the compiler: every enum
//! of the product gives its keys as [`DimensionKeys::KEYS`], and [`check_catalog`] finds,
//! in `const` code, the keys the catalog does not meter, the keys two enums name, and the
//! metered dimensions no enum names. A problem fails the constant's evaluation: a compile
//! error with [`CatalogReport`]'s message.

/// The dimension keys of a `#[derive(Dimension)]` enum, for the catalog check of another
/// enum of the same product.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `#[derive(Dimension)]` enum",
    label = "`with(...)` names the other dimension enums of the product",
    note = "derive `marketplace_metering::Dimension` on it, or leave it out of `with(...)`"
)]
pub trait DimensionKeys {
    /// Its keys, in declaration order; `None` when the derive reported an error on the
    /// enum (its keys are unknown, and the check of the others says nothing more).
    const KEYS: Option<&'static [&'static str]>;
}

/// What [`check_catalog`] found: the problems in one message, cut short when long.
#[derive(Debug)]
pub struct CatalogReport {
    text: [u8; CatalogReport::CAPACITY],
    len: usize,
    problems: usize,
}

impl CatalogReport {
    const CAPACITY: usize = 2048;

    const fn new() -> Self {
        Self {
            text: [0; Self::CAPACITY],
            len: 0,
            problems: 0,
        }
    }

    /// The message naming every problem, or `None` when there is none.
    #[must_use]
    pub const fn message(&self) -> Option<&str> {
        if self.problems == 0 {
            return None;
        }
        match core::str::from_utf8(self.text.split_at(self.len).0) {
            Ok(text) => Some(text),
            Err(_) => Some("the catalog check's message is not UTF-8"),
        }
    }

    /// Starts the next problem.
    const fn problem(&mut self) {
        if self.problems > 0 {
            self.push("; ");
        }
        self.problems += 1;
    }

    /// Appends `text`, or as much of it as fits, cut at a character boundary, then `…`.
    const fn push(&mut self, text: &str) {
        const ELLIPSIS: &str = "…";
        let bytes = text.as_bytes();
        let room = Self::CAPACITY - ELLIPSIS.len();
        if self.len >= room {
            return;
        }
        if self.len + bytes.len() > room {
            let mut cut = room - self.len;
            while cut > 0 && !text.is_char_boundary(cut) {
                cut -= 1;
            }
            self.copy(bytes.split_at(cut).0);
            self.copy(ELLIPSIS.as_bytes());
            return;
        }
        self.copy(bytes);
    }

    const fn copy(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            self.text[self.len] = bytes[i];
            self.len += 1;
            i += 1;
        }
    }

    /// `"key"` (keys are plain here: a `"` in a key is left as it is).
    const fn quoted(&mut self, key: &str) {
        self.push("\"");
        self.push(key);
        self.push("\"");
    }

    /// `` `name` ``.
    const fn code(&mut self, name: &str) {
        self.push("`");
        self.push(name);
        self.push("`");
    }
}

const fn equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn contains(keys: &[&str], key: &str) -> bool {
    let mut i = 0;
    while i < keys.len() {
        if equal(keys[i], key) {
            return true;
        }
        i += 1;
    }
    false
}

/// Compares the keys of a product's enums (`parts`: each enum's name and keys) with the
/// catalog in `file`, whose metered dimensions are `metered` and contract dimensions
/// `contract`: each key must be a metered dimension, no key may be in two enums, and each
/// metered dimension must be in one.
#[must_use]
pub const fn check_catalog(
    file: &str,
    metered: &[&str],
    contract: &[&str],
    parts: &[(&str, Option<&[&str]>)],
) -> CatalogReport {
    let mut report = CatalogReport::new();
    let mut p = 0;
    while p < parts.len() {
        if parts[p].1.is_none() {
            // An enum the derive reported an error on: its keys are unknown, and its error
            // is the one to fix first.
            return report;
        }
        p += 1;
    }
    let mut p = 0;
    while p < parts.len() {
        let keys = match parts[p].1 {
            Some(keys) => keys,
            None => &[], // returned above
        };
        let mut k = 0;
        while k < keys.len() {
            let key = keys[k];
            if contains(contract, key) {
                report.problem();
                report.push("dimension key ");
                report.quoted(key);
                report.push(" of ");
                report.code(parts[p].0);
                report.push(" is a contract dimension in the catalog ");
                report.code(file);
                report.push(" (its `Types` lack `ExternallyMetered`): it is not metered");
            } else if !contains(metered, key) {
                report.problem();
                report.push("dimension key ");
                report.quoted(key);
                report.push(" of ");
                report.code(parts[p].0);
                report.push(" is not in the catalog ");
                report.code(file);
            }
            let mut other = p + 1;
            while other < parts.len() {
                if let Some(other_keys) = parts[other].1
                    && contains(other_keys, key)
                {
                    report.problem();
                    report.push("dimension key ");
                    report.quoted(key);
                    report.push(" is in both ");
                    report.code(parts[p].0);
                    report.push(" and ");
                    report.code(parts[other].0);
                    report.push(": keep it in one of them");
                }
                other += 1;
            }
            k += 1;
        }
        p += 1;
    }
    let mut missing = 0;
    let mut m = 0;
    while m < metered.len() {
        let mut found = false;
        let mut p = 0;
        while p < parts.len() {
            if let Some(keys) = parts[p].1 {
                found |= contains(keys, metered[m]);
            }
            p += 1;
        }
        if !found {
            if missing == 0 {
                report.problem();
                report.push("the catalog ");
                report.code(file);
                report.push(" lists metered dimensions that no variant of ");
                let mut p = 0;
                while p < parts.len() {
                    if p > 0 {
                        report.push(if p + 1 == parts.len() { " or " } else { ", " });
                    }
                    report.code(parts[p].0);
                    p += 1;
                }
                report.push(" names: ");
            } else {
                report.push(", ");
            }
            report.quoted(metered[m]);
            missing += 1;
        }
        m += 1;
    }
    if missing > 0 {
        report.push("; add a variant for each to one of them");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const METERED: &[&str] = &["api_calls", "active_users", "hosts"];
    const CONTRACT: &[&str] = &["support_plan"];

    fn message(parts: &[(&str, Option<&[&str]>)]) -> Option<String> {
        check_catalog("dimensions.json", METERED, CONTRACT, parts)
            .message()
            .map(str::to_owned)
    }

    #[test]
    fn every_metered_key_once_across_the_enums() {
        // Evaluated by the compiler, as the derive's constant is.
        const SPLIT: CatalogReport = check_catalog(
            "c.json",
            METERED,
            CONTRACT,
            &[
                ("A", Some(&["hosts", "api_calls"])),
                ("B", Some(&["active_users"])),
            ],
        );
        assert!(SPLIT.message().is_none());
        assert_eq!(
            message(&[
                ("Requests", Some(&["api_calls", "hosts"])),
                ("Users", Some(&["active_users"])),
            ]),
            None
        );
    }

    #[test]
    fn each_problem_is_named() {
        assert_eq!(
            message(&[
                ("Requests", Some(&["api_calls", "support_plan"])),
                ("Users", Some(&["active_usr", "api_calls"])),
                ("Hosts", Some(&[])),
            ])
            .unwrap(),
            "dimension key \"api_calls\" is in both `Requests` and `Users`: keep it in one of \
             them; dimension key \"support_plan\" of `Requests` is a contract dimension in \
             the catalog `dimensions.json` (its `Types` lack `ExternallyMetered`): it is not \
             metered; dimension key \"active_usr\" of `Users` is not in the catalog \
             `dimensions.json`; the catalog `dimensions.json` lists metered dimensions that \
             no variant of `Requests`, `Users` or `Hosts` names: \"active_users\", \"hosts\"; \
             add a variant for each to one of them"
        );
    }

    #[test]
    fn an_enum_with_errors_of_its_own_silences_the_check() {
        assert_eq!(
            message(&[("Requests", Some(&["x"])), ("Users", None)]),
            None
        );
    }

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary() {
        let key = "é".repeat(200);
        let keys: Vec<&str> = (0..20).map(|_| key.as_str()).collect();
        let long = message(&[("A", Some(&keys))]).unwrap();
        assert!(long.ends_with('…'), "{long}");
        assert!(long.len() <= CatalogReport::CAPACITY);
        assert!(long.starts_with("dimension key \"éé"));
    }
}
