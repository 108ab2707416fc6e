//! Hook payloads of opencode (to be written).

use serde_json::Value;

use super::{Hook, HookError};
use crate::normalize::SessionEvent;

pub fn normalize(
    _payload: &Value,
    _hook: &Hook,
    _out: &mut Vec<SessionEvent>,
) -> Result<(), HookError> {
    Err(HookError("not yet supported".into()))
}
