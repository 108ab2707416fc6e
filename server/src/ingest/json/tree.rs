//! The JSON tree the OTLP/JSON layer rewrites between parsing and the crate's serde: like
//! `serde_json::Value`, except that an object keeps its members in document order (the Collector
//! lets the last of two spellings of a field win) and a double may be NaN or infinite (OTLP/JSON
//! spells those as strings, and a `serde_json::Number` cannot hold them). It is read from the
//! body by serde_json, and is itself a serde `Deserializer` for the crate's message types.

use std::fmt;

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(String),
    List(Vec<Json>),
    /// Members in document order; a key may appear twice until the layer settles it.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// A short description for an error message: scalars verbatim (long strings cut), containers
    /// by kind, so a bad value never echoes a megabyte back.
    pub fn describe(&self) -> String {
        const MAX_CHARS: usize = 40;
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::U64(n) => n.to_string(),
            Json::I64(n) => n.to_string(),
            Json::F64(n) => n.to_string(),
            Json::Str(s) => match s.char_indices().nth(MAX_CHARS) {
                Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
                None => format!("{s:?}"),
            },
            Json::List(_) => "an array".into(),
            Json::Object(_) => "an object".into(),
        }
    }
}

impl<'de> de::Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::U64(n))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::I64(n))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
        Ok(Json::F64(n))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::Str(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(member) = map.next_entry()? {
            members.push(member);
        }
        Ok(Json::Object(members))
    }
}

impl<'de> Deserializer<'de> for Json {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Json::Null => visitor.visit_unit(),
            Json::Bool(b) => visitor.visit_bool(b),
            Json::U64(n) => visitor.visit_u64(n),
            Json::I64(n) => visitor.visit_i64(n),
            Json::F64(n) => visitor.visit_f64(n),
            Json::Str(s) => visitor.visit_string(s),
            Json::List(items) => visitor.visit_seq(SeqDeserializer::new(items.into_iter())),
            Json::Object(members) => visitor.visit_map(MapDeserializer::new(members.into_iter())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Json::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    // The OTLP messages have no newtypes, and their enums are oneofs the crate reads from a map.
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

impl IntoDeserializer<'_, Error> for Json {
    type Deserializer = Json;

    fn into_deserializer(self) -> Json {
        self
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize as _;

    use super::*;

    #[test]
    fn objects_keep_document_order_and_duplicates() {
        let got: Json = serde_json::from_str(r#"{"b":1,"a":[true,null],"b":-2.5}"#).expect("json");
        assert_eq!(
            got,
            Json::Object(vec![
                ("b".into(), Json::U64(1)),
                ("a".into(), Json::List(vec![Json::Bool(true), Json::Null])),
                ("b".into(), Json::F64(-2.5)),
            ])
        );
    }

    #[test]
    fn a_tree_deserializes_like_the_json_it_came_from() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Point {
            x: Option<f64>,
            tags: Vec<String>,
            n: i32,
        }
        let tree = Json::Object(vec![
            ("x".into(), Json::F64(f64::INFINITY)),
            ("tags".into(), Json::List(vec![Json::Str("a".into())])),
            ("n".into(), Json::I64(-3)),
        ]);
        let got = Point::deserialize(tree).expect("deserializes");
        assert_eq!(
            got,
            Point {
                x: Some(f64::INFINITY),
                tags: vec!["a".into()],
                n: -3
            }
        );
        let e = Point::deserialize(Json::Object(vec![("n".into(), Json::Bool(true))]))
            .expect_err("a bool is no i32");
        assert!(e.to_string().contains("invalid type: boolean"), "{e}");
    }
}
