//! Lenient reading of OTLP attributes. Agents send numbers and booleans as strings
//! (`"success": "true"`, `"input_tokens": "12"`), so every reader accepts the value in any of
//! the types it could reasonably arrive in.

use crate::proto::common::{AnyValue, KeyValue, any_value::Value};

/// A borrowed attribute list with lookups by key. Lists are short (tens of entries), so a linear
/// scan beats building a map per record.
#[derive(Clone, Copy, Debug, Default)]
pub struct Attrs<'a>(pub &'a [KeyValue]);

impl<'a> Attrs<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    /// A string value; numbers and booleans are not turned into strings here (see `string`).
    /// When a key appears more than once (Codex sends `thread.id` as an int and as a string),
    /// the first string wins.
    pub fn str(&self, key: &str) -> Option<&'a str> {
        self.0.iter().filter(|kv| kv.key == key).find_map(|kv| {
            match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) if !s.is_empty() => Some(s.as_str()),
                _ => None,
            }
        })
    }

    pub fn f64(&self, key: &str) -> Option<f64> {
        let v = match self.get(key)? {
            Value::IntValue(i) => *i as f64,
            Value::DoubleValue(d) => *d,
            Value::StringValue(s) => s.trim().parse::<f64>().ok()?,
            _ => return None,
        };
        v.is_finite().then_some(v)
    }

    pub fn i64(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::IntValue(i) => Some(*i),
            Value::DoubleValue(d) if d.is_finite() => Some(*d as i64),
            Value::StringValue(s) => {
                let s = s.trim();
                s.parse::<i64>().ok().or_else(|| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .map(|f| f as i64)
                })
            }
            _ => None,
        }
    }

    /// A non-negative count; negative or missing values read as `None`.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.i64(key).and_then(|i| u64::try_from(i).ok())
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::BoolValue(b) => Some(*b),
            Value::IntValue(i) => Some(*i != 0),
            Value::StringValue(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// The first of several keys that has a string value.
    pub fn first_str(&self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| self.str(k))
    }
}

/// The string inside an `AnyValue`, if it is one (log bodies).
pub fn any_str(v: &Option<AnyValue>) -> Option<&str> {
    match v.as_ref()?.value.as_ref()? {
        Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    }
}

/// An attribute value as JSON, for the read API's detail view.
pub fn to_json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.value {
        None => J::Null,
        Some(Value::StringValue(s)) => J::String(s.clone()),
        Some(Value::BoolValue(b)) => J::Bool(*b),
        Some(Value::IntValue(i)) => J::from(*i),
        Some(Value::DoubleValue(d)) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Some(Value::ArrayValue(a)) => J::Array(a.values.iter().map(to_json).collect()),
        Some(Value::KvlistValue(kv)) => J::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, to_json)))
                .collect(),
        ),
        Some(Value::BytesValue(b)) => J::String(hex::encode(b)),
        // Dictionary-encoded strings (profiles only); the dictionary is not kept.
        Some(Value::StringValueStrindex(i)) => J::from(*i),
    }
}

/// Attributes as a JSON object.
pub fn to_json_object(attrs: &[KeyValue]) -> serde_json::Map<String, serde_json::Value> {
    attrs
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map_or(serde_json::Value::Null, to_json),
            )
        })
        .collect()
}

/// A `KeyValue` holding a string, for synthesized events (and tests, through the test kit).
pub fn kv_str(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, v: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    #[test]
    fn numbers_and_booleans_are_read_from_strings() {
        let list = vec![
            kv("n", Value::StringValue("42".into())),
            kv("f", Value::StringValue("0.5".into())),
            kv("b", Value::StringValue("true".into())),
            kv("i", Value::IntValue(7)),
            kv("d", Value::DoubleValue(3.0)),
            kv("nan", Value::StringValue("NaN".into())),
            kv("neg", Value::IntValue(-1)),
        ];
        let a = Attrs(&list);
        assert_eq!(a.u64("n"), Some(42));
        assert_eq!(a.f64("f"), Some(0.5));
        assert_eq!(a.bool("b"), Some(true));
        assert_eq!(a.f64("i"), Some(7.0));
        assert_eq!(a.i64("d"), Some(3));
        assert_eq!(a.f64("nan"), None);
        assert_eq!(a.u64("neg"), None);
        assert_eq!(a.str("missing"), None);
        assert_eq!(a.bool("n"), None);
    }

    #[test]
    fn a_repeated_key_yields_its_string_value() {
        let list = vec![
            kv("thread.id", Value::IntValue(7)),
            kv("thread.id", Value::StringValue("conv-1".into())),
        ];
        assert_eq!(Attrs(&list).str("thread.id"), Some("conv-1"));
        assert_eq!(Attrs(&list).i64("thread.id"), Some(7));
    }
}
