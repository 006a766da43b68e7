//! FLV reading as recovery and the backend do it: the in-memory reader,
//! the valid-prefix check, salvage, and the streaming scanner. Any bytes:
//! a typed error or an answer, never a panic; what they call valid must
//! read again without error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut reader) = txcr_mux::FlvReader::new(data) {
        for _tag in reader.by_ref() {}
        assert!(reader.position() <= data.len());
    }
    if let Ok(n) = txcr_mux::valid_prefix_len(data) {
        assert!(n <= data.len());
        let again = txcr_mux::valid_prefix_len(&data[..n]).expect("a valid prefix stays valid");
        assert_eq!(again, n, "a valid prefix is all valid");
    }
    let _ = txcr_mux::salvage(data);
    let mut scan = match txcr_mux::FlvScanner::new(std::io::Cursor::new(data), data.len() as u64) {
        Ok(s) => s,
        Err(_) => return,
    };
    let mut body = [0u8; 64];
    while let Ok(Some(_)) = scan.next_tag() {
        if scan.read_body(&mut body).is_err() {
            break;
        }
    }
});
