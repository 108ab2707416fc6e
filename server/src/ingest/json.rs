//! OTLP/JSON decoding (placeholder until the real decoder lands).

use super::Request;
use crate::normalize::Signal;

/// A decoded request, with what decoding refused inside it.
pub struct Decoded {
    pub request: Request,
    /// Records (log records, spans, data points) refused while decoding, for `partial_success`.
    pub rejected: u64,
    /// What was wrong with the refused records, for `partial_success.error_message`.
    pub problems: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(pub String);

pub fn decode(signal: Signal, _body: &[u8]) -> Result<Decoded, JsonError> {
    Err(JsonError(format!("OTLP/JSON {} is not supported yet", signal.as_str())))
}
