//! The whole splice on arbitrary slice sets, as the backend runs it on
//! uploaded files: the input is cut into one to three slices; the answer is
//! an MP4 or a typed error, never a panic (libFuzzer's -malloc_limit_mb
//! holds the memory to the stated bound).
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let n = 1 + usize::from(first % 3);
    let dir = std::env::temp_dir().join(format!("txcr-fuzz-splice-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let size = rest.len() / n + 1;
    let mut files: Vec<PathBuf> = Vec::new();
    for (i, part) in rest.chunks(size).enumerate() {
        let p = dir.join(format!("{i}.flv"));
        if std::fs::write(&p, part).is_err() {
            return;
        }
        files.push(p);
    }
    if files.is_empty() {
        return;
    }
    let _ = txcr_splice::splice(&files, &[], &mut std::io::sink());
});
