//! Serving the emulator from a command line: the flags `metering-emulator` and
//! `metering emulator` both take, defined once, and what they do.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use metering_core::{ManualClock, Timestamp};

use crate::Emulator;
use crate::builder::Builder;
use crate::config::EmulatorConfig;
use crate::error::EmulatorError;
use crate::faults::Faults;
use crate::server::RunningEmulator;

/// How to serve the emulator: the command line of the `metering-emulator` binary and of
/// `metering emulator`, one definition for both (flatten it into a `clap` parser).
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// The address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub bind: SocketAddr,
    /// Listen on an address other than loopback (the emulator checks no credentials).
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// The emulator's JSON configuration (catalogue, subscriptions, quota, time rules,
    /// faults): an `EmulatorConfig`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A fault to inject, named as in the configuration's faults: NAME=SHARE of requests
    /// (throttle, `internal_error`, `drop_connection`, unprocessed, slow),
    /// `slow_ms`=MILLISECONDS or seed=N. Overrides the configuration; repeat for several.
    #[arg(long = "fault", value_name = "NAME=VALUE", value_parser = parse_fault)]
    pub faults: Vec<String>,
    /// The emulator's clock, standing still at this time (RFC 3339; default: the system
    /// clock).
    #[arg(long, value_name = "RFC3339", value_parser = parse_timestamp)]
    pub now: Option<Timestamp>,
    /// Stop when standard input closes (the parent process went away).
    #[arg(long)]
    pub exit_on_stdin_close: bool,
}

impl ServeArgs {
    /// The emulator these flags describe, not started: the configuration file read, the
    /// `--fault`s applied over its faults, the clock standing at `--now`.
    ///
    /// # Errors
    /// A configuration file that cannot be read or does not parse, or a `--fault` that
    /// cannot be read.
    pub fn builder(&self) -> Result<Builder, EmulatorError> {
        let mut config = match &self.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| EmulatorError::ReadConfig {
                        path: path.clone(),
                        source,
                    })?;
                EmulatorConfig::from_json(&text).map_err(|source| EmulatorError::ParseConfig {
                    path: path.clone(),
                    source,
                })?
            }
            None => EmulatorConfig::default(),
        };
        for fault in &self.faults {
            config.faults.set(fault)?; // checked, with the rest, when the emulator starts
        }
        let mut builder = Emulator::builder()
            .config(config)
            .bind(self.bind)
            .allow_non_loopback(self.allow_non_loopback);
        if let Some(now) = self.now {
            builder = builder.clock(ManualClock::new(now));
        }
        Ok(builder)
    }

    /// Starts the emulator, prints its endpoint URL alone on the first line of standard
    /// output (for scripts), calls `started` (for a message to people), and serves until
    /// Ctrl-C, or until standard input closes with `--exit-on-stdin-close`.
    ///
    /// # Errors
    /// What [`builder`](Self::builder) refuses, an address that cannot be bound, or no way
    /// to watch for Ctrl-C.
    pub async fn serve(&self, started: impl FnOnce(&RunningEmulator)) -> Result<(), EmulatorError> {
        let builder = self.builder()?;
        // Installed before the URL is printed: a script may interrupt as soon as it reads it.
        let interrupted = interrupted().map_err(EmulatorError::Signal)?;
        let emulator = builder.start().await?;
        let mut stdout = std::io::stdout();
        // A closed standard output must not stop the emulator a parent still talks to.
        let _ = writeln!(stdout, "{}", emulator.endpoint_url());
        let _ = stdout.flush();
        started(&emulator);
        if self.exit_on_stdin_close {
            tokio::select! {
                () = interrupted => {}
                () = stdin_closed() => {}
            }
        } else {
            interrupted.await;
        }
        emulator.shutdown().await;
        Ok(())
    }
}

/// Resolves on Ctrl-C (SIGINT). Unlike `tokio::signal::ctrl_c()`, whose handler is installed
/// only when first polled, the handler is in place when this returns, so an interrupt that
/// arrives right after the URL is printed stops the emulator cleanly instead of killing it.
fn interrupted() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    #[cfg(windows)]
    let mut signal = tokio::signal::windows::ctrl_c()?;
    Ok(async move {
        signal.recv().await;
    })
}

/// Resolves when standard input reaches its end (the parent went away). The read blocks in
/// a thread of its own, not the runtime's blocking pool, so that shutting the runtime down
/// never waits for a read that may never end.
async fn stdin_closed() {
    let (closed, on_close) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let _ = on_close.await;
}

fn parse_fault(setting: &str) -> Result<String, EmulatorError> {
    let mut faults = Faults::none();
    faults.set(setting)?;
    faults.validate()?;
    Ok(setting.to_owned())
}

fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text).map_err(|e| format!("{e}; write it like 2026-11-26T12:00:00Z"))
}
