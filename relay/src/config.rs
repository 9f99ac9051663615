//! The relay's settings: a TOML file, overridden by command-line flags and environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baycount_plumbing::config_file::{self, ConfigFileError};
use baycount_plumbing::mqtt_tls::{ClientTls, TlsWithoutMqtts};
use baycount_plumbing::mqtt_url;
pub use baycount_plumbing::mqtt_url::{MqttUrl, MqttUrlError};
use baycount_protocol::BayId;

use crate::broker::Security;
use serde::Deserialize;

/// Where the REST API and dashboard listen unless told otherwise.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
/// Where the embedded MQTT broker listens unless told otherwise.
pub const DEFAULT_MQTT_LISTEN: &str = "127.0.0.1:1883";
/// The SQLite history file unless told otherwise.
pub const DEFAULT_DB: &str = "./baycount.db";
/// How long a command waits for the edge's `ack` (DESIGN.md: 5 s).
pub const DEFAULT_ACK_TIMEOUT_SECONDS: f64 = 5.0;
/// How long the pictures of counts (evidence) are kept unless told otherwise.
pub const DEFAULT_EVIDENCE_DAYS: u32 = 90;
/// The longest retention of evidence taken: a hundred years.
const MAX_EVIDENCE_DAYS: i64 = 36_500;

/// Why the settings cannot be used. Each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] ConfigFileError),
    #[error(transparent)]
    MqttUrl(#[from] MqttUrlError),
    #[error("give either an external broker (mqtt) or an embedded one (mqtt_listen), not both")]
    BothBrokers,
    #[error("ack_timeout_seconds must be between 0.1 and 60, not {0}")]
    AckTimeout(f64),
    #[error(
        "evidence_days must be a whole number of days from 1 to {MAX_EVIDENCE_DAYS}, not {0}: how long the pictures of counts are kept"
    )]
    EvidenceDays(i64),
    #[error("bay {0} is declared twice in the config file")]
    DuplicateBay(BayId),
    #[error("{0} is empty; remove it to run without one, or set a real token")]
    EmptyToken(&'static str),
    #[error("the viewer token and the operator token (api_token) must differ")]
    SameTokens,
    #[error(
        "a viewer token without an operator token (api_token, BAYCOUNT_API_TOKEN) would close reading but leave starting and stopping open: set both"
    )]
    ViewerWithoutOperator,
    #[error(
        "the embedded MQTT broker would listen on {0} with no password file: anyone on the network could publish counts. Give [broker] password_file (see README, Security), or allow_anonymous = true to accept that"
    )]
    OpenBroker(SocketAddr),
    #[error("[broker] {0}")]
    BrokerSection(&'static str),
    #[error(transparent)]
    TlsWithoutMqtts(#[from] TlsWithoutMqtts),
    #[error("unknown time zone {0:?}; use an IANA name such as Asia/Makassar or Asia/Jakarta")]
    TimeZone(String),
    #[error("invalid Telegram Bot API URL {0:?}; expected http(s)://host[:port]/")]
    TelegramUrl(String),
    #[error(
        "invalid Telegram user id {0:?} in the allow-list; ids are numbers (the bot's /help shows each user theirs)"
    )]
    TelegramUser(String),
    #[error(
        "invalid name {0:?} in http_hosts: give host names like relay.site.example, without scheme, port or path"
    )]
    HttpHost(String),
}

/// The site's time zone unless told otherwise.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Makassar";

/// The config file, as written. Every key is optional; unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub http: Option<SocketAddr>,
    /// Names the API answers to besides IP addresses, localhost and the machine's hostname.
    pub http_hosts: Option<Vec<String>>,
    pub mqtt_listen: Option<SocketAddr>,
    pub mqtt: Option<String>,
    pub db: Option<PathBuf>,
    pub api_token: Option<String>,
    pub viewer_token: Option<String>,
    /// TLS to an external `mqtts://` broker.
    pub mqtt_ca: Option<PathBuf>,
    pub mqtt_cert: Option<PathBuf>,
    pub mqtt_key: Option<PathBuf>,
    /// Who may use the embedded broker.
    pub broker: Option<BrokerSection>,
    pub ack_timeout_seconds: Option<f64>,
    /// Days the pictures of counts (evidence) are kept; the counts themselves are kept for ever.
    pub evidence_days: Option<i64>,
    /// IANA zone for the times people read (bot messages, dashboard).
    pub time_zone: Option<String>,
    pub telegram: Option<TelegramSection>,
    #[serde(default)]
    pub bays: Vec<BayDecl>,
}

/// The `[telegram]` section. The token belongs in `TELOXIDE_TOKEN`, not here.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSection {
    pub token: Option<String>,
    pub api_url: Option<String>,
    #[serde(default)]
    pub allow: Vec<u64>,
}

/// The `[broker]` section: the embedded broker's users and TLS.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSection {
    pub password_file: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
    /// Let clients in without a password on a non-loopback address.
    #[serde(default)]
    pub allow_anonymous: bool,
}

/// A bay declared ahead of its first message, with the name people know it by.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BayDecl {
    pub id: BayId,
    pub name: Option<String>,
}

/// Overrides from the command line or the environment (see `main.rs`).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub http: Option<SocketAddr>,
    /// `BAYCOUNT_HTTP_HOSTS`: comma-separated names, replacing the file's `http_hosts`.
    pub http_hosts: Option<String>,
    pub mqtt_listen: Option<SocketAddr>,
    pub mqtt: Option<String>,
    pub db: Option<PathBuf>,
    pub api_token: Option<String>,
    /// `BAYCOUNT_VIEWER_TOKEN`.
    pub viewer_token: Option<String>,
    pub mqtt_ca: Option<PathBuf>,
    pub mqtt_cert: Option<PathBuf>,
    pub mqtt_key: Option<PathBuf>,
    /// `TELOXIDE_TOKEN`.
    pub telegram_token: Option<String>,
    /// `TELOXIDE_API_URL`.
    pub telegram_api_url: Option<String>,
    /// `BAYCOUNT_TELEGRAM_ALLOW`: comma-separated user ids.
    pub telegram_allow: Option<String>,
}

/// How the relay reaches MQTT.
#[derive(Debug, Clone, PartialEq)]
pub enum Broker {
    /// Run rumqttd in-process on this address and connect to it.
    Embedded { listen: SocketAddr },
    /// Connect to a broker that is already running.
    External(MqttUrl),
}

/// The settings the relay runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// REST API, WebSocket and dashboard.
    pub http: SocketAddr,
    /// Names the API answers to in `Host` besides loopback ones and, when `http` is not a
    /// loopback address, IP addresses and the machine's hostname (DNS rebinding defence).
    pub http_hosts: Vec<String>,
    pub broker: Broker,
    /// The SQLite history file.
    pub db: PathBuf,
    /// The operators' token: when set, every mutating request needs `Authorization: Bearer <token>`.
    pub api_token: Option<String>,
    /// The viewers' token: when set, reading needs it (or the operators' token) too.
    pub viewer_token: Option<String>,
    /// Users and TLS of the embedded broker.
    pub broker_security: Security,
    /// TLS to an external `mqtts://` broker.
    pub mqtt_tls: Option<ClientTls>,
    /// How long a command waits for the edge's `ack` before it is "bay not responding".
    pub ack_timeout: Duration,
    /// Days each picture of a count (evidence) is kept after it was received; then it is
    /// deleted, its row and the counts kept.
    pub evidence_days: u32,
    /// Bays listed before they first speak.
    pub bays: Vec<BayDecl>,
    pub time_zone: chrono_tz::Tz,
    /// The operators' bot, when a token is given.
    pub telegram: Option<crate::bot::BotConfig>,
}

impl Config {
    /// The defaults for everything but where to listen, which broker and which database
    /// (for tests and benchmarks that start a relay in-process).
    pub fn new(http: SocketAddr, broker: Broker, db: PathBuf) -> Self {
        Self {
            http,
            http_hosts: vec![],
            broker,
            db,
            api_token: None,
            viewer_token: None,
            broker_security: Security::default(),
            mqtt_tls: None,
            ack_timeout: Duration::from_secs_f64(DEFAULT_ACK_TIMEOUT_SECONDS),
            evidence_days: DEFAULT_EVIDENCE_DAYS,
            bays: vec![],
            time_zone: chrono_tz::Asia::Makassar,
            telegram: None,
        }
    }

    /// Reads the config file, if any, and applies the overrides on top.
    pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let file = match path {
            Some(path) => config_file::read(path, FileConfig::secret)?,
            None => FileConfig::default(),
        };
        Self::resolve(file, overrides)
    }

    /// Parses a config file's text; errors name the offending key and line.
    pub fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
        Ok(config_file::parse(path, text)?)
    }

    /// Combines a file's settings with overrides (overrides win) and the defaults.
    pub fn resolve(file: FileConfig, o: Overrides) -> Result<Self, ConfigError> {
        let external = o.mqtt.or(file.mqtt);
        let listen = o.mqtt_listen.or(file.mqtt_listen);
        let broker = match (external, listen) {
            (Some(_), Some(_)) => return Err(ConfigError::BothBrokers),
            (Some(url), None) => Broker::External(MqttUrl::parse(&url)?),
            (None, listen) => Broker::Embedded {
                listen: listen.unwrap_or_else(|| parse_default(DEFAULT_MQTT_LISTEN)),
            },
        };
        let mqtt_tls = ClientTls {
            ca: o.mqtt_ca.or(file.mqtt_ca),
            cert: o.mqtt_cert.or(file.mqtt_cert),
            key: o.mqtt_key.or(file.mqtt_key),
        }
        .for_broker(matches!(&broker, Broker::External(url) if url.tls))?;
        let broker_security = broker_security(&broker, file.broker)?;
        let ack = file
            .ack_timeout_seconds
            .unwrap_or(DEFAULT_ACK_TIMEOUT_SECONDS);
        if !(0.1..=60.0).contains(&ack) {
            return Err(ConfigError::AckTimeout(ack));
        }
        let evidence_days = match file.evidence_days {
            None => DEFAULT_EVIDENCE_DAYS,
            Some(d) if (1..=MAX_EVIDENCE_DAYS).contains(&d) => d as u32,
            Some(d) => return Err(ConfigError::EvidenceDays(d)),
        };
        let mut seen = std::collections::HashSet::new();
        for b in &file.bays {
            if !seen.insert(&b.id) {
                return Err(ConfigError::DuplicateBay(b.id.clone()));
            }
        }
        let api_token = o.api_token.or(file.api_token);
        if api_token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(ConfigError::EmptyToken("api_token"));
        }
        let viewer_token = o.viewer_token.or(file.viewer_token);
        if viewer_token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(ConfigError::EmptyToken("viewer_token"));
        }
        if viewer_token.is_some() && viewer_token == api_token {
            return Err(ConfigError::SameTokens);
        }
        if viewer_token.is_some() && api_token.is_none() {
            return Err(ConfigError::ViewerWithoutOperator);
        }
        let zone = file
            .time_zone
            .clone()
            .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
        let time_zone: chrono_tz::Tz = zone.parse().map_err(|_| ConfigError::TimeZone(zone))?;
        let section = file.telegram.unwrap_or_default();
        let token = o
            .telegram_token
            .or(section.token)
            .filter(|t| !t.trim().is_empty());
        let telegram = match token {
            None => None,
            Some(token) => {
                let api_url = o
                    .telegram_api_url
                    .or(section.api_url)
                    .map(|u| {
                        url::Url::parse(&u)
                            .ok()
                            .filter(|p| matches!(p.scheme(), "http" | "https"))
                            .ok_or(ConfigError::TelegramUrl(u))
                    })
                    .transpose()?;
                let mut allow = section.allow;
                if let Some(list) = o.telegram_allow {
                    for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        allow.push(
                            id.parse()
                                .map_err(|_| ConfigError::TelegramUser(id.to_owned()))?,
                        );
                    }
                }
                Some(crate::bot::BotConfig {
                    token,
                    api_url,
                    allow,
                    time_zone,
                })
            }
        };
        let http_hosts = match o.http_hosts {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            None => file.http_hosts.unwrap_or_default(),
        };
        let http_hosts = http_hosts
            .into_iter()
            .map(host_name)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            http: o
                .http
                .or(file.http)
                .unwrap_or_else(|| parse_default(DEFAULT_HTTP)),
            http_hosts,
            broker,
            db: o.db.or(file.db).unwrap_or_else(|| DEFAULT_DB.into()),
            api_token,
            viewer_token,
            broker_security,
            mqtt_tls,
            ack_timeout: Duration::from_secs_f64(ack),
            evidence_days,
            bays: file.bays,
            time_zone,
            telegram,
        })
    }
}

impl FileConfig {
    /// What secret the file holds, if any: such a file must not be world-readable.
    fn secret(&self) -> Option<&'static str> {
        if self.api_token.is_some() || self.viewer_token.is_some() {
            Some("an API token")
        } else if self.telegram.as_ref().is_some_and(|t| t.token.is_some()) {
            Some("the Telegram bot token")
        } else if self.mqtt.as_deref().is_some_and(mqtt_url::holds_password) {
            Some("the MQTT password")
        } else {
            None
        }
    }
}

/// The embedded broker's security, checked: no open broker on the network by accident.
fn broker_security(
    broker: &Broker,
    section: Option<BrokerSection>,
) -> Result<Security, ConfigError> {
    let section = section.unwrap_or_default();
    let security = Security {
        password_file: section.password_file,
        tls_cert: section.tls_cert,
        tls_key: section.tls_key,
        client_ca: section.client_ca,
    };
    let Broker::Embedded { listen } = broker else {
        if security != Security::default() {
            return Err(ConfigError::BrokerSection(
                "is for the embedded broker; with mqtt = an external broker, secure that broker instead",
            ));
        }
        return Ok(security);
    };
    if security.tls_cert.is_some() != security.tls_key.is_some() {
        return Err(ConfigError::BrokerSection(
            "tls_cert and tls_key go together: give both",
        ));
    }
    if security.client_ca.is_some() && security.tls_cert.is_none() {
        return Err(ConfigError::BrokerSection(
            "client_ca needs tls_cert and tls_key",
        ));
    }
    // Mutual TLS alone proves a client belongs to the site, not which bay it is: without the
    // password file no bay is held to its own topics.
    let open = security.password_file.is_none();
    if open && !listen.ip().is_loopback() && !section.allow_anonymous {
        return Err(ConfigError::OpenBroker(*listen));
    }
    Ok(security)
}

/// A name of `http_hosts`, checked and lower-cased: letters, digits, '-', '_' and dots.
fn host_name(name: String) -> Result<String, ConfigError> {
    let normal = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = !normal.is_empty()
        && !normal.starts_with(['.', '-'])
        && normal
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(normal)
    } else {
        Err(ConfigError::HttpHost(name))
    }
}

fn parse_default(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|e| unreachable!("default address {s}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_example_parses() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/relay.example.toml"));
        let text = std::fs::read_to_string(path).expect("example config is shipped");
        let file = Config::parse_file(path, &text).expect("example parses");
        let cfg = Config::resolve(file, Overrides::default()).expect("example is valid");
        assert_eq!(cfg.http.to_string(), DEFAULT_HTTP);
        assert_eq!(cfg.bays.len(), 2);
    }

    #[test]
    fn telegram_and_time_zone() {
        let with = |text: &str, o: Overrides| {
            Config::resolve(Config::parse_file(Path::new("r.toml"), text)?, o)
        };
        let none = with("", Overrides::default()).expect("valid");
        assert!(none.telegram.is_none(), "no token: no bot");
        assert_eq!(none.time_zone, chrono_tz::Asia::Makassar);
        let bot = with(
            "time_zone = \"Asia/Jakarta\"\n[telegram]\nallow = [42]\n",
            Overrides {
                telegram_token: Some("1:abc".into()),
                telegram_api_url: Some("http://127.0.0.1:9/".into()),
                telegram_allow: Some(" 7, 8 ".into()),
                ..Overrides::default()
            },
        )
        .expect("valid")
        .telegram
        .expect("a bot");
        assert_eq!(bot.allow, vec![42, 7, 8]);
        assert_eq!(bot.time_zone, chrono_tz::Asia::Jakarta);
        assert!(matches!(
            with("time_zone = \"Mars/Olympus\"\n", Overrides::default()),
            Err(ConfigError::TimeZone(_))
        ));
        let token = || Overrides {
            telegram_token: Some("1:abc".into()),
            ..Overrides::default()
        };
        assert!(matches!(
            with(
                "",
                Overrides {
                    telegram_allow: Some("42,@boss".into()),
                    ..token()
                }
            ),
            Err(ConfigError::TelegramUser(_))
        ));
        assert!(matches!(
            with(
                "",
                Overrides {
                    telegram_api_url: Some("ftp://x".into()),
                    ..token()
                }
            ),
            Err(ConfigError::TelegramUrl(_))
        ));
    }

    #[test]
    fn no_half_secured_setups() {
        let with = |text: &str, o: Overrides| {
            Config::resolve(Config::parse_file(Path::new("r.toml"), text)?, o)
        };
        let viewer_only = Overrides {
            viewer_token: Some("v".into()),
            ..Overrides::default()
        };
        assert!(matches!(
            with("", viewer_only),
            Err(ConfigError::ViewerWithoutOperator)
        ));
        // Mutual TLS alone does not say which bay a client is: the password file is needed.
        let mtls_only = "mqtt_listen = \"0.0.0.0:8883\"\n[broker]\ntls_cert = \"c\"\ntls_key = \"k\"\nclient_ca = \"ca\"\n";
        assert!(matches!(
            with(mtls_only, Overrides::default()),
            Err(ConfigError::OpenBroker(_))
        ));
        let with_users = format!("{mtls_only}password_file = \"p\"\n");
        with(&with_users, Overrides::default()).expect("users and mutual TLS");
        assert!(matches!(
            with("[broker]\ntls_cert = \"c\"\n", Overrides::default()),
            Err(ConfigError::BrokerSection(_))
        ));
        assert!(matches!(
            with(
                "mqtt = \"mqtt://h\"\n[broker]\npassword_file = \"p\"\n",
                Overrides::default()
            ),
            Err(ConfigError::BrokerSection(_))
        ));
    }

    #[test]
    fn http_hosts_from_file_or_overrides() {
        let with = |text: &str, o: Overrides| {
            Config::resolve(Config::parse_file(Path::new("r.toml"), text)?, o)
        };
        let file = "http_hosts = [\"Relay.Site.Example\", \"relay.\"]\n";
        let cfg = with(file, Overrides::default()).expect("valid");
        assert_eq!(cfg.http_hosts, vec!["relay.site.example", "relay"]);
        let cfg = with(
            file,
            Overrides {
                http_hosts: Some(" a.example, ,b ".into()),
                ..Overrides::default()
            },
        )
        .expect("valid");
        assert_eq!(cfg.http_hosts, vec!["a.example", "b"], "the flag wins");
        for bad in ["http://relay", "relay:8080", "relay/x", "", "a b", ".x"] {
            let err = with(&format!("http_hosts = [{bad:?}]\n"), Overrides::default())
                .expect_err(bad)
                .to_string();
            assert!(err.contains("http_hosts"), "{err}");
        }
        assert!(
            with("", Overrides::default())
                .expect("valid")
                .http_hosts
                .is_empty()
        );
    }

    #[test]
    fn defaults_without_file() {
        let cfg = Config::load(None, Overrides::default()).expect("defaults");
        assert_eq!(
            cfg.broker,
            Broker::Embedded {
                listen: parse_default(DEFAULT_MQTT_LISTEN)
            }
        );
        assert_eq!(cfg.db, PathBuf::from(DEFAULT_DB));
        assert_eq!(cfg.ack_timeout, Duration::from_secs(5));
        assert_eq!(cfg.evidence_days, DEFAULT_EVIDENCE_DAYS);
        assert!(cfg.api_token.is_none());
    }

    #[test]
    fn evidence_days_are_checked() {
        let with = |text: &str| {
            Config::resolve(
                Config::parse_file(Path::new("r.toml"), text)?,
                Overrides::default(),
            )
        };
        assert_eq!(
            with("evidence_days = 30\n").expect("valid").evidence_days,
            30
        );
        for bad in ["0", "-5", "36501"] {
            let err = with(&format!("evidence_days = {bad}\n"))
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains("evidence_days") && err.contains(bad),
                "{bad}: {err}"
            );
        }
        let err = with("evidence_days = 1.5\n")
            .expect_err("a fraction")
            .to_string();
        assert!(err.contains("evidence_days"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let err =
            Config::parse_file(Path::new("r.toml"), "htp = \"1.2.3.4:5\"\n").expect_err("unknown");
        assert!(err.to_string().contains("htp"), "{err}");
        let err = Config::parse_file(Path::new("r.toml"), "[[bays]]\nid = \"a\"\ncolour = 1\n")
            .expect_err("unknown");
        assert!(err.to_string().contains("colour"), "{err}");
        let err = Config::parse_file(Path::new("r.toml"), "[[bays]]\nid = \"a/b\"\n")
            .expect_err("bad bay");
        assert!(err.to_string().contains("bay id"), "{err}");
    }

    #[test]
    fn overrides_win_and_conflicts_are_refused() {
        let file = FileConfig {
            db: Some("file.db".into()),
            ..Default::default()
        };
        let o = Overrides {
            db: Some("flag.db".into()),
            mqtt: Some("mqtt://relay:s3cret@broker.local:1884".into()),
            ..Default::default()
        };
        let cfg = Config::resolve(file, o).expect("valid");
        assert_eq!(cfg.db, PathBuf::from("flag.db"));
        let Broker::External(url) = cfg.broker else {
            panic!("external")
        };
        assert_eq!((url.host.as_str(), url.port), ("broker.local", 1884));
        assert_eq!(url.password.as_deref(), Some("s3cret"));
        assert!(!format!("{url:?}").contains("s3cret"));

        let both = Overrides {
            mqtt: Some("mqtt://h".into()),
            mqtt_listen: Some(parse_default("127.0.0.1:1")),
            ..Default::default()
        };
        assert!(matches!(
            Config::resolve(FileConfig::default(), both),
            Err(ConfigError::BothBrokers)
        ));
    }

    #[test]
    fn bad_mqtt_urls_are_explained_without_the_password() {
        for bad in ["http://h", "mqtt://", "mqtt://u:pw@h/path", "not a url"] {
            let o = Overrides {
                mqtt: Some(bad.into()),
                ..Default::default()
            };
            let err = Config::resolve(FileConfig::default(), o)
                .expect_err(bad)
                .to_string();
            assert!(err.contains("mqtt://"), "{err}");
            assert!(!err.contains("pw@"), "{err}");
        }
    }
}
