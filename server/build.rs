//! Compiles the OTLP wire schema and our own storage schema with protox, a pure-Rust protobuf
//! compiler, so building needs no system `protoc`. Also makes cargo notice a new PWA build in
//! `pwa/dist`, which a release binary embeds (web/assets.rs).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let files = [
        "opentelemetry/proto/collector/logs/v1/logs_service.proto",
        "opentelemetry/proto/collector/trace/v1/trace_service.proto",
        "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
        "observatory/v1/store.proto",
        "google/rpc/status.proto",
    ];
    println!("cargo:rerun-if-changed={}", root.display());
    // Watched as a directory (cargo scans it for changes); created empty when the PWA was never
    // built, since a missing path would rerun this script on every build.
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pwa/dist");
    if !dist.exists() {
        std::fs::create_dir_all(&dist)?;
    }
    println!("cargo:rerun-if-changed={}", dist.display());
    let fds = protox::compile(files, [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .bytes(".")
        .compile_fds(fds)?;
    Ok(())
}
