//! One-time pairing codes: ten characters of Crockford's base32 (50 bits), shown as
//! `K7Q2-M9XD-4F`, read back case-insensitively with dashes and spaces ignored and the letters
//! people confuse (O, I, L) taken as the digits they look like. Kept hashed, in memory only (a
//! restart forgets them: the start-up link is new each time), until used or expired. The
//! pairing link carries the code in its fragment (`/pair#CODE`), which browsers never send to a
//! server or a tunnel's logs; [`qr_svg`] and [`qr_terminal`] draw it.

use qrcode::QrCode;
use qrcode::render::{svg, unicode};

use super::secret::{self, Hash};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LEN: usize = 10;
/// Codes outstanding at most; the oldest goes first.
const MAX_LIVE: usize = 32;

/// A fresh random code, normalised (no dashes).
pub fn new_code() -> String {
    let mut bytes = [0u8; LEN];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b % 32)] as char)
        .collect()
}

/// What a person typed, as the code it means; `None` when it cannot be one.
pub fn normalize(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// `K7Q2-M9XD-4F`.
pub fn display(code: &str) -> String {
    let (a, rest) = code.split_at(4.min(code.len()));
    let (b, c) = rest.split_at(4.min(rest.len()));
    [a, b, c]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("-")
}

/// The codes not yet used, by hash, with when each expires.
#[derive(Default)]
pub struct Codes {
    live: Vec<(Hash, i64)>,
}

impl Codes {
    /// A new code that works once until `expires`.
    pub fn issue(&mut self, now: i64, expires: i64) -> String {
        self.live.retain(|(_, e)| *e > now);
        if self.live.len() >= MAX_LIVE {
            self.live.remove(0);
        }
        let code = new_code();
        self.live.push((secret::hash(&code), expires));
        code
    }

    /// Whether `code` is live; it is used up either way.
    pub fn redeem(&mut self, code: &str, now: i64) -> bool {
        self.live.retain(|(_, e)| *e > now);
        match self.live.iter().position(|(h, _)| secret::matches(code, h)) {
            Some(i) => {
                self.live.remove(i);
                true
            }
            None => false,
        }
    }
}

fn qr(url: &str) -> QrCode {
    QrCode::new(url.as_bytes()).expect("a pairing link fits a QR code")
}

/// The link as an SVG QR code, for the dashboard.
pub fn qr_svg(url: &str) -> String {
    qr(url)
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build()
}

/// The link as a QR code of half-block characters, for the terminal.
pub fn qr_terminal(url: &str) -> String {
    qr(url)
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back_as_people_type_them() {
        let code = new_code();
        assert_eq!(normalize(&code), Some(code.clone()));
        assert_eq!(
            normalize(&display(&code).to_lowercase()),
            Some(code.clone())
        );
        assert_eq!(normalize("K7Q2-M9XD-4F"), Some("K7Q2M9XD4F".into()));
        assert_eq!(normalize("k7q2 m9xd 4f"), Some("K7Q2M9XD4F".into()));
        assert_eq!(normalize("OIL2M9XD4F"), Some("0112M9XD4F".into()));
        assert_eq!(display("K7Q2M9XD4F"), "K7Q2-M9XD-4F");
        for bad in ["", "K7Q2M9XD4", "K7Q2M9XD4FF", "K7Q2M9XD4U", "K7Q2M9XD4!"] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_code_works_once_and_not_after_it_expires() {
        let mut codes = Codes::default();
        let a = codes.issue(0, 100);
        let b = codes.issue(0, 100);
        assert!(codes.redeem(&a, 50));
        assert!(!codes.redeem(&a, 50), "used");
        assert!(!codes.redeem(&b, 100), "expired");
        assert!(!codes.redeem("0000000000", 0));
    }

    #[test]
    fn the_link_draws_as_svg_and_as_text() {
        let url = "https://obs.example.com/pair#K7Q2M9XD4F";
        assert!(qr_svg(url).starts_with("<?xml") || qr_svg(url).contains("<svg"));
        let text = qr_terminal(url);
        assert!(text.lines().count() > 10 && text.contains('█'));
    }
}
