//! A product's dimension list, as the seller keeps it: a JSON file of the dimension keys as
//! the AWS Marketplace catalog lists them. One reading for the derive (at compile time,
//! `#[metering(catalog = "...")]`) and the command line (`metering validate --catalog`).
//!
//! Accepted shapes: `["api_calls", ...]`; `[{"Key": "api_calls", ...}, ...]` (the catalog's
//! own `Dimensions` entries); an object with such a list under `Dimensions`; or the Catalog
//! API's `DescribeEntity` answer for a SaaS product, whose `DetailsDocument` (or `Details`,
//! an object or the JSON string the API returns) holds that object. An entry whose `Types`
//! lacks `ExternallyMetered` is a contract dimension (`Entitled`): it is never metered.
//! The parser is a small one of our own: the macro crate stays free of `serde_json`'s build
//! time for a file of a few lines.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The type of a dimension the seller reports usage of; without it (for example only
/// `Entitled`), a dimension is part of a contract and not metered.
const METERED: &str = "ExternallyMetered";

/// Containers deeper than this are refused: a real catalog nests four levels, and the
/// parser recurses once per level.
const MAX_DEPTH: usize = 64;

/// What a catalog file may hold, for a message about one that holds something else.
const SHAPES: &str = "expected a JSON list of dimension keys, of `{\"Key\": ...}` objects, \
    an object with such a list under `Dimensions`, or a `DescribeEntity` answer with it in \
    its `DetailsDocument` or `Details`";

/// One dimension the catalog lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: String,
    /// Whether usage of it is metered (`Types` absent, or holding `ExternallyMetered`).
    pub metered: bool,
}

/// The dimensions a catalog file lists, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    listed: Vec<Listed>,
}

/// Why a dimension key is not one the catalog meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotMetered<'c> {
    /// Listed as a contract dimension (its `Types` lack `ExternallyMetered`).
    Contract,
    /// Not listed; the metered key closest to it, when one is close enough to be a typo.
    Unlisted {
        /// The key it probably meant.
        suggestion: Option<&'c str>,
    },
}

impl Catalog {
    /// Reads a catalog file's text.
    ///
    /// # Errors
    /// Not JSON, not one of the accepted shapes, or no dimension listed; the message says
    /// where (line and column) when the JSON is malformed.
    pub fn parse(text: &str) -> Result<Self, String> {
        parse(text).map(|listed| Self { listed })
    }

    /// Reads the text of the catalog file named `file` (as the seller gave its path).
    ///
    /// # Errors
    /// As [`Catalog::parse`], the message naming the file and the shapes it may have.
    pub fn parse_file(text: &str, file: &str) -> Result<Self, String> {
        Self::parse(text)
            .map_err(|error| format!("cannot read the catalog file `{file}`: {error}; {SHAPES}"))
    }

    /// Every dimension listed, in the file's order.
    #[must_use]
    pub fn listed(&self) -> &[Listed] {
        &self.listed
    }

    /// The keys of the metered dimensions, in the file's order.
    pub fn metered(&self) -> impl Iterator<Item = &str> {
        self.listed
            .iter()
            .filter(|dimension| dimension.metered)
            .map(|dimension| dimension.key.as_str())
    }

    /// Whether usage of `key` is metered by this catalog.
    ///
    /// # Errors
    /// Why not: a contract dimension, or a key not listed (with the one probably meant).
    pub fn check(&self, key: &str) -> Result<(), NotMetered<'_>> {
        match self.listed.iter().find(|dimension| dimension.key == key) {
            Some(dimension) if dimension.metered => Ok(()),
            Some(_) => Err(NotMetered::Contract),
            None => Err(NotMetered::Unlisted {
                suggestion: crate::closest(key, self.metered()),
            }),
        }
    }

    /// Says why `key` is not metered by the catalog in `file`: `dimension key "api_cals" is
    /// not in the catalog `catalog.json`; did you mean "api_calls"?`.
    #[must_use]
    pub fn message(&self, key: &str, file: &str, why: NotMetered<'_>) -> String {
        match why {
            NotMetered::Contract => format!(
                "dimension key {key:?} is a contract dimension in the catalog `{file}` (its \
                 `Types` lack `ExternallyMetered`): it is not metered"
            ),
            NotMetered::Unlisted { suggestion } => {
                let metered: Vec<&str> = self.metered().collect();
                let hint = match suggestion {
                    Some(close) => {
                        let case = if close.eq_ignore_ascii_case(key) {
                            " (keys are case-sensitive)"
                        } else {
                            ""
                        };
                        format!("did you mean {close:?}?{case}")
                    }
                    None if metered.is_empty() => "it lists no metered dimension".to_owned(),
                    None => format!("it lists {}", quoted_list(&metered)),
                };
                format!("dimension key {key:?} is not in the catalog `{file}`; {hint}")
            }
        }
    }
}

/// Keys quoted and separated by commas, the first ten of them.
#[must_use]
pub fn quoted_list(keys: &[&str]) -> String {
    const SHOWN: usize = 10;
    let mut list: Vec<String> = keys.iter().take(SHOWN).map(|k| format!("{k:?}")).collect();
    if keys.len() > SHOWN {
        list.push(format!("and {} more", keys.len() - SHOWN));
    }
    list.join(", ")
}

#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool,
    Number,
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

fn parse(text: &str) -> Result<Vec<Listed>, String> {
    let list = dimensions(parse_json(text)?)?;
    if list.is_empty() {
        // Every variant would be "not in the catalog; it lists " nothing.
        return Err("it lists no dimension".to_owned());
    }
    list.into_iter()
        .enumerate()
        .map(|(index, entry)| match entry {
            Json::String(key) => Ok(Listed { key, metered: true }),
            Json::Object(fields) => {
                entry_of(fields).map_err(|error| format!("entry {index} {error}"))
            }
            _ => Err(format!("entry {index} is neither a string nor an object")),
        })
        .collect()
}

fn parse_json(text: &str) -> Result<Json, String> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    let value = parser.value()?;
    parser.skip_space();
    if parser.at != parser.bytes.len() {
        return Err(parser.fail("trailing characters"));
    }
    Ok(value)
}

/// The `Dimensions` list of a catalog file in any accepted shape.
fn dimensions(value: Json) -> Result<Vec<Json>, String> {
    let mut fields = match value {
        Json::Array(list) => return Ok(list),
        Json::Object(fields) => fields,
        _ => return Err("the top level is neither a list nor an object".to_owned()),
    };
    if let Some(list) = take(&mut fields, "Dimensions") {
        return match list {
            Json::Array(list) => Ok(list),
            _ => Err("`Dimensions` is not a list".to_owned()),
        };
    }
    // A `DescribeEntity` answer: the details as an object, or as the JSON text the API
    // returns in `Details`.
    match take(&mut fields, "DetailsDocument").or_else(|| take(&mut fields, "Details")) {
        Some(Json::Object(details)) => dimensions(Json::Object(details)),
        Some(Json::String(details)) => dimensions(
            parse_json(&details).map_err(|error| format!("in the `Details` string: {error}"))?,
        ),
        _ => Err(
            "no `Dimensions` list in the object, nor in its `DetailsDocument` or `Details`"
                .to_owned(),
        ),
    }
}

fn take(fields: &mut Vec<(String, Json)>, name: &str) -> Option<Json> {
    let index = fields
        .iter()
        .position(|(field, _)| field.eq_ignore_ascii_case(name))?;
    Some(fields.swap_remove(index).1)
}

fn entry_of(mut fields: Vec<(String, Json)>) -> Result<Listed, String> {
    let Some(Json::String(key)) = take(&mut fields, "Key") else {
        return Err("has no string `Key`".to_owned());
    };
    let metered = match take(&mut fields, "Types") {
        None => true,
        Some(Json::Array(types)) => types.iter().any(|t| *t == Json::String(METERED.to_owned())),
        Some(_) => return Err(format!("({key:?}) has `Types` that is not a list")),
    };
    Ok(Listed { key, metered })
}

struct Parser<'t> {
    bytes: &'t [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    /// `what` went wrong at the current place, given as a line and a column (in characters,
    /// both from 1) as editors show them.
    fn fail(&self, what: &str) -> String {
        let before = &self.bytes[..self.at.min(self.bytes.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = before.split(|&b| b == b'\n').count();
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        format!("{what} at line {line}, column {column}")
    }

    /// Enters a list or an object, refusing to nest deeper than [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fail(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.at += 1;
        Ok(())
    }

    fn skip_space(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.bytes.get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn value(&mut self) -> Result<Json, String> {
        self.skip_space();
        match self.bytes.get(self.at) {
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => {
                self.enter()?;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value()?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.fail("expected `,` or `]`"));
                        }
                    }
                }
                self.depth -= 1;
                Ok(Json::Array(items))
            }
            Some(b'{') => {
                self.enter()?;
                let mut fields = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.skip_space();
                        let name = self.string()?;
                        if !self.eat(b':') {
                            return Err(self.fail("expected `:`"));
                        }
                        fields.push((name, self.value()?));
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.fail("expected `,` or `}`"));
                        }
                    }
                }
                self.depth -= 1;
                Ok(Json::Object(fields))
            }
            Some(b'-' | b'0'..=b'9') => {
                while self
                    .bytes
                    .get(self.at)
                    .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                {
                    self.at += 1;
                }
                Ok(Json::Number)
            }
            _ => {
                for (word, value) in [
                    ("true", Json::Bool),
                    ("false", Json::Bool),
                    ("null", Json::Null),
                ] {
                    if self.bytes[self.at..].starts_with(word.as_bytes()) {
                        self.at += word.len();
                        return Ok(value);
                    }
                }
                Err(self.fail("expected a JSON value"))
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.bytes.get(self.at) != Some(&b'"') {
            return Err(self.fail("expected a string"));
        }
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while self
                .bytes
                .get(self.at)
                .is_some_and(|&b| b != b'"' && b != b'\\')
            {
                self.at += 1;
            }
            out.push_str(
                core::str::from_utf8(&self.bytes[start..self.at])
                    .map_err(|_| self.fail("invalid UTF-8"))?,
            );
            match self.bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escape = self.bytes.get(self.at + 1).copied();
                    self.at += 2;
                    out.push(match escape {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => return Err(self.fail("invalid escape")),
                    });
                }
                _ => return Err(self.fail("unterminated string")),
            }
        }
    }

    /// The character of a `\uXXXX` escape (the `\u` already read), with surrogate pairs.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.bytes[self.at..].starts_with(b"\\u") {
                return Err(self.fail("unpaired surrogate"));
            }
            self.at += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.fail("unpaired surrogate"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.fail("invalid \\u escape"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .and_then(|digits| core::str::from_utf8(digits).ok())
            .and_then(|digits| u32::from_str_radix(digits, 16).ok())
            .ok_or_else(|| self.fail("expected 4 hex digits"))?;
        self.at += 4;
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Result<Vec<String>, String> {
        parse(text).map(|listed| listed.into_iter().map(|l| l.key).collect())
    }

    #[test]
    fn shapes() {
        assert_eq!(keys(r#"["a", "b\u00e9"]"#).unwrap(), ["a", "bé"]);
        let catalog = r#"{"Dimensions": [{"Key": "api_calls", "Types": ["ExternallyMetered"], "Unit": "Units"},
                          {"Name": "Storage", "Key": "storage\"gb"}]}"#;
        assert_eq!(keys(catalog).unwrap(), ["api_calls", "storage\"gb"]);
        assert_eq!(keys(r#"["\ud83d\ude00"]"#).unwrap(), ["\u{1F600}"]);
        assert!(
            keys(r#"[{"Name": "x"}]"#)
                .unwrap_err()
                .contains("entry 0 has no string `Key`")
        );
        assert!(keys(r#"{"Other": []}"#).is_err());
        assert!(keys(r#"["a"] x"#).is_err());
        assert!(keys("[1, true]").is_err());
        // An empty list is refused rather than reported as "it lists " for every variant.
        assert!(
            keys(r#"{"Dimensions": []}"#)
                .unwrap_err()
                .contains("no dimension")
        );
        // A high surrogate followed by anything but a low one was decoded into another
        // character.
        assert!(
            keys(r#"["\ud83d\u0041"]"#)
                .unwrap_err()
                .contains("surrogate")
        );
    }

    #[test]
    fn describe_entity_answers() {
        let details = r#"{"Dimensions": [
            {"Key": "api_calls", "Name": "API calls", "Description": "Calls", "Types": ["ExternallyMetered"], "Unit": "Requests"},
            {"Key": "seats", "Name": "Seats", "Description": "Seats", "Types": ["Entitled"], "Unit": "Users"},
            {"Key": "both", "Types": ["Entitled", "ExternallyMetered"], "Unit": "Units"}
        ]}"#;
        let expected = [
            Listed {
                key: "api_calls".into(),
                metered: true,
            },
            Listed {
                key: "seats".into(),
                metered: false,
            },
            Listed {
                key: "both".into(),
                metered: true,
            },
        ];
        let document =
            format!(r#"{{"EntityType": "SaaSProduct@1.0", "DetailsDocument": {details}}}"#);
        assert_eq!(parse(&document).unwrap(), expected);
        // `Details` as the API returns it: the same document as a JSON string.
        let escaped = details.replace('"', "\\\"").replace('\n', " ");
        let text = format!(r#"{{"EntityType": "SaaSProduct@1.0", "Details": "{escaped}"}}"#);
        assert_eq!(parse(&text).unwrap(), expected);
        assert!(
            parse(r#"{"Details": "{\"Dimensions\": [}"}"#)
                .unwrap_err()
                .starts_with("in the `Details` string: expected a JSON value at line 1, column 17")
        );
        assert!(parse(r#"[{"Key": "a", "Types": "Entitled"}]"#).is_err());
    }

    #[test]
    fn errors_name_the_line_and_column() {
        assert_eq!(
            keys("{\"Dimensions\": [\n  {\"Key\": \"é\",}\n]}").unwrap_err(),
            "expected a string at line 2, column 15"
        );
        assert!(
            keys(r#"["a" "b"]"#)
                .unwrap_err()
                .ends_with("line 1, column 6")
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert_eq!(
            keys(&deep).unwrap_err(),
            format!(
                "nested deeper than {MAX_DEPTH} levels at line 1, column {}",
                MAX_DEPTH + 1
            )
        );
        let within = format!("{}\"a\"{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(
            keys(&within)
                .unwrap_err()
                .contains("neither a string nor an object")
        );
    }

    #[test]
    fn a_key_is_checked_with_the_one_probably_meant() {
        let catalog = Catalog::parse(
            r#"[{"Key": "api_calls"}, {"Key": "seats", "Types": ["Entitled"]}, "Storage"]"#,
        )
        .unwrap();
        assert_eq!(catalog.check("api_calls"), Ok(()));
        assert_eq!(catalog.check("seats"), Err(NotMetered::Contract));
        let typo = catalog.check("api_cals").unwrap_err();
        assert_eq!(
            typo,
            NotMetered::Unlisted {
                suggestion: Some("api_calls")
            }
        );
        assert_eq!(
            catalog.message("api_cals", "c.json", typo),
            r#"dimension key "api_cals" is not in the catalog `c.json`; did you mean "api_calls"?"#
        );
        let case = catalog.check("storage").unwrap_err();
        assert!(
            catalog
                .message("storage", "c.json", case)
                .ends_with(r#"did you mean "Storage"? (keys are case-sensitive)"#)
        );
        let far = catalog.check("bandwidth").unwrap_err();
        assert!(
            catalog
                .message("bandwidth", "c.json", far)
                .ends_with(r#"it lists "api_calls", "Storage""#)
        );
        assert!(
            catalog
                .message("seats", "c.json", NotMetered::Contract)
                .ends_with("it is not metered")
        );
        let contracts = Catalog::parse(r#"[{"Key": "seats", "Types": ["Entitled"]}]"#).unwrap();
        let none = contracts.check("x").unwrap_err();
        assert!(
            contracts
                .message("x", "c.json", none)
                .ends_with("it lists no metered dimension")
        );
        let many: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(quoted_list(&many).ends_with(r#""k9", and 2 more"#));
    }
}
