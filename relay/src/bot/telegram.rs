//! Calls to the Bot API under its rules: `429 retry_after` is waited out, "message is not
//! modified" is not an error, network errors are retried with backoff; nothing here panics or
//! gives up on the relay.

use std::time::Duration;

use baycount_plumbing::backoff::Backoff;
use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::requests::{HasPayload, Payload, Request};

/// Attempts per call before its error is returned (and logged by the caller).
const ATTEMPTS: u32 = 6;
/// First and longest wait before retrying a network error: with [`ATTEMPTS`] the waits are
/// 0.5, 1, 2, 4 and 8 s, so the cap is never what stops them growing.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// What a call came to.
#[derive(Debug)]
pub enum Sent<T> {
    Done(T),
    /// An edit that would change nothing (the Bot API refuses it; for us it is done).
    Unchanged,
}

/// Sends `request`, retrying as the Bot API asks; `what` names it in the log.
pub async fn send<R>(
    request: R,
    what: &str,
) -> Result<Sent<<R::Payload as Payload>::Output>, RequestError>
where
    R: Request<Err = RequestError> + HasPayload,
{
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    let mut attempt = 1;
    loop {
        match request.send_ref().await {
            Ok(out) => return Ok(Sent::Done(out)),
            Err(RequestError::Api(ApiError::MessageNotModified)) => return Ok(Sent::Unchanged),
            Err(RequestError::RetryAfter(wait)) if attempt < ATTEMPTS => {
                log::warn!(
                    "telegram: {what}: rate limited, retrying after {} s",
                    wait.seconds()
                );
                tokio::time::sleep(wait.duration()).await;
            }
            Err(e @ (RequestError::Network(_) | RequestError::Io(_))) if attempt < ATTEMPTS => {
                log::warn!(
                    "telegram: {what}: {e}; retrying in {:.1} s",
                    backoff.peek().as_secs_f64()
                );
                tokio::time::sleep(backoff.next()).await;
            }
            Err(e) => return Err(e),
        }
        attempt += 1;
    }
}
