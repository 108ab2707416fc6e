//! Generated protobuf types: the OTLP wire schema (`proto/opentelemetry`), the error body OTLP
//! receivers answer with (`google.rpc.Status`), and our own storage schema (`proto/observatory`).
//! The module tree mirrors the protobuf packages, as the generated code expects; the short
//! aliases below are what the rest of the crate uses.
#![allow(clippy::all, missing_docs)]

pub mod opentelemetry {
    pub mod proto {
        pub mod common {
            pub mod v1 {
                tonic::include_proto!("opentelemetry.proto.common.v1");
            }
        }
        pub mod resource {
            pub mod v1 {
                tonic::include_proto!("opentelemetry.proto.resource.v1");
            }
        }
        pub mod logs {
            pub mod v1 {
                tonic::include_proto!("opentelemetry.proto.logs.v1");
            }
        }
        pub mod trace {
            pub mod v1 {
                tonic::include_proto!("opentelemetry.proto.trace.v1");
            }
        }
        pub mod metrics {
            pub mod v1 {
                tonic::include_proto!("opentelemetry.proto.metrics.v1");
            }
        }
        pub mod collector {
            pub mod logs {
                pub mod v1 {
                    tonic::include_proto!("opentelemetry.proto.collector.logs.v1");
                }
            }
            pub mod trace {
                pub mod v1 {
                    tonic::include_proto!("opentelemetry.proto.collector.trace.v1");
                }
            }
            pub mod metrics {
                pub mod v1 {
                    tonic::include_proto!("opentelemetry.proto.collector.metrics.v1");
                }
            }
        }
    }
}
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
pub use opentelemetry::proto::common::v1 as common;
pub use opentelemetry::proto::logs::v1 as logs;
pub use opentelemetry::proto::metrics::v1 as metrics;
pub use opentelemetry::proto::resource::v1 as resource;
pub use opentelemetry::proto::trace::v1 as trace;

pub mod collector {
    pub use super::opentelemetry::proto::collector::logs::v1 as logs;
    pub use super::opentelemetry::proto::collector::metrics::v1 as metrics;
    pub use super::opentelemetry::proto::collector::trace::v1 as trace;
}

pub use collector::logs::{ExportLogsServiceRequest, ExportLogsServiceResponse};
pub use collector::metrics::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
pub use collector::trace::{ExportTraceServiceRequest, ExportTraceServiceResponse};
