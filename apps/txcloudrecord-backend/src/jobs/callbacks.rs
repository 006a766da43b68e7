//! Delivering the school's webhook: each finished recording leaves an
//! `outbox` row (written with the record, in one transaction); a sender
//! claims due rows, POSTs them signed, and records the outcome. A receiver
//! that stays down past `callback_retry` is given up on.
//!
//! Each delivery is signed twice: `X-TXCR-Signature` (ours, kept for
//! existing receivers) and the Standard Webhooks headers (`webhook-id`: the
//! outbox row's id, the same on every retry so a receiver can drop
//! repeats; `webhook-timestamp`; `webhook-signature`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::ctx::Ctx;
use crate::db::{now_ms, Delivery};

/// The metrics' word for an outcome.
fn outcome(d: Delivery) -> &'static str {
    match d {
        Delivery::Sent => "sent",
        Delivery::Pending => "retry",
        Delivery::Abandoned => "abandoned",
    }
}

/// Deliver queued callbacks until told to stop.
pub async fn callback_sender(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    loop {
        let next = match ctx
            .db
            .claim_callback(&ctx.me, Duration::from_secs(60))
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim a callback");
                None
            }
        };
        let Some(cb) = next else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => return,
            }
            continue;
        };
        let secret = ctx.cfg.keys.get(cb.sdkappid as u64).unwrap_or_default();
        let ts = now_ms() / 1000;
        let sent = ctx
            .http
            .post(&cb.url)
            .header("Content-Type", "application/json")
            .header("X-TXCR-Timestamp", ts.to_string())
            .header(
                "X-TXCR-Signature",
                txcr_auth::webhook_sign(secret, ts, &cb.body),
            )
            .header("webhook-id", &cb.id)
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                txcr_auth::standard_webhook_sign(secret, &cb.id, ts, &cb.body),
            )
            .body(cb.body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let error = match sent {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("receiver answered {}", r.status())),
            Err(e) => Some(format!("cannot reach the receiver: {e}")),
        };
        let (state, next_at) = match &error {
            None => (Delivery::Sent, 0),
            Some(_) if now_ms() - cb.created_at > ctx.cfg.callback_retry.as_millis() as i64 => {
                (Delivery::Abandoned, 0)
            }
            Some(_) => {
                let wait = super::retry::delay(cb.attempts as u32, Duration::from_secs(300));
                (Delivery::Pending, now_ms() + wait.as_millis() as i64)
            }
        };
        match (state, &error) {
            (Delivery::Sent, _) => {
                tracing::info!(task = %cb.id, url = %cb.url, "callback delivered")
            }
            (Delivery::Abandoned, Some(e)) => {
                tracing::error!(task = %cb.id, error = %e, "callback given up")
            }
            (_, Some(e)) => {
                tracing::warn!(task = %cb.id, error = %e, attempt = cb.attempts, "callback failed; will retry")
            }
            _ => {}
        }
        ctx.metrics.callback(outcome(state));
        if let Err(e) = ctx
            .db
            .callback_result(&cb.id, state, next_at, error.as_deref())
            .await
        {
            tracing::warn!(task = %cb.id, error = %e, "cannot record the callback result");
        }
    }
}
