//! One ETag helper for every cacheable representation: a strong tag made from the bytes (or
//! from a version the caller already stores), and `If-None-Match` answered per RFC 9110.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// A strong entity tag, kept with its quotes (`"…"`), as it goes on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    /// The tag of a representation's bytes: the first 128 bits of their SHA-256, in hex.
    pub fn of_bytes(bytes: &[u8]) -> ETag {
        ETag(format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..16])))
    }

    /// The tag of a version the caller stores or derives (`"abc-display"`). Characters an
    /// entity tag may not hold (quotes, controls, spaces) are hashed instead.
    pub fn of_version(version: &str) -> ETag {
        let opaque = version.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
        let inner = opaque.unwrap_or(version);
        if !inner.is_empty() && inner.bytes().all(is_etagc) {
            ETag(format!("\"{inner}\""))
        } else {
            ETag::of_bytes(version.as_bytes())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `If-None-Match` names this representation: `*`, or any listed tag equal by weak
    /// comparison (`W/"x"` matches `"x"`), as RFC 9110 §13.1.2 asks for GET and HEAD.
    pub fn matches_none_match(&self, req: &HttpRequest) -> bool {
        req.headers()
            .get_all(header::IF_NONE_MATCH)
            .any(|value| self.listed_in(value))
    }

    fn listed_in(&self, value: &HeaderValue) -> bool {
        let Ok(text) = value.to_str() else {
            return false;
        };
        if text.trim() == "*" {
            return true;
        }
        let mine = self.opaque();
        parse_list(text).contains(&mine)
    }

    fn opaque(&self) -> &str {
        &self.0[1..self.0.len() - 1]
    }
}

/// etagc = %x21 / %x23-7E / obs-text (we never emit obs-text).
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b)
}

/// The opaque parts of an `If-None-Match` list (`"a", W/"b"` → `a`, `b`); a malformed member
/// ends the list (what came before still counts).
fn parse_list(text: &str) -> Vec<&str> {
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return tags;
        }
        rest = rest.strip_prefix("W/").unwrap_or(rest);
        let Some(body) = rest.strip_prefix('"') else {
            return tags;
        };
        let Some(end) = body.find('"') else {
            return tags;
        };
        tags.push(&body[..end]);
        rest = &body[end + 1..];
    }
}

/// 304 with the tag (and the given cache policy) when the client holds the current
/// representation; `None` when the full answer is due.
pub fn not_modified(req: &HttpRequest, etag: &ETag, cache: &str) -> Option<HttpResponse> {
    etag.matches_none_match(req).then(|| {
        HttpResponse::NotModified()
            .insert_header((header::ETAG, etag.as_str()))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish()
    })
}

/// A JSON answer tagged by its own bytes: 304 when `If-None-Match` holds it, else `builder`
/// with the body. The client must revalidate (`private, no-cache`): lists change at any time.
pub fn json<T: Serialize>(
    req: &HttpRequest,
    mut builder: HttpResponseBuilder,
    value: &T,
) -> ApiResult<HttpResponse> {
    let body = serde_json::to_vec(value).map_err(|_| ApiError::internal())?;
    let etag = ETag::of_bytes(&body);
    let cache = "private, no-cache";
    if let Some(res) = not_modified(req, &etag, cache) {
        return Ok(res);
    }
    Ok(builder
        .insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache))
        .content_type("application/json")
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(values: &[&str]) -> HttpRequest {
        let mut r = TestRequest::get();
        for v in values {
            r = r.append_header((header::IF_NONE_MATCH, *v));
        }
        r.to_http_request()
    }

    #[test]
    fn a_tag_of_bytes_is_strong_quoted_and_stable() {
        let a = ETag::of_bytes(b"hello");
        assert_eq!(a, ETag::of_bytes(b"hello"));
        assert_ne!(a, ETag::of_bytes(b"hello!"));
        assert!(a.as_str().starts_with('"') && a.as_str().ends_with('"'));
        assert_eq!(a.as_str().len(), 34);
    }

    #[test]
    fn a_version_keeps_its_text_unless_it_cannot_be_a_tag() {
        assert_eq!(ETag::of_version("abc-display").as_str(), "\"abc-display\"");
        assert_eq!(ETag::of_version("\"abc\"").as_str(), "\"abc\"");
        let odd = ETag::of_version("a \"b\"");
        assert_eq!(odd.as_str().len(), 34);
        assert_eq!(ETag::of_version("").as_str().len(), 34);
    }

    #[test]
    fn if_none_match_compares_weakly_over_lists_and_star() {
        let tag = ETag::of_version("v1");
        assert!(tag.matches_none_match(&req(&["\"v1\""])));
        assert!(tag.matches_none_match(&req(&["W/\"v1\""])));
        assert!(tag.matches_none_match(&req(&["\"v0\", W/\"v1\""])));
        assert!(tag.matches_none_match(&req(&["\"v0\",\"v1\""])));
        assert!(tag.matches_none_match(&req(&["\"v0\"", "\"v1\""])));
        assert!(tag.matches_none_match(&req(&["*"])));
        assert!(tag.matches_none_match(&req(&[" * "])));
        assert!(!tag.matches_none_match(&req(&[])));
        assert!(!tag.matches_none_match(&req(&["\"v2\""])));
        assert!(!tag.matches_none_match(&req(&["v1"])));
        assert!(!tag.matches_none_match(&req(&["\"v1"])));
        assert!(!tag.matches_none_match(&req(&["\"v1x\""])));
        assert!(!tag.matches_none_match(&req(&["W/v1"])));
    }

    #[test]
    fn a_tag_with_a_comma_inside_is_one_tag() {
        let tag = ETag::of_version("a,b");
        assert_eq!(tag.as_str(), "\"a,b\"");
        assert!(tag.matches_none_match(&req(&["\"x\", \"a,b\""])));
        assert!(!ETag::of_version("a").matches_none_match(&req(&["\"a,b\""])));
    }

    #[test]
    fn a_malformed_member_ends_the_list_but_keeps_what_came_before() {
        assert_eq!(parse_list("\"a\", junk, \"b\""), vec!["a"]);
        assert_eq!(parse_list(""), Vec::<&str>::new());
        assert_eq!(parse_list(" , \"a\" ,, W/\"b\" "), vec!["a", "b"]);
    }

    #[test]
    fn not_modified_answers_304_with_the_tag_only_when_held() {
        let tag = ETag::of_bytes(b"x");
        let res = not_modified(&req(&[tag.as_str()]), &tag, "no-cache").unwrap();
        assert_eq!(res.status(), 304);
        assert_eq!(res.headers().get(header::ETAG).unwrap(), tag.as_str());
        assert!(not_modified(&req(&["\"other\""]), &tag, "no-cache").is_none());
    }
}
