//! `metering emulator`: the emulator library, served until Ctrl-C.

use metering_core::ManualClock;
use metering_emulator::{Emulator, EmulatorConfig};
use std::io::Write as _;

use crate::args::EmulatorArgs;
use crate::report::BOLD;

/// Reads the configuration and faults, starts the emulator and serves until Ctrl-C.
///
/// # Errors
/// A configuration that cannot be read, or an address that cannot be bound: the message says
/// what to change.
pub async fn run(args: &EmulatorArgs) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => {
            let shown = path.display();
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("{shown}: cannot read: {e}; check the path"))?;
            EmulatorConfig::from_json(&text).map_err(|e| {
                format!("{shown}: {e}; see the emulator's README for the configuration's members")
            })?
        }
        None => EmulatorConfig::default(),
    };
    for fault in &args.faults {
        config.faults.set(fault).map_err(|e| e.to_string())?; // checked by clap already
    }
    let mut builder = Emulator::builder()
        .config(config)
        .bind(args.bind)
        .allow_non_loopback(args.allow_non_loopback);
    if let Some(now) = args.now {
        builder = builder.clock(ManualClock::new(now));
    }
    // Tokio installs the Ctrl-C handler when the future is first polled: poll it once before
    // the URL is printed, since a script may interrupt as soon as it reads it.
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    tokio::select! {
        biased;
        result = &mut interrupted => return result.map_err(|e| format!("cannot watch for Ctrl-C: {e}")),
        () = std::future::ready(()) => {}
    }
    let emulator = builder.start().await.map_err(|e| {
        format!(
            "cannot start the emulator on {}: {e}; choose another address with --bind (port 0 picks a free one)",
            args.bind
        )
    })?;
    let url = emulator.endpoint_url();
    // The URL alone on the first line, for scripts; the rest for people, on standard error.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{url}");
    let _ = out.flush();
    let mut err = anstream::stderr();
    let _ = writeln!(
        err,
        "{BOLD}emulator{BOLD:#} serving BatchMeterUsage at {url}; billed records at {url}/_emulator/ledger; Ctrl-C stops it\n\
         send to it with: metering submit --endpoint-url {url} FILE"
    );
    let result = interrupted.await;
    emulator.shutdown().await;
    result.map_err(|e| format!("cannot watch for Ctrl-C: {e}"))
}
