//! Where the relay's log goes: the systemd journal when started by systemd, stderr otherwise.

use log::{Log, Metadata, Record};

/// Info for baycount; the embedded broker's tracing (which logs routine traffic as errors)
/// is off unless `RUST_LOG` asks for it.
const DEFAULT_FILTER: &str = "info,rumqttd=off,tracing=off";

/// Installs the logger. Call once, first thing in `main`.
pub fn init() {
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journal) = systemd_journal_logger::JournalLog::new()
    {
        let journal = journal.with_syslog_identifier("baycount-relay".into());
        if log::set_boxed_logger(Box::new(Quiet(journal))).is_ok() {
            log::set_max_level(log::LevelFilter::Info);
            return;
        }
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_FILTER))
        .init();
}

/// Drops the embedded broker's chatter before it reaches the journal.
struct Quiet<L>(L);

fn noisy(target: &str) -> bool {
    target.starts_with("rumqttd") || target.starts_with("tracing")
}

impl<L: Log> Log for Quiet<L> {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        !noisy(m.target()) && self.0.enabled(m)
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}
