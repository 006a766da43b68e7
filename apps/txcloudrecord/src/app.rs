//! What every connection of the HTTP service shares: the service and the
//! handles the connections, the event streams and `main` signal each other
//! through.

use tokio::sync::Notify;
use txcr_protocol::guard;

use crate::service::Service;

/// Shared by every connection.
#[derive(Debug)]
pub struct App {
    /// The service.
    pub service: Service,
    /// Our port (for the Host check).
    pub port: u16,
    /// Browser origins allowed.
    pub origins: guard::OriginPolicy,
    /// Notified when Exit was answered.
    pub exit: Notify,
    /// Set when the service stops: event streams end.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// Woken after every command that changed something, so event streams
    /// send its effect at once instead of at their next tick.
    pub changed: Notify,
}
