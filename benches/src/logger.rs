//! The `cinder` tool's log: Cinder's and DataFusion's `log` records on standard error, so a
//! fallback (device out-of-memory, an operator that stays on the CPU) is seen, not silent.
//! `CINDER_LOG` sets the level: `off`, `error`, `warn` (the default), `info`, `debug` or
//! `trace`.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            // One write per record, so lines from several threads do not interleave.
            let line = format!(
                "[{} {}] {}\n",
                record.level(),
                record.target(),
                record.args()
            );
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

static LOGGER: Stderr = Stderr;

/// Installs the logger at the level `CINDER_LOG` names; an unknown level is said once and
/// the default kept.
pub fn init() {
    let level = match std::env::var("CINDER_LOG") {
        Err(_) => LevelFilter::Warn,
        Ok(value) => value.trim().parse().unwrap_or_else(|_| {
            eprintln!(
                "cinder: CINDER_LOG={value} is not a level (off, error, warn, info, debug, \
                 trace); logging at warn"
            );
            LevelFilter::Warn
        }),
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
