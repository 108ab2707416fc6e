//! Compiles our own protobuf schemas — the storage schema (`proto/observatory`) and the
//! `google.rpc.Status` error body OTLP receivers answer with — with protox, a pure-Rust protobuf
//! compiler, so building needs no system `protoc`. The OTLP types themselves come from the
//! `opentelemetry-proto` crate. Also makes cargo notice a new PWA build in `pwa/dist`, which a
//! release binary embeds (web/assets.rs).
//!
//! `store.proto` imports OTLP's `common.proto` for the attributes an event keeps. The compiler
//! reads a private copy of that one file (`proto/opentelemetry`) to resolve the import, and
//! `extern_path` maps its package to the crate's types instead of generating our own: an event
//! then holds the very `KeyValue`s the request carried, moved without conversion, and there is one
//! `KeyValue` type in the program rather than two that look alike.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let files = ["observatory/v1/store.proto", "google/rpc/status.proto"];
    println!("cargo:rerun-if-changed={}", root.display());
    // Watched as a directory (cargo scans it for changes); created empty when the PWA was never
    // built, since a missing path would rerun this script on every build.
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../pwa/dist");
    if !dist.exists() {
        std::fs::create_dir_all(&dist)?;
    }
    println!("cargo:rerun-if-changed={}", dist.display());
    let fds = protox::compile(files, [&root])?;
    prost_build::Config::new()
        .extern_path(
            ".opentelemetry.proto.common.v1",
            "::opentelemetry_proto::tonic::common::v1",
        )
        .compile_fds(fds)?;
    Ok(())
}
