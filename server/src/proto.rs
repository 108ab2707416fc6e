//! Protobuf types. The OTLP wire schema comes from the `opentelemetry-proto` crate (messages,
//! the gRPC collector services, and serde for OTLP/JSON); generated here are only the error body
//! OTLP receivers answer with (`google.rpc.Status`) and our own storage schema
//! (`proto/observatory`), whose events hold the crate's `KeyValue` (see build.rs). The short
//! aliases below are what the rest of the crate uses.
#![allow(clippy::all, missing_docs)]

pub mod google {
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}
pub mod observatory {
    pub mod v1 {
        tonic::include_proto!("observatory.v1");
    }
}

pub use google::rpc;
pub use observatory::v1 as store;
pub use opentelemetry_proto::tonic::common::v1 as common;
pub use opentelemetry_proto::tonic::logs::v1 as logs;
pub use opentelemetry_proto::tonic::metrics::v1 as metrics;
pub use opentelemetry_proto::tonic::resource::v1 as resource;
pub use opentelemetry_proto::tonic::trace::v1 as trace;

pub mod collector {
    pub use opentelemetry_proto::tonic::collector::logs::v1 as logs;
    pub use opentelemetry_proto::tonic::collector::metrics::v1 as metrics;
    pub use opentelemetry_proto::tonic::collector::trace::v1 as trace;
}

pub use collector::logs::{ExportLogsServiceRequest, ExportLogsServiceResponse};
pub use collector::metrics::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
pub use collector::trace::{ExportTraceServiceRequest, ExportTraceServiceResponse};
