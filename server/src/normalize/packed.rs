//! Stored attributes, compressed: the agents' original attributes are the bulk of a stored
//! event (two thirds of a Claude Code log record), so the ingest workers compress them with
//! zstd and a dictionary of our own before the writer sees them ([`pack`]); readers that show
//! them unpack ([`attributes`]). The dictionary (`attributes.zdict`, 96 KiB, number
//! [`DICTIONARY`]) was trained by `examples/attrdict.rs` on the recorded fixtures of every agent
//! with their identifiers (UUIDs, hashes, request ids) replaced by random ones of the same shape,
//! so it knows the agents' keys and common values, not our recordings' ids; the recording the
//! bench's load is made from was held out. A stored dictionary is
//! never changed: events name the one they were packed with, and a new one gets a new number.

use std::cell::RefCell;
use std::sync::LazyLock;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;

use crate::proto::store::Event;

/// The dictionary's number, stored with each packed event.
pub const DICTIONARY: u32 = 1;
static DICTIONARY_BYTES: &[u8] = include_bytes!("attributes.zdict");
/// zstd's own default level.
const LEVEL: i32 = 3;
/// An event's attributes are never near this; a larger unpacked size means damage.
const MAX_UNPACKED: usize = 64 * 1024 * 1024;

static ENCODER: LazyLock<zstd::dict::EncoderDictionary<'static>> =
    LazyLock::new(|| zstd::dict::EncoderDictionary::copy(DICTIONARY_BYTES, LEVEL));
static DECODER: LazyLock<zstd::dict::DecoderDictionary<'static>> =
    LazyLock::new(|| zstd::dict::DecoderDictionary::copy(DICTIONARY_BYTES));

thread_local! {
    /// One compression context per ingest worker: making one costs more than packing an event.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The frame without what a stored event does not need: the dictionary's id (the event names
/// it) and the content size (the reader gives a bound).
fn compressor() -> std::io::Result<zstd::bulk::Compressor<'static>> {
    use zstd::zstd_safe::CParameter;
    let mut c = zstd::bulk::Compressor::with_prepared_dictionary(&ENCODER)?;
    c.set_parameter(CParameter::DictIdFlag(false))?;
    c.set_parameter(CParameter::ContentSizeFlag(false))?;
    Ok(c)
}

fn compress(data: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = compressor().ok();
        }
        slot.as_mut()?.compress(data).ok()
    })
}

fn decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    DECOMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            let d = zstd::bulk::Decompressor::with_prepared_dictionary(&DECODER);
            *slot = Some(d.map_err(|e| e.to_string())?);
        }
        let d = slot.as_mut().ok_or("no decompressor")?;
        d.decompress(data, MAX_UNPACKED)
            .map_err(|e| format!("unpacking attributes: {e}"))
    })
}

/// The stored form of `attributes`: an encoded [`Event`] fragment holding them packed (or as
/// they are, when packing does not make them smaller), to be appended to the event's encoding.
pub fn pack(attributes: Vec<KeyValue>) -> Vec<u8> {
    if attributes.is_empty() {
        return Vec::new();
    }
    let plain = Event {
        attributes,
        ..Event::default()
    };
    let encoded = plain.encode_to_vec();
    match compress(&encoded) {
        Some(z) if z.len() + 8 < encoded.len() => Event {
            attributes_zstd: z,
            attributes_dictionary: DICTIONARY,
            ..Event::default()
        }
        .encode_to_vec(),
        _ => encoded,
    }
}

/// An event's original attributes, unpacked when they were stored packed.
pub fn attributes(e: &Event) -> Result<Vec<KeyValue>, String> {
    if e.attributes_zstd.is_empty() {
        return Ok(e.attributes.clone());
    }
    if e.attributes_dictionary != DICTIONARY {
        return Err(format!(
            "attributes packed with dictionary {}, which this version does not have",
            e.attributes_dictionary
        ));
    }
    let plain = decompress(&e.attributes_zstd)?;
    Event::decode(plain.as_slice())
        .map(|p| p.attributes)
        .map_err(|e| format!("decoding unpacked attributes: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::fixtures;

    #[test]
    fn every_recorded_event_s_attributes_come_back_as_they_went_in_and_smaller() {
        let (mut plain, mut stored, mut events) = (0, 0, 0);
        for (folder, scenario) in fixtures::scenarios() {
            let dir = fixtures::dir(&folder, &scenario);
            for (t, step) in fixtures::timeline(&dir, fixtures::agent_of(&folder)) {
                for mut e in fixtures::step_events(&step, t, None) {
                    let original = e.event.attributes.clone();
                    plain += Event {
                        attributes: original.clone(),
                        ..Event::default()
                    }
                    .encoded_len();
                    e.seal();
                    stored += e.encoded_attributes.len();
                    events += 1;
                    let back = Event::decode(e.encoded_attributes.as_slice()).expect("decodes");
                    assert_eq!(attributes(&back), Ok(original), "{folder}/{scenario}");
                }
            }
        }
        eprintln!("attributes of {events} recorded events: {plain} bytes, packed {stored}");
        assert!(events > 500, "{events}");
        // The recordings' own ids are not in the dictionary, so this is what a user's data gets.
        assert!(stored * 2 < plain, "packed {stored} of {plain} bytes");
    }

    #[test]
    fn damaged_or_unknown_packing_is_an_error_not_a_panic() {
        let long = crate::testkit::otlp::kv_str("k", &"value ".repeat(20));
        let mut e = Event::decode(pack(vec![long]).as_slice()).expect("decodes");
        assert!(!e.attributes_zstd.is_empty());
        e.attributes_zstd.truncate(e.attributes_zstd.len() / 2);
        assert!(attributes(&e).is_err());
        e.attributes_dictionary = 99;
        assert!(
            attributes(&e)
                .expect_err("unknown")
                .contains("dictionary 99")
        );
    }
}
