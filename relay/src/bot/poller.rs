//! Long polling of the Bot API: waits for the token to be accepted, lists the commands, and hands
//! every update to its own task, retrying with backoff (and `retry_after`) when Telegram is away.

use std::sync::Arc;
use std::time::Duration;

use baycount_plumbing::backoff::Backoff;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, BotCommand};
use tokio_util::sync::CancellationToken;

use super::telegram::send;

use super::*;

/// First and longest wait before asking an unreachable Bot API again.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Long-polls updates and handles each on its own task (a START may wait 5 s for its bay).
pub(super) async fn poll(inner: Arc<Inner>, shutdown: CancellationToken) {
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    loop {
        let me = tokio::select! {
            _ = shutdown.cancelled() => return,
            me = inner.bot.get_me().send() => me,
        };
        match me {
            Ok(me) => {
                log::info!("telegram: bot @{} is up", me.username());
                break;
            }
            Err(RequestError::Api(e)) => {
                log::error!(
                    "telegram: the Bot API refused the token ({e}); check TELOXIDE_TOKEN. The bot stays off"
                );
                return;
            }
            Err(e) => {
                log::warn!("telegram: cannot reach the Bot API ({e}); retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff.next()) => {}
                }
            }
        }
    }
    let commands = [
        (
            "menu",
            "choose the bay and the plate, start and stop loading",
        ),
        ("status", "every bay now"),
        (
            "history",
            "the latest sessions (of a plate: /history B 1234 XY)",
        ),
        (
            "evidence",
            "a session's pictures (of a plate: /evidence B 1234 XY)",
        ),
        ("help", "what the bot does"),
    ]
    .map(|(c, d)| BotCommand::new(c, d));
    if let Err(e) = send(inner.bot.set_my_commands(commands), "setMyCommands").await {
        log::warn!("telegram: cannot list the commands: {e}");
    }
    let mut offset = 0i32;
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    loop {
        let request = inner
            .bot
            .get_updates()
            .offset(offset)
            .timeout(POLL_SECONDS)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        let updates = tokio::select! {
            _ = shutdown.cancelled() => return,
            u = request.send() => u,
        };
        match updates {
            Ok(updates) => {
                backoff.reset();
                for update in updates {
                    offset = offset.max(update.id.0 as i32 + 1);
                    let inner2 = inner.clone();
                    inner
                        .tasks
                        .spawn(async move { inner2.handle(update.kind).await });
                }
            }
            Err(e) => {
                // The backoff grows on every failure, also when the Bot API names the wait.
                let next = backoff.next();
                let wait = match &e {
                    RequestError::RetryAfter(s) => s.duration(),
                    _ => next,
                };
                log::warn!("telegram: getUpdates failed ({e}); retrying in {wait:?}");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}
