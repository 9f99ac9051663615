//! `mqtt[s]://[user:password@]host[:port]`: how the edge and the relay are told where the broker is.

/// Why an MQTT URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid MQTT URL {url:?}: {reason} (expected mqtt://[user:password@]host[:port], or mqtts:// for TLS)"
)]
pub struct MqttUrlError {
    /// The URL with its password hidden.
    pub url: String,
    pub reason: String,
}

/// A broker's address and credentials. The password is never printed.
#[derive(Clone, PartialEq)]
pub struct MqttUrl {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `mqtts://`: the link is TLS (default port 8883).
    pub tls: bool,
}

impl std::fmt::Debug for MqttUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is never printed.
        write!(f, "{}://", if self.tls { "mqtts" } else { "mqtt" })?;
        if let Some(u) = &self.username {
            write!(f, "{u}:***@")?;
        }
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl MqttUrl {
    /// Reads `mqtt://[user:password@]host[:port]` (`tcp://` is accepted too), or `mqtts://`
    /// (`ssl://`) for TLS.
    pub fn parse(s: &str) -> Result<Self, MqttUrlError> {
        let err = |reason: &str| MqttUrlError {
            url: redact(s),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(s).map_err(|e| err(&e.to_string()))?;
        let tls = match url.scheme() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => return Err(err("the scheme must be mqtt:// or mqtts://")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| err("no host"))?;
        if url.path().len() > 1 || url.query().is_some() {
            return Err(err("a path or query is not allowed"));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: url.port().unwrap_or(if tls { 8883 } else { 1883 }),
            username: Some(url.username())
                .filter(|u| !u.is_empty())
                .and_then(decode),
            password: url.password().and_then(decode),
            tls,
        })
    }
}

/// Whether `url` is a valid MQTT URL with a password in it (a file that holds it must stay private).
pub fn holds_password(url: &str) -> bool {
    MqttUrl::parse(url).is_ok_and(|u| u.password.is_some())
}

/// `s` with any password replaced, for error messages.
fn redact(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_hides_the_password() {
        let u = MqttUrl::parse("mqtt://bay%2D1:s3cret@broker.local:8883").expect("valid");
        assert_eq!((u.host.as_str(), u.port), ("broker.local", 8883));
        assert_eq!(u.username.as_deref(), Some("bay-1"));
        assert_eq!(u.password.as_deref(), Some("s3cret"));
        assert!(!format!("{u:?}").contains("s3cret"));
        assert_eq!(MqttUrl::parse("tcp://127.0.0.1").expect("valid").port, 1883);
        let tls = MqttUrl::parse("mqtts://relay.local").expect("valid");
        assert!(tls.tls && tls.port == 8883, "{tls:?}");
        assert!(!MqttUrl::parse("mqtt://h").expect("valid").tls);
        for bad in ["http://x", "mqtt://", "mqtt://h/path", "nonsense"] {
            assert!(MqttUrl::parse(bad).is_err(), "{bad}");
        }
        let e = MqttUrl::parse("http://u:pw@h").expect_err("scheme");
        assert!(!e.to_string().contains("pw@"), "{e}");
        assert!(holds_password("mqtt://u:pw@h") && holds_password("mqtt://:pw@h"));
        assert!(!holds_password("mqtt://u@h") && !holds_password("http://u:pw@h"));
    }

    /// Any text after `mqtt://` is an address or an error, never a panic (20,000 inputs;
    /// `BAYCOUNT_FUZZ_CASES` for a longer run).
    #[test]
    fn fuzz_the_parser() {
        use proptest::test_runner::{Config, TestRunner};
        let cases = std::env::var("BAYCOUNT_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let text = "\\PC{0,40}|[A-Za-z0-9 ;'\"%_:@\\[\\]/-]{0,30}";
        let result = runner.run(&text, |text| {
            let _ = MqttUrl::parse(&format!("mqtt://{text}"));
            Ok(())
        });
        if let Err(e) = result {
            panic!("fuzz MqttUrl::parse: {e}");
        }
    }
}
