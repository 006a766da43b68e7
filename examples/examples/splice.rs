//! Splice FLV slices into one faststart MP4 with the backend's splicer.
//!
//! `cargo run --release -p txcr-examples --example splice -- OUT.mp4 SLICE.flv...`

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: splice OUT.mp4 SLICE.flv...");
        std::process::exit(2);
    };
    let slices: Vec<std::path::PathBuf> = args.map(Into::into).collect();
    let t0 = std::time::Instant::now();
    match txcr_splice::splice_to_file(&slices, &[], std::path::Path::new(&out)) {
        Ok(r) => println!(
            "{out}: {:.3} s of video, {} bytes, {}x{}, {} video + {} audio samples, in {:.2} s",
            r.duration_ms as f64 / 1000.0,
            r.bytes,
            r.width,
            r.height,
            r.video_samples,
            r.audio_samples,
            t0.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("splice failed: {e}");
            std::process::exit(1);
        }
    }
}
