//! Reading usage files one record at a time: a `BatchMeterUsage` request body or JSON Lines
//! of `UsageRecords` entries. Memory holds one entry at a time, never the whole file.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use metering_core::{EntryError, ProductCode, Strictness, UsageRecord};
use serde::de::{DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::args::{CatalogFile, InputArgs, InputFormat};

/// Where an entry sits in its file.
#[derive(Debug, Clone)]
pub(crate) struct Location<'f> {
    /// The file's name as given (`-` for standard input).
    pub file: &'f str,
    /// The entry's number in the file, from 1.
    pub record: usize,
    /// Its line, for JSON Lines.
    pub line: Option<usize>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line} (record {})", self.file, self.record),
            None => write!(
                f,
                "{} (record {}, UsageRecords[{}])",
                self.file,
                self.record,
                self.record - 1
            ),
        }
    }
}

/// Why an entry is not a record.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadEntry {
    /// Malformed JSON, a wrong type, or a broken rule.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// A dimension the product's catalog does not meter.
    #[error("Dimension: {message}")]
    NotInCatalog {
        /// The record's dimension key.
        key: String,
        /// Why, with the key probably meant.
        message: String,
    },
    /// A line that is not UTF-8.
    #[error("not UTF-8 text: {0}")]
    Utf8(#[from] std::str::Utf8Error),
}

/// Why a whole file could not be read (entries read before the failure were reported).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    /// Opening or reading failed.
    #[error("{file}: cannot read: {source}; check the path and its permissions")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: io::Error,
    },
    /// The request body is not one (malformed JSON, no `UsageRecords` list, a bad
    /// `ProductCode`).
    #[error(
        "{file}: {message}; a usage file is a BatchMeterUsage request or JSON Lines of UsageRecords entries (see --input-format)"
    )]
    Request {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Nothing to read.
    #[error("{file}: holds no records; was it truncated, or is it the wrong file?")]
    Empty {
        /// The file.
        file: String,
    },
}

impl FileError {
    /// The file's name.
    pub(crate) fn file(&self) -> &str {
        match self {
            Self::Io { file, .. } | Self::Request { file, .. } | Self::Empty { file } => file,
        }
    }
}

/// How entries are read: the product of those that carry none, how strictly, and the
/// catalog their dimensions must be in.
#[derive(Clone, Copy)]
struct Reading<'a> {
    product: Option<&'a ProductCode>,
    /// Whether entries are a request's (its product, not theirs) or lines.
    in_request: bool,
    strictness: Strictness,
    catalog: Option<&'a CatalogFile>,
}

impl Reading<'_> {
    fn entry(self, json: &str) -> Result<UsageRecord, BadEntry> {
        let record = if self.in_request {
            UsageRecord::from_request_file_entry_json(json, self.product, self.strictness)?
        } else {
            UsageRecord::from_entry_json(json, self.product, self.strictness)?
        };
        if let Some(CatalogFile { name, catalog }) = self.catalog {
            let key = record.dimension().as_str();
            if let Err(why) = catalog.check(key) {
                return Err(BadEntry::NotInCatalog {
                    key: key.to_owned(),
                    message: catalog.message(key, name, why),
                });
            }
        }
        Ok(record)
    }
}

/// Reads `path` (`-`: standard input) as `input` says, calling `each` with every entry in
/// order. Returns how many entries there were.
///
/// # Errors
/// When the file cannot be read, is not a request nor JSON Lines, or holds no records.
pub(crate) fn read_file(
    path: &Path,
    input: &InputArgs,
    mut each: impl FnMut(Location<'_>, Result<UsageRecord, BadEntry>),
) -> Result<usize, FileError> {
    let reading = Reading {
        product: input.product_code.as_ref(),
        in_request: false,
        strictness: if input.lenient {
            Strictness::Lenient
        } else {
            Strictness::Strict
        },
        catalog: input.catalog.as_ref(),
    };
    let name = path.to_string_lossy();
    let io_error = |source| FileError::Io {
        file: name.to_string(),
        source,
    };
    let source: Box<dyn Read> = if name == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(io_error)?)
    };
    let mut reader = BufReader::with_capacity(64 * 1024, source);
    let capacity = reader.capacity();
    let start = reader.fill_buf().map_err(io_error)?;
    if start.len() < capacity && start.iter().all(u8::is_ascii_whitespace) {
        return Err(FileError::Empty {
            file: name.into_owned(),
        });
    }
    let format = match input.input_format {
        InputFormat::Auto => detect(path, &mut reader).map_err(io_error)?,
        chosen => chosen,
    };
    let count = match format {
        InputFormat::Lines => read_lines(&name, reader, reading, &mut each).map_err(io_error)?,
        _ => read_request(&name, reader, reading, &mut each)?,
    };
    if count == 0 {
        return Err(FileError::Empty {
            file: name.into_owned(),
        });
    }
    Ok(count)
}

/// JSON Lines by extension; otherwise a request unless the first line is a whole JSON value
/// other than a request (a long or pretty-printed document does not end on its first line).
fn detect(path: &Path, reader: &mut impl BufRead) -> io::Result<InputFormat> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(extension, "jsonl" | "ndjson") {
        return Ok(InputFormat::Lines);
    }
    let buffer = reader.fill_buf()?;
    let first = buffer.split(|&b| b == b'\n').next().unwrap_or_default();
    let format = match serde_json::from_slice::<serde_json::Value>(first) {
        Ok(value) if value.get("UsageRecords").is_some() => InputFormat::Request,
        Err(e) if e.is_eof() => InputFormat::Request,
        _ => InputFormat::Lines,
    };
    Ok(format)
}

fn read_lines(
    file: &str,
    mut reader: impl BufRead,
    reading: Reading<'_>,
    each: &mut impl FnMut(Location<'_>, Result<UsageRecord, BadEntry>),
) -> io::Result<usize> {
    let mut buffer = Vec::new();
    let (mut line, mut record) = (0, 0);
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer)? == 0 {
            return Ok(record);
        }
        line += 1;
        if buffer.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        record += 1;
        let result = std::str::from_utf8(&buffer)
            .map_err(BadEntry::from)
            .and_then(|text| reading.entry(text));
        each(
            Location {
                file,
                record,
                line: Some(line),
            },
            result,
        );
    }
}

fn read_request(
    file: &str,
    reader: impl Read,
    reading: Reading<'_>,
    each: &mut impl FnMut(Location<'_>, Result<UsageRecord, BadEntry>),
) -> Result<usize, FileError> {
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let request = |message: String| FileError::Request {
        file: file.to_owned(),
        message,
    };
    let visitor = RequestVisitor(Entries {
        file,
        reading,
        each,
    });
    let count = deserializer
        .deserialize_map(visitor)
        .and_then(|count| deserializer.end().map(|()| count))
        .map_err(|e| request(e.to_string()))?;
    count.ok_or_else(|| request("UsageRecords: is required".into()))
}

/// The members of a request body.
const MEMBERS: [&str; 2] = ["ProductCode", "UsageRecords"];

/// Walks a request body's members, reading `UsageRecords` entry by entry (the product
/// given is used when the request has none).
struct RequestVisitor<'a, F>(Entries<'a, F>);

impl<'de, F> Visitor<'de> for RequestVisitor<'_, F>
where
    F: FnMut(Location<'_>, Result<UsageRecord, BadEntry>),
{
    /// How many entries `UsageRecords` had, if it was there.
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a BatchMeterUsage request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error as _;
        let mut product: Option<ProductCode> = None;
        // Entries met before the request's `ProductCode` wait for it (JSON members are
        // unordered, though every writer we know puts `ProductCode` first).
        let mut waiting: Option<Vec<Box<RawValue>>> = None;
        let mut count = None;
        let mut seen = [false; MEMBERS.len()];
        while let Some(key) = map.next_key::<String>()? {
            // A member given twice (two requests pasted into one): the service would keep
            // one of each, not send both lists.
            if let Some(i) = MEMBERS.iter().position(|member| *member == key)
                && std::mem::replace(&mut seen[i], true)
            {
                return Err(A::Error::duplicate_field(MEMBERS[i]));
            }
            match key.as_str() {
                "ProductCode" => {
                    let code = map.next_value::<String>()?;
                    product = Some(ProductCode::new(code).map_err(A::Error::custom)?);
                }
                "UsageRecords" if product.is_some() || self.0.reading.product.is_some() => {
                    let entries = Entries {
                        file: self.0.file,
                        reading: Reading {
                            product: product.as_ref().or(self.0.reading.product),
                            in_request: true,
                            ..self.0.reading
                        },
                        each: &mut *self.0.each,
                    };
                    count = Some(map.next_value_seed(entries)?);
                }
                "UsageRecords" => waiting = Some(map.next_value()?),
                other if self.0.reading.strictness == Strictness::Strict => {
                    let hint = match metering_rules::closest(other, MEMBERS) {
                        Some(meant) => format!("did you mean {meant:?}?"),
                        None => "a request has only ProductCode and UsageRecords".to_owned(),
                    };
                    return Err(A::Error::custom(format_args!(
                        "{other}: is not a member of a BatchMeterUsage request; {hint} (--lenient ignores it)"
                    )));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(waiting) = waiting {
            let mut entries = Entries {
                reading: Reading {
                    product: product.as_ref().or(self.0.reading.product),
                    in_request: true,
                    ..self.0.reading
                },
                ..self.0
            };
            for (index, raw) in waiting.iter().enumerate() {
                entries.emit(index + 1, raw);
            }
            count = Some(waiting.len());
        }
        Ok(count)
    }
}

/// The `UsageRecords` list, one entry at a time.
struct Entries<'a, F> {
    file: &'a str,
    reading: Reading<'a>,
    each: &'a mut F,
}

impl<F: FnMut(Location<'_>, Result<UsageRecord, BadEntry>)> Entries<'_, F> {
    /// Reads entry number `record` (from 1) and hands it on.
    fn emit(&mut self, record: usize, raw: &RawValue) {
        let location = Location {
            file: self.file,
            record,
            line: None,
        };
        (self.each)(location, self.reading.entry(raw.get()));
    }
}

impl<'de, F> DeserializeSeed<'de> for Entries<'_, F>
where
    F: FnMut(Location<'_>, Result<UsageRecord, BadEntry>),
{
    type Value = usize;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F> Visitor<'de> for Entries<'_, F>
where
    F: FnMut(Location<'_>, Result<UsageRecord, BadEntry>),
{
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UsageRecords as a list of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<usize, A::Error> {
        let mut record = 0;
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            record += 1;
            self.emit(record, &raw);
        }
        Ok(record)
    }
}
