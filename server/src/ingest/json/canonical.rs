//! The rewrite that brings a parsed OTLP/JSON body to the one spelling the crate's serde reads,
//! reading it the way the OpenTelemetry Collector does (pdata's JSON unmarshaler): a snake_case
//! key is its field's lowerCamelCase name, null is an absent field, an enum may be its value's
//! name, an integer or a double may be a string, and of two members for one field or one oneof
//! the last wins. What cannot be read is an error naming its JSON path.
//!
//! Two things the crate's serde does are worked around here rather than fixed there. It reads a
//! metric's data and a data point's value through `#[serde(flatten)]` on an `Option`, and serde
//! turns any error under such a field into `None`: a data point with a bad timestamp would make
//! its metric silently empty. So values under a oneof are checked here, and each metric's data is
//! taken out of the tree and deserialized on its own ([`Rewritten::metric_data`]), keeping its
//! errors and their paths.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::DeserializeOwned;

use super::JsonError;
use super::schema::{self, Enum, Int, Kind, Msg};
use super::tree::Json;
use crate::proto::metrics::metric::Data;

/// A body rewritten for the crate's serde.
pub struct Rewritten {
    pub tree: Json,
    /// Each metric's data, in document order, taken out of `tree` (see the module doc).
    pub metric_data: Vec<Option<Data>>,
}

/// Rewrites `tree`, the body of an export request whose message is `root`.
pub fn rewrite(tree: Json, root: Msg) -> Result<Rewritten, JsonError> {
    let mut metric_data = Vec::new();
    let tree = message(tree, root, &Path::Root, &mut metric_data)?;
    Ok(Rewritten { tree, metric_data })
}

/// Deserializes a rewritten tree with the crate's serde; an error names the JSON path below `at`.
pub fn deserialize<T: DeserializeOwned>(tree: Json, at: &Path) -> Result<T, JsonError> {
    serde_path_to_error::deserialize(tree).map_err(|e| {
        let below = e.path().to_string();
        let path = match (at, below.as_str()) {
            (_, ".") => at.to_string(),
            (Path::Root, below) => below.to_owned(),
            (at, below) => format!("{at}.{below}"),
        };
        JsonError(format!("{path}: {}", clip(&e.inner().to_string())))
    })
}

/// Cuts a message from serde, which quotes a bad string whole, to a readable length.
fn clip(message: &str) -> String {
    const MAX_CHARS: usize = 200;
    match message.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

/// Where a value sits in the body, built on the stack as the rewrite descends and rendered only
/// when something is wrong (`resourceLogs[0].scopeLogs[1].logRecords[3].timeUnixNano`).
#[derive(Clone, Copy)]
pub enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => f.write_str("top level"),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn fail(path: &Path, message: impl fmt::Display) -> JsonError {
    JsonError(format!("{path}: {message}"))
}

/// Rewrites an object holding a `msg`.
fn message(
    v: Json,
    msg: Msg,
    path: &Path,
    metric_data: &mut Vec<Option<Data>>,
) -> Result<Json, JsonError> {
    let Json::Object(members) = v else {
        return Err(fail(
            path,
            format_args!("expected an object, got {}", v.describe()),
        ));
    };
    let mut members = settle(members, msg);
    for (key, value) in members.iter_mut() {
        if let Some(kind) = schema::field(msg, key) {
            let v = std::mem::replace(value, Json::Null);
            *value = field(v, kind, &path.key(key), metric_data)?;
        }
    }
    for (key, absent) in schema::required(msg) {
        if !members.iter().any(|(k, _)| k == key) {
            members.push(((*key).to_owned(), absent.clone()));
        }
    }
    if msg == Msg::Metric {
        let data = members
            .iter()
            .position(|(k, _)| schema::oneof(msg).contains(&k.as_str()))
            .map(|at| members.remove(at));
        metric_data.push(match data {
            Some((key, v)) => Some(metric(&key, v, path)?),
            None => None,
        });
    }
    Ok(Json::Object(members))
}

/// An object's members as the Collector reads them: a snake_case key is its field's
/// lowerCamelCase name, a null member is absent, and of two members for one field — or for one
/// oneof — the last in the document wins.
fn settle(members: Vec<(String, Json)>, msg: Msg) -> Vec<(String, Json)> {
    let oneof = schema::oneof(msg);
    // One slot per field; `None` for the oneof, which all its members share.
    let mut taken: HashSet<Option<String>> = HashSet::new();
    let mut kept = Vec::with_capacity(members.len());
    for (key, value) in members.into_iter().rev() {
        if value == Json::Null {
            continue;
        }
        let key = if key.contains('_') {
            lower_camel(&key)
        } else {
            key
        };
        let slot = (!oneof.contains(&key.as_str())).then(|| key.clone());
        if taken.insert(slot) {
            kept.push((key, value));
        }
    }
    kept.reverse();
    kept
}

fn lower_camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Rewrites the value of a field of kind `kind`.
fn field(
    v: Json,
    kind: Kind,
    path: &Path,
    metric_data: &mut Vec<Option<Data>>,
) -> Result<Json, JsonError> {
    match kind {
        Kind::Message(msg) => message(v, msg, path, metric_data),
        // The Collector reads a null element as an empty message.
        Kind::Messages(msg) => list(v, path, |v, p| match v {
            Json::Null => message(Json::Object(Vec::new()), msg, p, metric_data),
            v => message(v, msg, p, metric_data),
        }),
        Kind::Int(int) => integer(v, int, path),
        Kind::Ints(int) => list(v, path, |v, p| integer(v, int, p)),
        Kind::Double => double(v, path),
        Kind::Doubles => list(v, path, double),
        Kind::Enum(kind) => enumeration(v, kind, path),
        Kind::Id(bytes) => id(v, bytes, path),
        Kind::Bytes => base64_bytes(v, path),
        Kind::Str if matches!(v, Json::Str(_)) => Ok(v),
        Kind::Str => Err(fail(
            path,
            format_args!("expected a string, got {}", v.describe()),
        )),
        Kind::Bool if matches!(v, Json::Bool(_)) => Ok(v),
        Kind::Bool => Err(fail(
            path,
            format_args!("expected true or false, got {}", v.describe()),
        )),
        Kind::Strs => list(v, path, |v, _| match v {
            Json::Null => Ok(Json::Str(String::new())),
            v => Ok(v),
        }),
    }
}

fn list(
    v: Json,
    path: &Path,
    mut item: impl FnMut(Json, &Path) -> Result<Json, JsonError>,
) -> Result<Json, JsonError> {
    let Json::List(items) = v else {
        return Err(fail(
            path,
            format_args!("expected an array, got {}", v.describe()),
        ));
    };
    let items = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| item(v, &path.index(i)))
        .collect::<Result<_, _>>()?;
    Ok(Json::List(items))
}

/// An integer of any width: a number (exponent notation included, as long as the value is whole)
/// or a decimal string; 64-bit values come as strings from most exporters because JSON numbers
/// lose precision past 2^53.
fn integer(v: Json, int: Int, path: &Path) -> Result<Json, JsonError> {
    let wide: Option<i128> = match &v {
        Json::U64(n) => Some((*n).into()),
        Json::I64(n) => Some((*n).into()),
        // `as` saturates, and a saturated value fails the range check below.
        Json::F64(f) if f.fract() == 0.0 => Some(*f as i128),
        Json::Str(s) => s.parse().ok(),
        _ => None,
    };
    let Some(wide) = wide else {
        return Err(fail(
            path,
            format_args!(
                "expected an integer or a decimal string, got {}",
                v.describe()
            ),
        ));
    };
    let (min, max) = int.range();
    if !(min..=max).contains(&wide) {
        return Err(fail(
            path,
            format_args!("{} is out of range for {}", v.describe(), int.name()),
        ));
    }
    Ok(match u64::try_from(wide) {
        Ok(n) => Json::U64(n),
        // In range for the field, so in range for an i64.
        Err(_) => Json::I64(i64::try_from(wide).unwrap_or_default()),
    })
}

/// A double: a number, or a string holding one.
fn double(v: Json, path: &Path) -> Result<Json, JsonError> {
    let parsed = match &v {
        Json::U64(n) => Some(*n as f64),
        Json::I64(n) => Some(*n as f64),
        Json::F64(f) => Some(*f),
        Json::Str(s) => parse_double(s),
        _ => None,
    };
    parsed.map(Json::F64).ok_or_else(|| {
        fail(
            path,
            format_args!(
                "expected a number or a string holding one (\"NaN\", \"Infinity\" and \"-Infinity\" included), got {}",
                v.describe()
            ),
        )
    })
}

/// A double spelled as a string, read as Go's `strconv.ParseFloat` (the Collector's) reads it:
/// a decimal number, or NaN, Inf or Infinity in any case. A number too large for a double is
/// refused rather than read as infinity.
fn parse_double(s: &str) -> Option<f64> {
    let f: f64 = s.parse().ok()?;
    let says_infinity = s
        .trim_start_matches(['+', '-'])
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("inf"));
    (!f.is_infinite() || says_infinity).then_some(f)
}

/// An enum: its number, or the name of one of its values.
fn enumeration(v: Json, kind: Enum, path: &Path) -> Result<Json, JsonError> {
    let Json::Str(name) = &v else {
        return integer(v, Int::I32, path);
    };
    match kind.number(name) {
        Some(number) => Ok(Json::I64(number.into())),
        None => Err(fail(
            path,
            format_args!(
                "expected a number or a value name like {:?}, got {}",
                kind.example(),
                v.describe()
            ),
        )),
    }
}

/// A trace or span id: `bytes` bytes in hex (OTLP/JSON's one departure from proto3 JSON's
/// base64); empty means unset. The crate decodes it, but would take any length.
fn id(v: Json, bytes: usize, path: &Path) -> Result<Json, JsonError> {
    match &v {
        Json::Str(s) if s.is_empty() => Ok(v),
        Json::Str(s) if s.len() == bytes * 2 && s.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(v),
        Json::Str(_) => Err(fail(
            path,
            format_args!(
                "expected {} hex characters, got {}",
                bytes * 2,
                v.describe()
            ),
        )),
        _ => Err(fail(
            path,
            format_args!(
                "expected a string of {} hex characters, got {}",
                bytes * 2,
                v.describe()
            ),
        )),
    }
}

/// Bytes: base64, standard or URL-safe, padded or not, passed on in the one form the crate
/// decodes (standard, padded).
fn base64_bytes(v: Json, path: &Path) -> Result<Json, JsonError> {
    const PADDING_OPTIONAL: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const ANY_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, PADDING_OPTIONAL);
    const ANY_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, PADDING_OPTIONAL);
    let Json::Str(s) = &v else {
        return Err(fail(
            path,
            format_args!("expected a base64 string, got {}", v.describe()),
        ));
    };
    match ANY_STANDARD
        .decode(s)
        .or_else(|e| ANY_URL_SAFE.decode(s).map_err(|_| e))
    {
        Ok(bytes) => Ok(Json::Str(STANDARD.encode(bytes))),
        Err(e) => Err(fail(
            path,
            format_args!("expected base64, got {} ({e})", v.describe()),
        )),
    }
}

/// A metric's data, `key` being its oneof member, deserialized on its own (see the module doc).
fn metric(key: &str, v: Json, path: &Path) -> Result<Data, JsonError> {
    let at = path.key(key);
    match key {
        "gauge" => deserialize(v, &at).map(Data::Gauge),
        "sum" => deserialize(v, &at).map(Data::Sum),
        "histogram" => deserialize(v, &at).map(Data::Histogram),
        "exponentialHistogram" => deserialize(v, &at).map(Data::ExponentialHistogram),
        "summary" => deserialize(v, &at).map(Data::Summary),
        other => Err(fail(path, format_args!("{other:?} is no kind of metric"))),
    }
}
