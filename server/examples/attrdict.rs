//! Trains the dictionary stored events' attributes are packed with (`normalize/packed.rs`) and
//! writes it to `server/src/normalize/attributes.zdict`. Run once per new dictionary (give it a
//! new number in packed.rs: stored events name the one they were packed with):
//!
//!     cargo run --release -p observatory --example attrdict
//!
//! Samples: the attributes of every event the recorded fixtures of every agent make (OTLP and
//! hooks, as the server normalizes them) but the Claude Code `bash` recording the bench's load
//! is made from (held out), eight times over, each time with every identifier-like
//! value (a run of 12+ letters and digits holding both: UUID parts, hashes, request and tool
//! ids) replaced by random characters of the same kind. So the dictionary learns the agents'
//! keys, enums and value shapes, and nothing of our recordings' ids — the bench's load, made
//! from a recording with fresh ids, is packed as a user's would be.

use observatory::testkit::fixtures;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

const HELD_OUT: (&str, &str) = ("claude-code-2.1.328", "bash");

/// A deterministic generator, so that the dictionary is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn scrub_str(s: &str, rng: &mut Lcg) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String, rng: &mut Lcg| {
        let id_like = run.len() >= 12
            && run.bytes().any(|b| b.is_ascii_digit())
            && run.bytes().any(|b| b.is_ascii_alphabetic());
        if id_like {
            let hex = run.bytes().all(|b| b.is_ascii_hexdigit());
            let set = if hex { HEX } else { ALNUM };
            for _ in 0..run.len() {
                out.push(set[(rng.next() % set.len() as u64) as usize] as char);
            }
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out, rng);
            out.push(c);
        }
    }
    flush(&mut run, &mut out, rng);
    out
}

fn scrub(kv: &mut [KeyValue], rng: &mut Lcg) {
    for a in kv {
        if let Some(AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        }) = &mut a.value
        {
            *s = scrub_str(s, rng);
        }
    }
}

fn main() -> anyhow::Result<()> {
    let mut rng = Lcg(0x000b_5e7a_7012);
    let mut samples = Vec::new();
    for (folder, scenario) in fixtures::scenarios() {
        // The bench's load is made from this recording: held out, so that the bench measures
        // packing of records the dictionary never saw.
        if (folder.as_str(), scenario.as_str()) == HELD_OUT {
            continue;
        }
        let dir = fixtures::dir(&folder, &scenario);
        let agent = fixtures::agent_of(&folder);
        for (t, step) in fixtures::timeline(&dir, agent) {
            for e in fixtures::step_events(&step, t, None) {
                for _ in 0..8 {
                    let mut attributes = e.event.attributes.clone();
                    scrub(&mut attributes, &mut rng);
                    let sample = observatory::proto::store::Event {
                        attributes,
                        ..Default::default()
                    };
                    samples.push(sample.encode_to_vec());
                }
            }
        }
    }
    let dict = zstd::dict::from_samples(&samples, 96 * 1024)?;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/normalize/attributes.zdict"
    );
    std::fs::write(path, &dict)?;
    let bytes: usize = samples.iter().map(Vec::len).sum();
    println!(
        "{} samples ({bytes} bytes) → {} byte dictionary at {path}",
        samples.len(),
        dict.len()
    );
    Ok(())
}
