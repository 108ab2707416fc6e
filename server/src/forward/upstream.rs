//! Sending one queued export request upstream, over OTLP/HTTP (protobuf, optionally gzip) or
//! OTLP/gRPC, with the configured headers. Says whether to remove it (taken, or refused for good
//! with a 4xx that a retry would not change) or to try again later (down, 5xx, 429, timeouts).

use std::io::Write;
use std::time::Duration;

use prost::Message;

use super::Settings;
use crate::normalize::Signal;
use crate::proto::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};

/// What became of one attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Taken,
    /// Refused for good (a 4xx other than 408/429, an invalid argument): dropped and counted.
    Refused(String),
    /// Try again after a pause.
    Later(String),
}

pub enum Upstream {
    Http {
        client: reqwest::Client,
        base: String,
        headers: reqwest::header::HeaderMap,
        gzip: bool,
    },
    Grpc {
        channel: tonic::transport::Channel,
        headers: Vec<(
            tonic::metadata::AsciiMetadataKey,
            tonic::metadata::AsciiMetadataValue,
        )>,
        gzip: bool,
    },
}

impl Upstream {
    pub fn new(s: &Settings) -> anyhow::Result<Upstream> {
        let timeout = Duration::from_secs(s.timeout_secs.max(1));
        let gzip = s.compression == "gzip";
        if s.protocol == "grpc" {
            let channel = tonic::transport::Endpoint::from_shared(s.endpoint.clone())?
                .timeout(timeout)
                .connect_timeout(timeout)
                .connect_lazy();
            let headers = s
                .headers
                .iter()
                .map(|(k, v)| Ok((k.to_lowercase().parse()?, v.parse()?)))
                .collect::<anyhow::Result<_>>()?;
            return Ok(Upstream::Grpc {
                channel,
                headers,
                gzip,
            });
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &s.headers {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes())?,
                reqwest::header::HeaderValue::from_str(v)?,
            );
        }
        Ok(Upstream::Http {
            client: reqwest::Client::builder().timeout(timeout).build()?,
            base: s.endpoint.trim_end_matches('/').to_owned(),
            headers,
            gzip,
        })
    }

    pub async fn send(&self, signal: Signal, body: &[u8]) -> Sent {
        match self {
            Upstream::Http {
                client,
                base,
                headers,
                gzip,
            } => {
                http(
                    client,
                    &format!("{base}/v1/{}", signal.as_str()),
                    headers,
                    *gzip,
                    body,
                )
                .await
            }
            Upstream::Grpc {
                channel,
                headers,
                gzip,
            } => grpc(channel, headers, *gzip, signal, body).await,
        }
    }
}

async fn http(
    client: &reqwest::Client,
    url: &str,
    headers: &reqwest::header::HeaderMap,
    gzip: bool,
    body: &[u8],
) -> Sent {
    let mut req = client
        .post(url)
        .headers(headers.clone())
        .header("content-type", "application/x-protobuf");
    req = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let zipped = enc.write_all(body).and_then(|()| enc.finish());
        match zipped {
            Ok(z) => req.header("content-encoding", "gzip").body(z),
            Err(e) => return Sent::Later(format!("gzip: {e}")),
        }
    } else {
        req.body(body.to_vec())
    };
    match req.send().await {
        Ok(r) if r.status().is_success() => Sent::Taken,
        Ok(r) => {
            let status = r.status();
            let why = format!("{url} answered {status}");
            if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                Sent::Refused(why)
            } else {
                Sent::Later(why)
            }
        }
        Err(e) => {
            // reqwest's own message hides the cause (refused, reset, timed out): name it.
            let mut why = format!("{url}: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why = format!("{why}: {s}");
                source = s.source();
            }
            Sent::Later(why)
        }
    }
}

async fn grpc(
    channel: &tonic::transport::Channel,
    headers: &[(
        tonic::metadata::AsciiMetadataKey,
        tonic::metadata::AsciiMetadataValue,
    )],
    gzip: bool,
    signal: Signal,
    body: &[u8],
) -> Sent {
    use crate::proto::collector::{logs, metrics, trace};
    fn request<T>(
        msg: T,
        headers: &[(
            tonic::metadata::AsciiMetadataKey,
            tonic::metadata::AsciiMetadataValue,
        )],
    ) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        for (k, v) in headers {
            r.metadata_mut().insert(k.clone(), v.clone());
        }
        r
    }
    let enc = tonic::codec::CompressionEncoding::Gzip;
    let result = match signal {
        Signal::Logs => match ExportLogsServiceRequest::decode(body) {
            Ok(m) => {
                let mut c = logs::logs_service_client::LogsServiceClient::new(channel.clone());
                if gzip {
                    c = c.send_compressed(enc);
                }
                c.export(request(m, headers)).await.map(|_| ())
            }
            Err(e) => return Sent::Refused(format!("queued logs do not decode: {e}")),
        },
        Signal::Traces => match ExportTraceServiceRequest::decode(body) {
            Ok(m) => {
                let mut c = trace::trace_service_client::TraceServiceClient::new(channel.clone());
                if gzip {
                    c = c.send_compressed(enc);
                }
                c.export(request(m, headers)).await.map(|_| ())
            }
            Err(e) => return Sent::Refused(format!("queued traces do not decode: {e}")),
        },
        Signal::Metrics => match ExportMetricsServiceRequest::decode(body) {
            Ok(m) => {
                let mut c =
                    metrics::metrics_service_client::MetricsServiceClient::new(channel.clone());
                if gzip {
                    c = c.send_compressed(enc);
                }
                c.export(request(m, headers)).await.map(|_| ())
            }
            Err(e) => return Sent::Refused(format!("queued metrics do not decode: {e}")),
        },
    };
    match result {
        Ok(()) => Sent::Taken,
        Err(s) => {
            use tonic::Code;
            let why = format!("gRPC {:?}: {}", s.code(), s.message());
            match s.code() {
                Code::InvalidArgument
                | Code::Unauthenticated
                | Code::PermissionDenied
                | Code::Unimplemented
                | Code::NotFound => Sent::Refused(why),
                _ => Sent::Later(why),
            }
        }
    }
}
