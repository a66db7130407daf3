//! `metering-emulator`: serves `BatchMeterUsage` on loopback until interrupted.
//!
//! ```text
//! metering-emulator [--bind 127.0.0.1:8787] [--allow-non-loopback] [--config FILE]
//!                   [--now RFC3339] [--exit-on-stdin-close]
//! ```
//! - `--bind ADDR`: the address to listen on (`127.0.0.1:0` takes a free port).
//! - `--allow-non-loopback`: allows a non-loopback `--bind` (it accepts any signature).
//! - `--config FILE`: an `EmulatorConfig` JSON file (catalogue, subscriptions, time rules,
//!   quota, faults).
//! - `--now RFC3339`: freezes the clock at this moment.
//! - `--exit-on-stdin-close`: stops when standard input closes (the parent went away).
//! - `--help`: prints the usage line.
//!
//! It prints the endpoint URL as its first line of standard output, then serves until
//! interrupted (Ctrl-C). What it billed is at `GET {endpoint}/_emulator/ledger` and
//! `/_emulator/summary`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use metering_core::{ManualClock, Timestamp};
use metering_emulator::{Emulator, EmulatorConfig};

const USAGE: &str = "usage: metering-emulator [--bind ADDR] [--allow-non-loopback] [--config FILE] [--now RFC3339] [--exit-on-stdin-close]";

struct Args {
    bind: SocketAddr,
    allow_non_loopback: bool,
    config: Option<String>,
    now: Option<Timestamp>,
    exit_on_stdin_close: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        bind: SocketAddr::from(([127, 0, 0, 1], 8787)),
        allow_non_loopback: false,
        config: None,
        now: None,
        exit_on_stdin_close: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--bind" => {
                let text = value("--bind")?;
                parsed.bind = text
                    .parse()
                    .map_err(|e| format!("--bind: {e} (value: {text:?})"))?;
            }
            "--allow-non-loopback" => parsed.allow_non_loopback = true,
            "--config" => parsed.config = Some(value("--config")?),
            "--now" => {
                let text = value("--now")?;
                parsed.now = Some(Timestamp::parse_rfc3339(&text).map_err(|e| e.to_string())?);
            }
            "--exit-on-stdin-close" => parsed.exit_on_stdin_close = true,
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

async fn run(args: Args) -> Result<(), String> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            EmulatorConfig::from_json(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => EmulatorConfig::default(),
    };
    let mut builder = Emulator::builder()
        .config(config)
        .bind(args.bind)
        .allow_non_loopback(args.allow_non_loopback);
    if let Some(now) = args.now {
        builder = builder.clock(ManualClock::new(now));
    }
    // Installed before the URL is printed: a harness may interrupt as soon as it reads it.
    let interrupted = interrupted().map_err(|e| format!("cannot watch for Ctrl-C: {e}"))?;
    let emulator = builder.start().await.map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", emulator.endpoint_url()).map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    if args.exit_on_stdin_close {
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

/// Resolves when standard input reaches its end (the parent went away).
async fn stdin_closed() {
    let _ = tokio::task::spawn_blocking(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    })
    .await;
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("metering-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(args));
    // The standard input watcher may still be blocked in a read that never ends (Ctrl-C
    // with the parent alive): dropping the runtime would wait for it forever.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("metering-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags named in `text`, in order, without repeats.
    fn flags(text: &str) -> Vec<&str> {
        let mut flags: Vec<&str> = Vec::new();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if word.starts_with("--") && word.len() > 2 && !flags.contains(&word) {
                flags.push(word);
            }
        }
        flags
    }

    /// The usage line, this file's list of flags and the README's synopsis name the same flags, and
    /// the parser takes each of them.
    #[test]
    fn every_flag_is_documented_and_parsed() {
        let usage = flags(USAGE);
        // One bullet of the documentation per flag.
        let doc: String = include_str!("main.rs")
            .lines()
            .take_while(|line| line.starts_with("//!"))
            .filter_map(|line| line.strip_prefix("//! - `"))
            .map(|line| line.split('`').next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ");
        let mut documented = flags(&doc);
        documented.retain(|flag| *flag != "--help");
        assert_eq!(usage, documented);
        let readme = include_str!("../README.md");
        let synopsis = &readme[readme.find("metering-emulator [").unwrap()..];
        assert_eq!(usage, flags(&synopsis[..synopsis.find("```").unwrap()]));
        for flag in usage {
            let value = match flag {
                "--bind" => Some("127.0.0.1:0"),
                "--config" => Some("config.json"),
                "--now" => Some("2026-11-26T12:00:00Z"),
                _ => None,
            };
            let args = std::iter::once(flag.to_owned()).chain(value.map(str::to_owned));
            assert!(parse_args(args).is_ok(), "{flag}");
        }
    }
}
