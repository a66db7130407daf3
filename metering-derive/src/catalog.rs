//! The product's dimension list, as the seller keeps it beside the code: a JSON file of the
//! dimension keys as the AWS Marketplace catalog lists them.
//!
//! Accepted shapes: `["api_calls", ...]`, `[{"Key": "api_calls", ...}, ...]` (the
//! catalog's own `Dimensions` entries), or an object with such a list under `Dimensions`.
//! The parser is a small one of our own: the macro crate stays free of `serde_json`'s build
//! time for a file of a few lines.

use std::path::PathBuf;

/// Reads the dimension keys listed in the file at `relative`, looked up in each of `bases`
/// in turn (the crate's directory first); returns the file's full path and the keys.
pub fn read(
    bases: impl IntoIterator<Item = PathBuf>,
    relative: &str,
) -> Result<(PathBuf, Vec<String>), String> {
    let path = bases
        .into_iter()
        .map(|base| base.join(relative))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            format!(
                "cannot find the catalog file `{relative}`: the path is relative to the \
                 crate's directory (where its Cargo.toml is)"
            )
        })?;
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read the catalog file `{relative}`: {error}"))?;
    let keys = parse_keys(&text).map_err(|error| {
        format!(
            "cannot read the catalog file `{relative}`: {error}; expected a JSON list of \
             dimension keys, of `{{\"Key\": ...}}` objects, or an object with such a list \
             under `Dimensions`"
        )
    })?;
    Ok((path, keys))
}

/// The closest of `candidates` to `key`, if it is close enough to be a likely typo.
pub fn closest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (distance(key, candidate), candidate))
        .filter(|&(distance, candidate)| {
            distance <= (key.chars().count().max(candidate.chars().count()) / 3).max(1)
        })
        .min_by_key(|&(distance, _)| distance)
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

#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool,
    Number,
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

fn parse_keys(text: &str) -> Result<Vec<String>, String> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = parser.value()?;
    parser.skip_space();
    if parser.at != parser.bytes.len() {
        return Err(parser.fail("trailing characters"));
    }
    let list = match value {
        Json::Array(list) => list,
        Json::Object(fields) => match fields
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("dimensions"))
        {
            Some((_, Json::Array(list))) => list,
            _ => return Err("no `Dimensions` list in the object".to_owned()),
        },
        _ => return Err("the top level is neither a list nor an object".to_owned()),
    };
    if list.is_empty() {
        // Every variant would be "not in the catalog; it lists " nothing.
        return Err("it lists no dimension".to_owned());
    }
    list.into_iter()
        .enumerate()
        .map(|(index, entry)| match entry {
            Json::String(key) => Ok(key),
            Json::Object(fields) => fields
                .into_iter()
                .find_map(|(name, value)| match value {
                    Json::String(key) if name.eq_ignore_ascii_case("key") => Some(key),
                    _ => None,
                })
                .ok_or_else(|| format!("entry {index} has no string `Key`")),
            _ => Err(format!("entry {index} is neither a string nor an object")),
        })
        .collect()
}

struct Parser<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> String {
        format!("{what} at byte {}", self.at)
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
                self.at += 1;
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
                Ok(Json::Array(items))
            }
            Some(b'{') => {
                self.at += 1;
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
                std::str::from_utf8(&self.bytes[start..self.at])
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
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u32::from_str_radix(digits, 16).ok())
            .ok_or_else(|| self.fail("expected 4 hex digits"))?;
        self.at += 4;
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(parse_keys(r#"["a", "b\u00e9"]"#).unwrap(), ["a", "bé"]);
        let catalog = r#"{"Dimensions": [{"Key": "api_calls", "Types": ["Metered"], "Unit": "Units"},
                          {"Name": "Storage", "Key": "storage\"gb"}]}"#;
        assert_eq!(parse_keys(catalog).unwrap(), ["api_calls", "storage\"gb"]);
        assert_eq!(parse_keys(r#"["\ud83d\ude00"]"#).unwrap(), ["\u{1F600}"]);
        assert!(parse_keys(r#"["a" "b"]"#).unwrap_err().contains("byte 5"));
        assert!(
            parse_keys(r#"[{"Name": "x"}]"#)
                .unwrap_err()
                .contains("no string `Key`")
        );
        assert!(parse_keys(r#"{"Other": []}"#).is_err());
        assert!(parse_keys(r#"["a"] x"#).is_err());
        assert!(parse_keys("[1, true]").is_err());
        // An empty list is refused rather than reported as "it lists " for every variant.
        assert!(
            parse_keys(r#"{"Dimensions": []}"#)
                .unwrap_err()
                .contains("no dimension")
        );
        // A high surrogate followed by anything but a low one was decoded into another
        // character.
        assert!(
            parse_keys(r#"["\ud83d\u0041"]"#)
                .unwrap_err()
                .contains("surrogate")
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        let keys = ["api_calls", "storage_gb_hours", "seats"];
        assert_eq!(closest("api_cals", keys), Some("api_calls"));
        assert_eq!(closest("storage_gb_hour", keys), Some("storage_gb_hours"));
        assert_eq!(closest("bandwidth", keys), None);
    }
}
