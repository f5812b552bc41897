//! The change feed's and the deliveries' figures in `/metrics`: changes served by the
//! pull feed, delivery attempts by result, endpoints that ran out of retries, and how far
//! behind the endpoints are (the age of the oldest change waiting to be delivered).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::clock::Millis;
use crate::directory::webhooks::Outcome;
use crate::directory::WebhookId;

#[derive(Default)]
pub struct FeedMetrics {
    served: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    failing: AtomicU64,
    /// Per endpoint this instance delivers for, how old its next change is (ms).
    behind: Mutex<HashMap<WebhookId, Millis>>,
}

impl FeedMetrics {
    pub fn served(&self, changes: usize) {
        self.served.fetch_add(changes as u64, Ordering::Relaxed);
    }

    pub fn attempted(&self, outcome: &Outcome) {
        let counter = match outcome {
            Outcome::Delivered => &self.delivered,
            Outcome::Retry(_) => &self.failed,
            Outcome::Failing => {
                self.failing.fetch_add(1, Ordering::Relaxed);
                &self.failed
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn behind(&self, endpoint: WebhookId, age: Millis) {
        self.behind
            .lock()
            .expect("metrics lock")
            .insert(endpoint, age.max(0));
    }

    pub fn caught_up(&self, endpoint: WebhookId) {
        self.behind.lock().expect("metrics lock").remove(&endpoint);
    }

    pub fn render(&self, out: &mut String) {
        let lag = self
            .behind
            .lock()
            .expect("metrics lock")
            .values()
            .copied()
            .max()
            .unwrap_or(0);
        let counters = [
            (
                "gatehouse_changes_served_total",
                "Change records answered by the pull feed.",
                "",
                &self.served,
            ),
            (
                "gatehouse_webhook_attempts_total",
                "Webhook delivery attempts.",
                "result=\"delivered\"",
                &self.delivered,
            ),
            (
                "gatehouse_webhook_attempts_total",
                "",
                "result=\"failed\"",
                &self.failed,
            ),
            (
                "gatehouse_webhook_endpoints_failed_total",
                "Endpoints that ran out of retries.",
                "",
                &self.failing,
            ),
        ];
        for (name, help, labels, value) in counters {
            if !help.is_empty() {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            }
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            };
            let _ = writeln!(out, "{name}{labels} {}", value.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP gatehouse_webhook_lag_seconds Age of the oldest change waiting for delivery.\n\
             # TYPE gatehouse_webhook_lag_seconds gauge\n\
             gatehouse_webhook_lag_seconds {}",
            lag as f64 / 1000.0
        );
    }
}
