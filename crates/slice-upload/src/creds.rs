//! The UserSig of each user, kept for brokered uploads of tasks recovered
//! after a restart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The UserSig of each user as given at Init, kept (0600) in the data
/// directory so tasks recovered after a restart can still upload.
#[derive(Debug, Clone)]
pub struct BrokerCreds {
    path: PathBuf,
    sigs: Arc<Mutex<HashMap<String, String>>>,
}

fn cred_key(app: u64, user: &str) -> String {
    format!("{app}/{user}")
}

impl BrokerCreds {
    /// Credentials stored at `path` (loaded if present).
    pub fn load(path: &Path) -> Self {
        let sigs = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            path: path.to_owned(),
            sigs: Arc::new(Mutex::new(sigs)),
        }
    }

    /// Remember `sig` for `user` of `app` (replacing an older one).
    pub fn set(&self, app: u64, user: &str, sig: &str) {
        let mut m = self.sigs.lock().unwrap_or_else(|e| e.into_inner());
        if m.get(&cred_key(app, user)).map(String::as_str) == Some(sig) {
            return;
        }
        m.insert(cred_key(app, user), sig.to_owned());
        let tmp = self.path.with_extension("tmp");
        let written = serde_json::to_vec(&*m)
            .map_err(std::io::Error::other)
            .and_then(|b| write_private(&tmp, &b))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot store upload credentials");
        }
    }

    pub(crate) fn get(&self, app: u64, user: &str) -> Option<String> {
        let m = self.sigs.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&cred_key(app, user)).cloned()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
