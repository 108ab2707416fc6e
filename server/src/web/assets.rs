//! The dashboard: the PWA built into `pwa/dist` (`scripts/build-pwa`), embedded in a release
//! binary with rust-embed (a debug build reads `pwa/dist` from disk). Hashed files under
//! `assets/` are cached for a year; everything else (`index.html`, the service worker, the
//! manifest) is revalidated on every load. ETags come from the files' SHA-256 hashes, computed
//! at build time. Paths that are not files are the app's own routes and get `index.html`; `/api/`
//! paths never reach here. Without a build, a page says how to make one.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../pwa/dist/"]
#[allow_missing = true]
struct Dist;

/// Shown when the binary was built without the PWA.
const PLACEHOLDER: &str = include_str!("placeholder.html");

/// Hashed by the bundler, so a changed file has a new name: cache it for good.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The entry points name the hashed files: always ask whether they changed.
const REVALIDATE: &str = "no-cache";

pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (name, file) = match Dist::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (path, file),
        None => match Dist::get("index.html") {
            // A client-side route (`/sessions/…`), or the root.
            Some(index) if !looks_like_a_file(path) => ("index.html", index),
            Some(_) => return not_found(),
            None => return Html(PLACEHOLDER).into_response(),
        },
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let cache = if name.starts_with("assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let mut response = if if_none_match(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = file.metadata.mimetype().to_owned();
        let mut r = file.data.into_owned().into_response();
        if let Ok(v) = HeaderValue::from_str(&mime) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// Whether the client already holds this version (`If-None-Match`, possibly a list or `*`).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// A missing `/assets/x.js` or `/icon.png` is a 404, not the app: a stale cached page asking
/// for an old asset must not get HTML in its place.
fn looks_like_a_file(path: &str) -> bool {
    path.starts_with("assets/")
        || path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// Whether this binary carries a built PWA (for `/api/config`).
pub fn embedded() -> bool {
    Dist::get("index.html").is_some()
}
