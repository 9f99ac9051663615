//! A test's HTTP client for a relay's API.

use std::net::SocketAddr;

use crate::eventually;

/// A test's HTTP client for a relay at `http`.
pub struct Api {
    pub http: SocketAddr,
    pub client: reqwest::Client,
    /// Sent as `Authorization: Bearer` on every request, when set.
    pub token: Option<String>,
}

impl Api {
    pub fn new(http: SocketAddr) -> Self {
        Self {
            http,
            client: reqwest::Client::new(),
            token: None,
        }
    }

    /// The same relay's API, every request sent with `token`.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            http: self.http,
            client: self.client.clone(),
            token: Some(token.to_owned()),
        }
    }

    /// A request to `path`, with the token when there is one.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.client.request(method, self.url(path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub async fn get(&self, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
        let r = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    /// Starts loading `plate` at `bay` through the API; the new session's id.
    pub async fn start_session(&self, bay: &str, plate: &str) -> baycount_protocol::SessionId {
        let (status, body) = self
            .post(
                &format!("/api/bays/{bay}/start"),
                serde_json::json!({ "plate": plate }),
            )
            .await;
        assert_eq!(
            status,
            reqwest::StatusCode::OK,
            "start {plate} at {bay}: {body}"
        );
        body["session"]["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn put(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.send(reqwest::Method::PUT, path, body).await
    }

    /// A JSON request; its status and JSON answer (null when none).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let r = self.request(method, path).json(&body).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// A response's status and body as text (CSV, `/metrics`).
    pub async fn text(&self, path: &str) -> (reqwest::StatusCode, String) {
        let r = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// The value of the `/metrics` line that starts with `line_start` (name and labels, then a
    /// space), 0 when there is none.
    pub async fn metric(&self, line_start: &str) -> f64 {
        let (_, text) = self.text("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix(line_start))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// The bay's entry of `/api/state`.
    pub async fn bay(&self, bay: &str) -> Option<serde_json::Value> {
        let (_, state) = self.get("/api/state").await;
        state["bays"]
            .as_array()?
            .iter()
            .find(|b| b["bay"] == bay)
            .cloned()
    }

    /// Waits until the bay's entry satisfies `f`.
    pub async fn wait_bay(
        &self,
        bay: &str,
        what: &str,
        f: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        eventually(10, what, || async { self.bay(bay).await.filter(|b| f(b)) }).await
    }
}
