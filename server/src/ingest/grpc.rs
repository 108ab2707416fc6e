//! OTLP/gRPC receiver on :4317: the three collector services (the tonic services of the
//! `opentelemetry-proto` crate), gzip accepted, message size bounded after decompression. A full
//! pipeline answers UNAVAILABLE, which OTLP exporters retry.

use std::future::{Ready, ready};

use futures_util::future::Either;
use tonic::codec::CompressionEncoding;
use tonic::{Request as GrpcRequest, Response, Status};
use tower::layer::util::{Identity, Stack};

use super::guard::Guard;
use super::{IngestError, Pipeline, Protocol, Refused, Request, partial};
use crate::proto::collector::logs::logs_service_server::{LogsService, LogsServiceServer};
use crate::proto::collector::metrics::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use crate::proto::collector::trace::trace_service_server::{TraceService, TraceServiceServer};
use crate::proto::{
    ExportLogsServiceRequest, ExportLogsServiceResponse, ExportMetricsServiceRequest,
    ExportMetricsServiceResponse, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

#[derive(Clone)]
pub struct Receiver {
    pipeline: Pipeline,
}

fn status(e: IngestError) -> Status {
    let mut s = Status::unavailable(e.to_string());
    // OTLP clients honour a retry delay; plain gRPC clients see the header.
    s.metadata_mut().insert(
        "retry-after",
        tonic::metadata::MetadataValue::from_static("1"),
    );
    s
}

impl Receiver {
    pub fn new(pipeline: Pipeline) -> Self {
        Receiver { pipeline }
    }

    pub(crate) async fn submit(&self, request: Request) -> Result<Refused, Status> {
        self.pipeline
            .submit(Protocol::Grpc, request, Refused::default())
            .await
            .map_err(status)
    }
}

#[tonic::async_trait]
impl LogsService for Receiver {
    async fn export(
        &self,
        r: GrpcRequest<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let refused = self.submit(Request::Logs(r.into_inner())).await?;
        Ok(Response::new(partial::logs(&refused)))
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        r: GrpcRequest<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let refused = self.submit(Request::Traces(r.into_inner())).await?;
        Ok(Response::new(partial::traces(&refused)))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        r: GrpcRequest<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let refused = self.submit(Request::Metrics(r.into_inner())).await?;
        Ok(Response::new(partial::metrics(&refused)))
    }
}

/// The tonic router serving all three services.
pub fn router(
    pipeline: Pipeline,
    guard: Guard,
) -> tonic::transport::server::Router<Stack<GuardLayer, Identity>> {
    let max = pipeline.max_body_bytes();
    let rx = Receiver::new(pipeline);
    tonic::transport::Server::builder()
        .layer(GuardLayer(guard))
        .add_service(
            LogsServiceServer::new(rx.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max),
        )
        .add_service(
            TraceServiceServer::new(rx.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max),
        )
        .add_service(
            MetricsServiceServer::new(rx)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max),
        )
}

/// Runs the [`Guard`] before any gRPC service: a refused call ends with PERMISSION_DENIED and
/// the reason, naming the header.
#[derive(Clone)]
pub struct GuardLayer(Guard);

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guarded<S>;
    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            inner,
            guard: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S, B, R> tower::Service<axum::http::Request<B>> for Guarded<S>
where
    S: tower::Service<axum::http::Request<B>, Response = axum::http::Response<R>>,
    R: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<S::Response, S::Error>>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        match self.guard.check(req.headers(), req.uri()) {
            Ok(()) => Either::Left(self.inner.call(req)),
            Err((_, why)) => Either::Right(ready(Ok(Status::permission_denied(why).into_http()))),
        }
    }
}
