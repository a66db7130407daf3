//! `metering emulator`: the emulator library served until Ctrl-C, with the flags of the
//! `metering-emulator` binary (`ServeArgs`, one definition for both).

use std::io::Write as _;

use metering_emulator::ServeArgs;

use crate::report::BOLD;

/// Serves the emulator until Ctrl-C; the URL alone on the first line of standard output,
/// for scripts, and a word for people on standard error.
///
/// # Errors
/// A configuration that cannot be read, or an address that cannot be bound: the message says
/// what to change.
pub(crate) async fn run(args: &ServeArgs) -> Result<(), String> {
    args.serve(|emulator| {
        let url = emulator.endpoint_url();
        let _ = writeln!(
            anstream::stderr(),
            "{BOLD}emulator{BOLD:#} serving BatchMeterUsage at {url}; billed records at {url}/_emulator/ledger; Ctrl-C stops it\n\
             send to it with: metering submit --endpoint-url {url} FILE"
        );
    })
    .await
    .map_err(|e| e.to_string())
}
