//! The in-memory ledger passes the public conformance suite, as any store of one's own must.

use metering_core::ledger::conformance::Harness;
use metering_ledger_memory::MemoryLedger;

/// One store per case; every `open` is another handle on it.
#[derive(Default)]
struct Memory(MemoryLedger);

impl Harness for Memory {
    type Ledger = MemoryLedger;

    fn open(&self) -> MemoryLedger {
        self.0.clone()
    }
}

metering_core::ledger_conformance_tests!(Memory::default());
