//! What other web pages cannot do: name the relay by a `Host` it does not answer to (DNS rebinding), or send it commands and open its live feed from another `Origin`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// The names the relay answers to in `Host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    /// Listening on loopback only: then only loopback names reach it legitimately.
    loopback_only: bool,
    /// Names accepted besides loopback ones and, beyond loopback, IP literals: the site's
    /// `http_hosts`, and beyond loopback this machine's hostname and `<hostname>.local`.
    names: Vec<String>,
}

impl Hosts {
    /// For a relay listening on `listen` that also answers to `configured` (`http_hosts`).
    pub fn new(listen: SocketAddr, configured: &[String]) -> Self {
        Self::with_machine_name(listen, configured, machine_hostname().as_deref())
    }

    /// [`Hosts::new`] with the machine's hostname given (for tests).
    pub fn with_machine_name(
        listen: SocketAddr,
        configured: &[String],
        machine: Option<&str>,
    ) -> Self {
        let loopback_only = listen.ip().to_canonical().is_loopback();
        let mut names: Vec<String> = configured.iter().map(|n| normal_name(n)).collect();
        if let Some(m) = machine.map(normal_name).filter(|m| !m.is_empty())
            && !loopback_only
        {
            names.push(format!("{m}.local"));
            names.push(m);
        }
        Self {
            loopback_only,
            names,
        }
    }

    /// Whether a request whose `Host` is `authority` (`name[:port]`) is for this relay.
    pub fn allows(&self, authority: &str) -> bool {
        let Some((host, _)) = split_authority(authority) else {
            return false;
        };
        match host {
            Host::Ip(ip) => ip.to_canonical().is_loopback() || !self.loopback_only,
            Host::Name(name) => {
                name == "localhost" || name.ends_with(".localhost") || self.names.contains(&name)
            }
        }
    }

    /// Why `authority` was refused, and what to do about it.
    fn refusal(&self, authority: Option<&str>) -> String {
        let Some(authority) = authority else {
            return "the request names no host (no Host header): send the relay's address in Host"
                .to_owned();
        };
        let shown: String = authority.chars().take(100).collect();
        if self.loopback_only {
            format!(
                "this relay listens on loopback only and answers to localhost, 127.0.0.1 and [::1], not to {shown:?}: open it as http://localhost:<port>, or, if {shown:?} is the relay's own name (a reverse proxy's), add it to http_hosts in relay.toml (or BAYCOUNT_HTTP_HOSTS)"
            )
        } else {
            format!(
                "this relay does not answer to the name {shown:?}: if it is the relay's own name, add it to http_hosts in relay.toml (or BAYCOUNT_HTTP_HOSTS); IP addresses, localhost and this machine's hostname are always accepted"
            )
        }
    }
}

/// Refuses, before anything else runs: a `Host` the relay does not answer to (421), and a
/// command or WebSocket upgrade sent by another site's page (403). Requests without `Origin`
/// (scripts, curl) are not from a page and pass.
pub async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    let Some(host) = authority.as_deref().filter(|a| state.hosts.allows(a)) else {
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "unknown_host",
            state.hosts.refusal(authority.as_deref()),
        )
        .into_response();
    };
    if (!is_safe(request.method()) || is_websocket(request.headers()))
        && let Err(why) = same_origin(request.headers(), host)
    {
        return ApiError::new(StatusCode::FORBIDDEN, "cross_origin", why).into_response();
    }
    next.run(request).await
}

/// GET, HEAD, OPTIONS and TRACE change nothing; everything else is a command.
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Whether a request comes from the relay's own pages (or from no page at all).
fn same_origin(headers: &HeaderMap, host: &str) -> Result<(), String> {
    const FIX: &str = "use the relay's own dashboard, or send the request from a program that sends no Origin header";
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if site.eq_ignore_ascii_case("cross-site") {
        return Err(format!(
            "this request comes from another site's page (Sec-Fetch-Site: cross-site), which may not control the relay: {FIX}"
        ));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = String::from_utf8_lossy(origin.as_bytes());
    if origin.trim().eq_ignore_ascii_case("null") {
        return Err(format!(
            "this request comes from a page with no origin of its own (Origin: null: a sandboxed frame, a file or a redirect), which may not control the relay: {FIX}"
        ));
    }
    if origin_is_host(&origin, host) {
        return Ok(());
    }
    let shown: String = origin.chars().take(100).collect();
    Err(format!(
        "this request comes from a page of {shown:?}, not of this relay (http://{host}), and may not control it: {FIX}"
    ))
}

/// Whether `origin` (`scheme://host[:port]`) is the relay as named by `Host`: same host and
/// port, over http (or https, behind a TLS proxy).
fn origin_is_host(origin: &str, host: &str) -> bool {
    let Ok(url) = url::Url::parse(origin.trim()) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") || url.path() != "/" || url.query().is_some() {
        return false;
    }
    let origin_host = match url.host() {
        Some(url::Host::Domain(d)) => Host::Name(normal_name(d)),
        Some(url::Host::Ipv4(a)) => Host::Ip(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Host::Ip(IpAddr::V6(a)),
        None => return false,
    };
    let Some((named, port)) = split_authority(host) else {
        return false;
    };
    origin_host == named && port.or(default_port(url.scheme())) == url.port_or_known_default()
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// A host as `Host` names it.
#[derive(Debug, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    /// Lower case, without a trailing dot.
    Name(String),
}

/// `name`, `a.b.c.d` or `[v6]`, each with an optional `:port`; `None` when malformed.
fn split_authority(authority: &str) -> Option<(Host, Option<u16>)> {
    let authority = authority.trim();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (Host::Ip(IpAddr::V6(v6.parse::<Ipv6Addr>().ok()?)), port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        let host = match name.parse::<Ipv4Addr>() {
            Ok(a) => Host::Ip(IpAddr::V4(a)),
            Err(_) => {
                let name = normal_name(name);
                let valid = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
                if !valid {
                    return None;
                }
                Host::Name(name)
            }
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok()?),
    };
    Some((host, port))
}

/// A host name as compared: lower case, without the trailing dot of a fully qualified name.
fn normal_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// This machine's hostname, as the kernel has it.
fn machine_hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|f| std::fs::read_to_string(f).ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// Adds the guard's answers to every operation of the API document: 421 everywhere, 403 to
/// commands and the WebSocket.
#[derive(Debug)]
pub struct GuardResponses;

impl utoipa::Modify for GuardResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let commands = [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in commands.into_iter().flatten() {
                op.responses.responses.insert(
                    "403".to_owned(),
                    error("a command from another site's page (Origin, Sec-Fetch-Site), or a viewer's token where the operators' is needed").into(),
                );
            }
            if path == "/api/ws"
                && let Some(op) = item.get.as_mut()
            {
                op.responses.responses.insert(
                    "403".to_owned(),
                    error("an upgrade from another site's page (Origin, Sec-Fetch-Site)").into(),
                );
            }
            let all = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
                &mut item.head,
                &mut item.options,
            ];
            for op in all.into_iter().flatten() {
                op.responses.responses.insert(
                    "421".to_owned(),
                    error("the Host is not a name the relay answers to (see http_hosts)").into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn loopback_relays_answer_to_loopback_names_only() {
        let hosts = Hosts::with_machine_name(addr("127.0.0.1:8080"), &[], Some("warehouse"));
        for yes in [
            "localhost",
            "localhost:8080",
            "LocalHost.:1",
            "dash.localhost:8080",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.8.9.10:1",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(hosts.allows(yes), "{yes}");
        }
        for no in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "warehouse",
            "warehouse.local",
            "10.0.0.5:8080",
            "[fe80::1]:8080",
            "",
            ":8080",
            "localhost:notaport",
            "localhost:99999",
            "::1",
            "[::1",
            "evil example",
        ] {
            assert!(!hosts.allows(no), "{no}");
        }
        let v6 = Hosts::with_machine_name(addr("[::1]:8080"), &[], None);
        assert!(v6.allows("[::1]:8080") && v6.allows("localhost") && !v6.allows("evil.example"));
    }

    #[test]
    fn relays_on_the_network_answer_to_ips_their_hostname_and_configured_names() {
        let configured = vec!["Relay.Site.Example".to_owned()];
        for listen in ["0.0.0.0:8080", "[::]:8080", "192.168.1.10:8080"] {
            let hosts = Hosts::with_machine_name(addr(listen), &configured, Some("Warehouse\n"));
            for yes in [
                "relay.site.example",
                "relay.site.example.:8080",
                "RELAY.SITE.EXAMPLE:8080",
                "warehouse",
                "warehouse.local:8080",
                "192.168.1.10:8080",
                "10.0.0.5",
                "[fe80::1]:8080",
                "localhost:8080",
                "127.0.0.1:8080",
            ] {
                assert!(hosts.allows(yes), "{listen}: {yes}");
            }
            for no in [
                "evil.example",
                "site.example",
                "relay.site.example.evil.example",
                "warehouse.evil.example",
                "x.relay.site.example",
            ] {
                assert!(!hosts.allows(no), "{listen}: {no}");
            }
        }
        // A configured name also works on loopback (behind a reverse proxy).
        let proxied = Hosts::with_machine_name(addr("127.0.0.1:8080"), &configured, None);
        assert!(proxied.allows("relay.site.example"));
        assert!(proxied.refusal(Some("evil.example")).contains("http_hosts"));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn only_the_relays_own_pages_or_none() {
        let host = "127.0.0.1:8080";
        for ok in [
            headers(&[]),
            headers(&[("origin", "http://127.0.0.1:8080")]),
            headers(&[("origin", "https://127.0.0.1:8080")]),
            headers(&[
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin"),
            ]),
            headers(&[("sec-fetch-site", "none")]),
        ] {
            assert!(same_origin(&ok, host).is_ok(), "{ok:?}");
        }
        for bad in [
            headers(&[("origin", "http://evil.example")]),
            headers(&[("origin", "http://127.0.0.1:8081")]),
            headers(&[("origin", "http://127.0.0.1")]),
            headers(&[("origin", "null")]),
            headers(&[("origin", "file://")]),
            headers(&[("origin", "garbage")]),
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "cross-site"),
            ]),
        ] {
            let why = same_origin(&bad, host).expect_err("refused");
            assert!(why.contains("dashboard"), "{why}");
        }
        assert!(origin_is_host("http://localhost", "localhost"));
        assert!(origin_is_host("http://localhost", "localhost:80"));
        assert!(origin_is_host(
            "https://relay.site.example",
            "relay.site.example"
        ));
        assert!(origin_is_host("http://[::1]:8080", "[::1]:8080"));
        assert!(!origin_is_host("http://localhost:80", "localhost:8080"));
        assert!(!origin_is_host("https://localhost", "localhost:80"));
    }
}
