//! How replies and failures are laid out on the wire.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::step::{StepError, StepErrorKind};
use crate::trace::TraceContext;
use crate::transport::{bounded, Headers, Message, MessageKind, ReplyStatus};

/// The payload of a `Rejected` or `Failed` reply.
#[derive(Serialize, Deserialize)]
struct FailureBody<'a> {
    message: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
}

pub(crate) fn encode_failure(err: &StepError) -> Bytes {
    let body = FailureBody {
        message: Cow::Borrowed(err.message()),
        retry_after_ms: err
            .retry_after()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    // Serializing a struct of a string and an integer cannot fail.
    serde_json::to_vec(&body).map_or_else(|_| Bytes::new(), Bytes::from)
}

pub(crate) fn decode_failure(kind: StepErrorKind, payload: &[u8]) -> StepError {
    match serde_json::from_slice::<FailureBody<'_>>(payload) {
        Ok(body) => {
            let err = StepError::new(kind, bounded(&body.message));
            match body.retry_after_ms {
                Some(ms) => err.with_retry_after(Duration::from_millis(ms)),
                None => err,
            }
        }
        Err(e) => StepError::new(
            kind,
            bounded(format_args!(
                "participant failure with unreadable body: {e}"
            )),
        ),
    }
}

/// The reply to `request`, correlated to it, sent from the handler span `trace`.
pub(crate) fn reply_to(
    request: &Headers,
    status: ReplyStatus,
    payload: Bytes,
    trace: &TraceContext,
) -> Message {
    let mut h = Headers::new(MessageKind::Reply);
    h.name.clone_from(&request.name);
    h.saga_id = request.saga_id;
    h.step = request.step;
    h.direction = request.direction;
    h.attempt = request.attempt;
    h.correlation_id = Some(request.message_id);
    h.status = Some(status);
    h.trace = Some(trace.clone());
    Message::with_headers(h, payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::MAX_BOUNDED_LEN;

    #[test]
    fn a_remote_failure_text_is_bounded() {
        let long = StepError::permanent("r".repeat(10 * 1024));
        let err = decode_failure(StepErrorKind::Permanent, &encode_failure(&long));
        assert!(
            err.message().len() <= MAX_BOUNDED_LEN,
            "{}",
            err.message().len()
        );
        assert!(err.message().starts_with("rrr"));
        let unreadable = format!("{{\"message\": {}", "1".repeat(10 * 1024));
        let err = decode_failure(StepErrorKind::Transient, unreadable.as_bytes());
        assert!(
            err.message().len() <= MAX_BOUNDED_LEN,
            "{}",
            err.message().len()
        );
        assert!(err.is_transient());
    }
}
