//! A fake Telegram Bot API server on loopback: it speaks the real Bot API's JSON for getMe,
//! getUpdates (long polling), sendMessage, editMessageText, editMessageReplyMarkup,
//! answerCallbackQuery, setMyCommands and sendPhoto; keeps the messages it was sent (refusing
//! an edit that changes nothing, as the real one does); records every call; injects updates;
//! and fails calls on demand (429 with `retry_after`).

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Json;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const BOT_ID: u64 = 1000;
pub const TOKEN: &str = "1000:TEST-TOKEN";

/// One recorded call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub at: Instant,
}

/// A message the bot has in a chat, as the fake keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub chat: i64,
    pub id: i64,
    pub text: String,
    pub markup: Value,
}

impl Sent {
    /// The labels of its buttons.
    pub fn buttons(&self) -> Vec<String> {
        self.markup["inline_keyboard"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .flat_map(|r| r.as_array().cloned().unwrap_or_default())
                    .filter_map(|b| b["text"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The callback data of the button labelled `label`.
    pub fn data(&self, label: &str) -> Option<String> {
        self.markup["inline_keyboard"]
            .as_array()?
            .iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
            .find(|b| b["text"] == label)
            .and_then(|b| b["callback_data"].as_str().map(str::to_owned))
    }
}

#[derive(Default)]
struct Inner {
    updates: VecDeque<Value>,
    next_update: i64,
    calls: Vec<Call>,
    messages: Vec<Sent>,
    next_message: i64,
    /// Error responses to give the next calls of a method.
    failures: HashMap<String, VecDeque<Value>>,
}

#[derive(Clone, Default)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    changed: Arc<Notify>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running fake.
pub struct FakeTelegram {
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "baycount", "username": "baycount_test_bot"})
}

fn user(id: u64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": format!("Operator {id}"), "username": format!("op{id}"), "language_code": "id"})
}

fn chat(id: i64) -> Value {
    json!({"id": id, "type": "private", "first_name": format!("Operator {id}")})
}

fn ok(result: Value) -> Json<Value> {
    Json(json!({"ok": true, "result": result}))
}

fn error(code: u16, description: &str) -> Json<Value> {
    Json(json!({"ok": false, "error_code": code, "description": description}))
}

fn message_json(m: &Sent) -> Value {
    let mut v = json!({
        "message_id": m.id,
        "date": now_unix(),
        "chat": chat(m.chat),
        "from": bot_user(),
        "text": m.text,
    });
    if !m.markup.is_null() {
        v["reply_markup"] = m.markup.clone();
    }
    v
}

/// teloxide sends `reply_markup` as an object (or, in forms, as a JSON string).
fn markup(body: &Value) -> Value {
    match &body["reply_markup"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

async fn method(
    State(shared): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    body: Bytes,
) -> Json<Value> {
    if bot != format!("bot{TOKEN}") {
        return error(401, "Unauthorized");
    }
    // Method names are case-insensitive in the Bot API (teloxide sends `GetMe`).
    let method = method.to_ascii_lowercase();
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
        // Multipart (sendPhoto): kept as text.
        Value::String(String::from_utf8_lossy(&body).into_owned())
    });
    {
        let mut s = shared.lock();
        s.calls.push(Call {
            method: method.clone(),
            body: body.clone(),
            at: Instant::now(),
        });
        if let Some(fail) = s.failures.get_mut(&method).and_then(VecDeque::pop_front) {
            drop(s);
            shared.changed.notify_waiters();
            return Json(fail);
        }
    }
    shared.changed.notify_waiters();
    match method.as_str() {
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "baycount", "username": "baycount_test_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false
        })),
        "setmycommands" | "deletewebhook" => ok(json!(true)),
        "answercallbackquery" => ok(json!(true)),
        "getupdates" => {
            let offset = int(&body["offset"]);
            let timeout = int(&body["timeout"]).clamp(0, 30) as u64;
            let deadline = Instant::now() + Duration::from_secs(timeout);
            loop {
                let notified = shared.changed.notified();
                {
                    let mut s = shared.lock();
                    s.updates.retain(|u| int(&u["update_id"]) >= offset);
                    if !s.updates.is_empty() {
                        return ok(Value::Array(s.updates.iter().cloned().collect()));
                    }
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return ok(json!([]));
                }
                let _ = tokio::time::timeout(left, notified).await;
            }
        }
        "sendmessage" | "sendphoto" => {
            let mut s = shared.lock();
            s.next_message += 1;
            let m = Sent {
                chat: int(&body["chat_id"]),
                id: s.next_message,
                text: body["text"]
                    .as_str()
                    .or(body["caption"].as_str())
                    .unwrap_or("")
                    .to_owned(),
                markup: markup(&body),
            };
            s.messages.push(m.clone());
            ok(message_json(&m))
        }
        "editmessagetext" | "editmessagereplymarkup" => {
            let mut s = shared.lock();
            let (chat_id, id) = (int(&body["chat_id"]), int(&body["message_id"]));
            let Some(m) = s
                .messages
                .iter_mut()
                .find(|m| m.chat == chat_id && m.id == id)
            else {
                return error(400, "Bad Request: message to edit not found");
            };
            let text = body["text"].as_str().map_or(m.text.clone(), str::to_owned);
            let new_markup = markup(&body);
            if text == m.text && new_markup == m.markup {
                return error(
                    400,
                    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                );
            }
            m.text = text;
            m.markup = new_markup;
            let m = m.clone();
            ok(message_json(&m))
        }
        _ => error(404, "Not Found: method not found"),
    }
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = Router::new()
            .route("/{bot}/{method}", post(method))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared, task }
    }

    fn push_update(&self, kind: &str, payload: Value) {
        {
            let mut s = self.shared.lock();
            s.next_update += 1;
            let id = s.next_update;
            s.updates.push_back(json!({"update_id": id, kind: payload}));
        }
        self.shared.changed.notify_waiters();
    }

    /// The operator `user` types `text` in their private chat (chat id = user id).
    pub fn type_text(&self, user_id: u64, text: &str) {
        let mut m = json!({
            "message_id": 100_000 + self.shared.lock().next_update,
            "date": now_unix(),
            "chat": chat(user_id as i64),
            "from": user(user_id),
            "text": text,
        });
        if text.starts_with('/') {
            let len = text
                .split_whitespace()
                .next()
                .map_or(0, |c| c.encode_utf16().count());
            m["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        self.push_update("message", m);
    }

    /// `user` presses the button with `data` under message `on`.
    pub fn press(&self, user_id: u64, on: &Sent, data: &str) -> String {
        let id = format!("cb-{}", self.shared.lock().next_update + 1);
        self.push_update(
            "callback_query",
            json!({
                "id": id,
                "from": user(user_id),
                "message": message_json(on),
                "chat_instance": format!("ci-{}", on.chat),
                "data": data,
            }),
        );
        id
    }

    /// The next `n` calls of `method` fail with 429 and `retry_after` seconds.
    pub fn rate_limit(&self, method: &str, n: usize, retry_after: u32) {
        let mut s = self.shared.lock();
        let q = s.failures.entry(method.to_ascii_lowercase()).or_default();
        for _ in 0..n {
            q.push_back(json!({
                "ok": false, "error_code": 429,
                "description": format!("Too Many Requests: retry after {retry_after}"),
                "parameters": {"retry_after": retry_after}
            }));
        }
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    pub fn messages(&self, chat: i64) -> Vec<Sent> {
        self.shared
            .lock()
            .messages
            .iter()
            .filter(|m| m.chat == chat)
            .cloned()
            .collect()
    }

    /// Waits (up to `secs`) for a message in `chat` that satisfies `f`; the newest such.
    pub async fn wait_message(
        &self,
        chat: i64,
        secs: u64,
        what: &str,
        f: impl Fn(&Sent) -> bool,
    ) -> Sent {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let notified = self.shared.changed.notified();
            if let Some(m) = self.messages(chat).into_iter().rev().find(|m| f(m)) {
                return m;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let calls: Vec<String> = self
                    .shared
                    .lock()
                    .calls
                    .iter()
                    .map(|c| format!("{} {}", c.method, c.body))
                    .collect();
                panic!(
                    "no message in chat {chat} {what} within {secs} s; the chat has: {:#?}; calls: {calls:#?}",
                    self.messages(chat)
                );
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), notified).await;
        }
    }

    /// Waits for the answer to callback `id`.
    pub async fn wait_answer(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(c) = self
                .calls("answerCallbackQuery")
                .into_iter()
                .find(|c| c.body["callback_query_id"] == id)
            {
                return c.body;
            }
            assert!(
                Instant::now() < deadline,
                "callback {id} was never answered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
