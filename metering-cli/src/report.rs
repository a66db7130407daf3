//! Output: colour only on a terminal (and never with `NO_COLOR`), exit codes.

use std::io::Write;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};

/// The ways a command ends; see `args::EXIT_CODES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// All done, all good.
    Ok,
    /// Some records or files are invalid, kept back or unsettled.
    Problems,
    /// Records still to send are within the margin of the service's deadline, or past it.
    Deadline,
    /// A file, the network or the emulator failed.
    Failed,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Ok => Self::SUCCESS,
            Exit::Problems => Self::from(1),
            Exit::Failed => Self::from(3),
            Exit::Deadline => Self::from(4),
        }
    }
}

/// Red, for what is wrong.
pub(crate) const ERROR: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
/// Yellow, for what is kept back.
pub(crate) const WARN: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
/// Green, for what is fine.
pub(crate) const GOOD: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
/// Bold, for headings.
pub(crate) const BOLD: Style = Style::new().bold();

/// Standard output, styled only where it can show it.
pub(crate) fn stdout() -> anstream::AutoStream<std::io::StdoutLock<'static>> {
    anstream::AutoStream::auto(std::io::stdout().lock())
}

/// Any writer, with the styles taken out (`anstream`'s own streams are for the standard
/// ones and files).
pub(crate) struct Plain<W> {
    inner: W,
    strip: anstream::adapter::StripBytes,
}

impl<W: Write> Plain<W> {
    /// `inner`, written without styles.
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            strip: anstream::adapter::StripBytes::default(),
        }
    }
}

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for text in self.strip.strip_next(buf) {
            self.inner.write_all(text)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Prints an error that stops a command, to standard error.
pub(crate) fn fail(message: impl std::fmt::Display) {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{ERROR}error{ERROR:#}: {message}");
}

/// Writes one JSON value as a line.
pub(crate) fn json_line(
    out: &mut impl Write,
    value: &impl serde::Serialize,
) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// One record the service did not bill, or that was not sent, with why in words:
/// `kept back {"ProductCode":...}: Timestamp ... is 30h 0m 0s old ...`.
pub(crate) fn not_billed(
    out: &mut impl Write,
    label: &str,
    record: &metering_core::UsageRecord,
    why: impl std::fmt::Display,
) -> std::io::Result<()> {
    let record = serde_json::to_string(record).map_err(std::io::Error::other)?;
    writeln!(out, "{WARN}{label}{WARN:#} {record}: {why}")
}

/// The system clock to the second: every time the command prints (the time it judged at,
/// the ages in reasons) reads as a person writes it.
#[derive(Debug)]
pub(crate) struct WholeSeconds;

impl metering_core::Clock for WholeSeconds {
    fn now(&self) -> metering_core::Timestamp {
        to_the_second(metering_core::SystemClock.now())
    }
}

/// `time` without its fraction of a second.
pub(crate) fn to_the_second(time: metering_core::Timestamp) -> metering_core::Timestamp {
    metering_core::Timestamp::from_unix_seconds(time.unix_seconds()).unwrap_or(time)
}
