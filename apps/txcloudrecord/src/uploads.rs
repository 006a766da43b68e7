//! Starting the upload queue for the configured storage (direct S3, or
//! brokered through the backend). Shared by the service and `record`.

use crate::config::{Config, UploadTarget};

/// The upload queue for the configured target, journalled in
/// `<data-dir>/<journal>` (and, when brokered, the UserSig store its uploads
/// are authorised with).
pub fn start(
    cfg: &Config,
    journal: &str,
) -> anyhow::Result<(
    Option<txcr_slice_upload::UploadQueue>,
    Option<txcr_slice_upload::BrokerCreds>,
)> {
    use txcr_slice_upload::{BrokerCreds, BrokeredStore, S3Store, UploadQueue};
    let Some(u) = &cfg.upload else {
        return Ok((None, None));
    };
    let dir = cfg.data_dir.join(journal);
    Ok(match &u.target {
        UploadTarget::Direct(s3) => (
            Some(UploadQueue::start(
                &dir,
                S3Store::new(s3.clone()),
                u.queue.clone(),
            )?),
            None,
        ),
        UploadTarget::Brokered(url) => {
            let creds = BrokerCreds::load(&cfg.data_dir.join("broker-credentials.json"));
            let store = BrokeredStore::new(url, creds.clone())?;
            (
                Some(UploadQueue::start(&dir, store, u.queue.clone())?),
                Some(creds),
            )
        }
    })
}
