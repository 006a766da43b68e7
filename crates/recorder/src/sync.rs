//! The one locking rule of the recorder's shared state.

use std::sync::{Mutex, MutexGuard};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking recorder thread must not take the API down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
