//! goose installs a console logger (`simplelog`, on stdout) the first time a load test
//! starts, unless the process already has a `log` logger; its per-request warnings
//! would then interleave with flowgate's output. This installs, once, a logger that
//! hands `log` records to `tracing` at debug level, so they show only when asked for
//! (`RUST_LOG=goose=debug` with a tracing subscriber) and goose's own stays out.

use std::sync::Once;

struct ToTracing;

impl log::Log for ToTracing {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            tracing::debug!(target: "goose", "{}", record.args());
        }
    }

    fn flush(&self) {}
}

static INSTALL: Once = Once::new();
static LOGGER: ToTracing = ToTracing;

/// Installs the logger unless the process has one already.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Warn);
        }
    });
}
