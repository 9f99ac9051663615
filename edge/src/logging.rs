//! Where the edge's log goes: the systemd journal when started by systemd (with `BAY`,
//! `SESSION` and `PLATE` as fields), readable stderr otherwise.

/// Installs the logger, showing `default_level` and above unless `RUST_LOG` says otherwise.
/// Call once, first thing in `main`.
pub fn init(default_level: &str) {
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journal) = systemd_journal_logger::JournalLog::new()
        && journal
            .with_syslog_identifier("baycount-edge".into())
            .install()
            .is_ok()
    {
        log::set_max_level(log::LevelFilter::Info);
        return;
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level))
        .init();
}
