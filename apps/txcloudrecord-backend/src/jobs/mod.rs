//! The background work: find finished tasks in storage (`discover`), splice
//! them (`splice`), deliver callbacks (`callbacks`), delete recordings on
//! request or past retention (`retention`), delete live replay's segments
//! a while after the splice (`live_cleanup`); `retry` says when a failed one
//! is due again, `periodic` how often a sweep runs. Every step is driven by database rows, so a crash
//! at any point leaves a row that the next run (of this or another instance)
//! picks up.

mod callbacks;
mod discover;
mod live_cleanup;
mod periodic;
mod retention;
mod retry;
mod splice;

pub use callbacks::callback_sender;
pub use discover::{add_manifest, watch_storage};
pub use live_cleanup::drop_live_segments;
pub use retention::{delete_class, sweep_old, Deleted};
pub use splice::splice_worker;
