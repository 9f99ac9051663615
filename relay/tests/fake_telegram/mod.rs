//! A fake Telegram Bot API server on loopback: it speaks the real Bot API's JSON for getMe,
//! getUpdates (long polling), sendMessage, editMessageText, editMessageReplyMarkup,
//! answerCallbackQuery, setMyCommands, sendPhoto and sendMediaGroup; reads uploads as the real
//! one does (`multipart/form-data`, files as parts or `attach://<part>`; a malformed form is a
//! 400); keeps the messages it was sent, photos with their bytes (refusing an edit that changes
//! nothing, as the real one does); records every call; injects updates; and fails calls on
//! demand (429 with `retry_after`).

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
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
    /// The text, or a photo's caption.
    pub text: String,
    pub markup: Value,
    /// A photo's bytes, as uploaded.
    pub photo: Option<Bytes>,
    /// The album (`sendMediaGroup`) it came in.
    pub media_group: Option<String>,
    /// The message it answers.
    pub reply_to: Option<i64>,
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
    next_album: i64,
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

    /// Keeps a sent message under the next id.
    fn keep(&self, mut m: Sent) -> Sent {
        let mut s = self.lock();
        s.next_message += 1;
        m.id = s.next_message;
        s.messages.push(m.clone());
        m
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

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

/// An error as the Bot API gives it: the HTTP status and the same code in the JSON.
fn failure(body: Value) -> Response {
    let status = body["error_code"]
        .as_u64()
        .and_then(|c| StatusCode::from_u16(c as u16).ok())
        .unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(body)).into_response()
}

fn error(code: u16, description: &str) -> Response {
    failure(json!({"ok": false, "error_code": code, "description": description}))
}

fn message_json(m: &Sent) -> Value {
    let mut v = json!({
        "message_id": m.id,
        "date": now_unix(),
        "chat": chat(m.chat),
        "from": bot_user(),
    });
    match &m.photo {
        Some(jpeg) => {
            // As Telegram: the sizes it made of the upload (here one, the upload itself).
            v["photo"] = json!([{
                "file_id": format!("photo-{}-{}", m.chat, m.id),
                "file_unique_id": format!("u{}-{}", m.chat, m.id),
                "width": 64, "height": 48, "file_size": jpeg.len(),
            }]);
            if !m.text.is_empty() {
                v["caption"] = json!(m.text);
            }
        }
        None => v["text"] = json!(m.text),
    }
    if let Some(album) = &m.media_group {
        v["media_group_id"] = json!(album);
    }
    if let Some(to) = m.reply_to {
        v["reply_to_message"] = json!({
            "message_id": to, "date": now_unix(), "chat": chat(m.chat), "from": bot_user(), "text": "",
        });
    }
    if !m.markup.is_null() {
        v["reply_markup"] = m.markup.clone();
    }
    v
}

/// An upload's fields: its text fields as a JSON object, and its files by part name.
struct Form {
    fields: Value,
    files: HashMap<String, Bytes>,
}

impl Form {
    /// The file a field names: a part of that name, or the part its `attach://<name>` names.
    fn file(&self, field: &Value, name: &str) -> Result<Bytes, String> {
        let part = match field.as_str() {
            Some(s) => s.strip_prefix("attach://").ok_or_else(|| {
                format!("Bad Request: wrong remote file identifier specified in {name}")
            })?,
            None => name,
        };
        self.files
            .get(part)
            .cloned()
            .ok_or_else(|| format!("Bad Request: there is no {name} in the request"))
    }
}

/// Reads a `multipart/form-data` body with the `boundary` of its content type.
async fn read_form(content_type: &str, body: Bytes) -> Result<Form, String> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| format!("Bad Request: cannot read the form: {e}"))?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form {
        fields: json!({}),
        files: HashMap::new(),
    };
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("Bad Request: cannot read the form: {e}"))?
    {
        let name = field
            .name()
            .ok_or("Bad Request: a part of the form has no name")?
            .to_owned();
        let is_file = field.file_name().is_some();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| format!("Bad Request: cannot read the form: {e}"))?;
        if is_file {
            form.files.insert(name, bytes);
        } else {
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| format!("Bad Request: field {name} is not UTF-8"))?;
            form.fields[name] = Value::String(text);
        }
    }
    Ok(form)
}

/// A JSON field of a form (`media`, `reply_parameters`): sent as a string there.
fn json_field(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    }
}

/// The message a send answers (`reply_parameters.message_id`).
fn reply_to(body: &Value) -> Option<i64> {
    json_field(&body["reply_parameters"])["message_id"].as_i64()
}

/// The photos of a `sendMediaGroup`: each item of `media` with its file and caption.
fn album(form: &Form) -> Result<Vec<(Bytes, String)>, String> {
    let media = json_field(&form.fields["media"]);
    let items = media
        .as_array()
        .ok_or("Bad Request: can't parse media JSON object")?;
    if !(2..=10).contains(&items.len()) {
        return Err("Bad Request: media must include 2-10 items".into());
    }
    items
        .iter()
        .map(|item| {
            if item["type"] != "photo" {
                return Err(format!(
                    "Bad Request: unsupported media type {}",
                    item["type"]
                ));
            }
            let jpeg = form.file(&item["media"], "media")?;
            Ok((jpeg, item["caption"].as_str().unwrap_or("").to_owned()))
        })
        .collect()
}

/// teloxide sends `reply_markup` as an object (or, in forms, as a JSON string).
fn markup(body: &Value) -> Value {
    json_field(&body["reply_markup"])
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

async fn method(
    State(shared): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        return error(401, "Unauthorized");
    }
    // Method names are case-insensitive in the Bot API (teloxide sends `GetMe`).
    let method = method.to_ascii_lowercase();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let form = if content_type.starts_with("multipart/form-data") {
        match read_form(content_type, body).await {
            Ok(form) => form,
            Err(e) => return error(400, &e),
        }
    } else {
        Form {
            fields: serde_json::from_slice(&body).unwrap_or(Value::Null),
            files: HashMap::new(),
        }
    };
    let body = form.fields.clone();
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
            return failure(fail);
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
        "sendmessage" => {
            let m = shared.keep(Sent {
                chat: int(&body["chat_id"]),
                id: 0,
                text: body["text"].as_str().unwrap_or("").to_owned(),
                markup: markup(&body),
                photo: None,
                media_group: None,
                reply_to: reply_to(&body),
            });
            ok(message_json(&m))
        }
        "sendphoto" => {
            let jpeg = match form.file(&body["photo"], "photo") {
                Ok(jpeg) => jpeg,
                Err(e) => return error(400, &e),
            };
            let m = shared.keep(Sent {
                chat: int(&body["chat_id"]),
                id: 0,
                text: body["caption"].as_str().unwrap_or("").to_owned(),
                markup: markup(&body),
                photo: Some(jpeg),
                media_group: None,
                reply_to: reply_to(&body),
            });
            ok(message_json(&m))
        }
        "sendmediagroup" => {
            let photos = match album(&form) {
                Ok(photos) => photos,
                Err(e) => return error(400, &e),
            };
            let group = {
                let mut s = shared.lock();
                s.next_album += 1;
                format!("album-{}", s.next_album)
            };
            let sent: Vec<Value> = photos
                .into_iter()
                .map(|(jpeg, caption)| {
                    let m = shared.keep(Sent {
                        chat: int(&body["chat_id"]),
                        id: 0,
                        text: caption,
                        markup: Value::Null,
                        photo: Some(jpeg),
                        media_group: Some(group.clone()),
                        reply_to: reply_to(&body),
                    });
                    message_json(&m)
                })
                .collect();
            ok(Value::Array(sent))
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
            if m.photo.is_some() && method == "editmessagetext" {
                return error(400, "Bad Request: there is no text in the message to edit");
            }
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

    /// The photos sent to `chat`, oldest first.
    pub fn photos(&self, chat: i64) -> Vec<Sent> {
        self.messages(chat)
            .into_iter()
            .filter(|m| m.photo.is_some())
            .collect()
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
