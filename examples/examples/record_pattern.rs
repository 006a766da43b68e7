//! Embed the recorder without the HTTP service: record the test pattern for a
//! few seconds into 2-second slices.
//!
//! `cargo run -p txcr-examples --example record_pattern -- /tmp/demo`

use std::time::Duration;

use txcr_capture::{Region, TestPattern};
use txcr_recorder::{resolve_dst, Recording, RecordingSpec, SoundInput};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("txcr-example")
            .display()
            .to_string()
    });
    std::fs::create_dir_all(&dir)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let dst = resolve_dst(dir.as_ref(), &format!("pattern-{stamp}.flv"))?;
    let source = TestPattern::new(1280, 720, Region::default())?;
    let rec = Recording::start(
        Box::new(source),
        vec![SoundInput::new(
            "tone",
            Box::new(txcr_capture::audio::ToneSource::new(440.0)),
        )],
        RecordingSpec::new(dst, 15, 2),
    )?;
    std::thread::sleep(Duration::from_secs(5));
    let summary = rec.stop()?;
    println!(
        "{} frames, {} dropped, recorded {:?}",
        summary.stats.frames, summary.stats.dropped, summary.stats.recorded
    );
    for s in summary.stats.slices {
        println!(
            "{} ({} ms, {} bytes)",
            s.path.display(),
            s.info.duration_ms(),
            s.info.bytes
        );
    }
    Ok(())
}
