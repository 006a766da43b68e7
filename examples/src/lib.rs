//! Examples live in `examples/`: `cargo run -p txcr-examples --example record_pattern`.
