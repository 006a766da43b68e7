//! Prometheus metrics (`prometheus-client`): jobs, splice seconds, callback
//! deliveries and retries, live replay's work (segments made, listings
//! read); queue sizes are read from the database at scrape time.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::db::Db;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Queue {
    queue: String,
    state: String,
}

/// The backend's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    jobs: Family<Outcome, Counter>,
    callbacks: Family<Outcome, Counter>,
    splice_seconds: Histogram,
    queued: Family<Queue, Gauge>,
    live_segments: Counter,
    live_listings: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let jobs = Family::<Outcome, Counter>::default();
        let callbacks = Family::<Outcome, Counter>::default();
        let splice_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        let queued = Family::<Queue, Gauge>::default();
        let live_segments = Counter::default();
        let live_listings = Counter::default();
        registry.register(
            "txcr_splice_jobs",
            "Splice jobs by result (done, failed, retry, released)",
            jobs.clone(),
        );
        registry.register(
            "txcr_splice_seconds",
            "Time to fetch, splice and store one recording",
            splice_seconds.clone(),
        );
        registry.register(
            "txcr_callbacks",
            "Webhook deliveries by result (sent, retry, abandoned)",
            callbacks.clone(),
        );
        registry.register(
            "txcr_queued",
            "Tasks and callbacks by state",
            queued.clone(),
        );
        registry.register(
            "txcr_live_segments",
            "Live replay segments made from slices (each once, then read from storage)",
            live_segments.clone(),
        );
        registry.register(
            "txcr_live_listings",
            "Storage listings read for live playlists (at most one a second per task)",
            live_listings.clone(),
        );
        Self {
            registry: Arc::new(registry),
            live_segments,
            live_listings,
            jobs,
            callbacks,
            splice_seconds,
            queued,
        }
    }
}

impl Metrics {
    /// Count a finished splice job.
    pub fn job(&self, result: &str) {
        self.jobs
            .get_or_create(&Outcome {
                result: result.into(),
            })
            .inc();
    }

    /// Time one splice.
    pub fn splice_time(&self, secs: f64) {
        self.splice_seconds.observe(secs);
    }

    /// Count a live segment made from its slice.
    pub fn live_segment(&self) {
        self.live_segments.inc();
    }

    /// Count a storage listing read for a live playlist.
    pub fn live_listing(&self) {
        self.live_listings.inc();
    }

    /// Count a callback attempt.
    pub fn callback(&self, result: &str) {
        self.callbacks
            .get_or_create(&Outcome {
                result: result.into(),
            })
            .inc();
    }

    /// The text exposition, with queue sizes fresh from the database.
    pub async fn render(&self, db: &Db) -> String {
        if let Ok(counts) = db.counts().await {
            self.queued.clear();
            for (queue, state, n) in counts {
                self.queued.get_or_create(&Queue { queue, state }).set(n);
            }
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
