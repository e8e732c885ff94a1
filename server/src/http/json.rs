//! The strict JSON body extractor: a size cap (413), a JSON content type (415), syntax errors
//! as 400 saying where, and unknown or invalid fields as 422 naming the field.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut, Data};
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};
use crate::i18n::{Msg, Rule};
use crate::state::AppState;

/// A JSON body parsed into `T`.
pub struct Json<T>(pub T);

/// A JSON body parsed into `T`, with the raw bytes kept (idempotency keys hash them).
pub struct RawJson<T>(pub T, pub Bytes);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json_body(req, payload);
        Box::pin(async move {
            let bytes = body.await?;
            parse(&bytes).map(Json)
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for RawJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json_body(req, payload);
        Box::pin(async move {
            let bytes = body.await?;
            parse(&bytes).map(|v| RawJson(v, bytes))
        })
    }
}

fn read_json_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> LocalBoxFuture<'static, Result<Bytes, ApiError>> {
    let limit = req
        .app_data::<Data<AppState>>()
        .map(|s| s.config.json_max_bytes)
        .unwrap_or(1 << 20);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        match content_type.as_deref() {
            Some("application/json") => {}
            Some(ct) if ct.ends_with("+json") => {}
            _ => {
                return Err(ApiError::unsupported_media(
                    "the body must be JSON (Content-Type: application/json)",
                ))
            }
        }
        if declared_len.is_some_and(|n| n > limit) {
            return Err(too_large(limit));
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| super::pace::body_error(e, "the body"))?;
            if buf.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    })
}

fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!("the JSON body is over the limit of {limit} bytes"))
}

/// Parses JSON, naming the failing field by its path (`answers.board_posted`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::bad_request(
                    "malformed_json",
                    format!(
                        "malformed JSON at line {} column {}: {inner}",
                        inner.line(),
                        inner.column()
                    ),
                )
            }
            _ => {
                let message = strip_position(&inner.to_string());
                let field = field_name(&path, &message);
                ApiError::validation(vec![FieldError::new(field, serde_rule(&message))])
            }
        }
    })
}

/// serde names unknown and missing fields in the message, not the path: join them.
fn field_name(path: &str, message: &str) -> String {
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    let base = if path == "." { "" } else { path };
    match named {
        Some(name) if base == name || base.ends_with(&format!(".{name}")) => base.to_string(),
        Some(name) if base.is_empty() => name.to_string(),
        Some(name) => format!("{base}.{name}"),
        None if base.is_empty() => "body".to_string(),
        None => base.to_string(),
    }
}

/// The catalogue's rule for serde's words (`missing field …`, `unknown variant …`); the
/// English message stays serde's.
fn serde_rule(message: &str) -> Msg {
    let rule = if message.starts_with("missing field `") {
        Rule::MissingField
    } else if message.starts_with("unknown field `") {
        Rule::UnknownField
    } else if let Some((got, allowed)) = message
        .strip_prefix("unknown variant `")
        .and_then(|m| m.split_once("`, expected one of "))
    {
        return Rule::UnknownVariant
            .with("got", got)
            .with("allowed", allowed.replace('`', ""));
    } else {
        Rule::Malformed
    };
    rule.with("why", message)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Inner,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    #[test]
    fn syntax_errors_are_400_and_say_where() {
        let e = parse::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert!(e.detail.contains("line 1"), "{}", e.detail);
    }

    #[test]
    fn unknown_missing_and_invalid_fields_are_422_naming_the_field() {
        let e = parse::<Body>(br#"{"name":"a","inner":{"n":1},"phone":"1"}"#).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.errors[0].field.as_str()),
            (422, "phone")
        );
        let e = parse::<Body>(br#"{"name":"a","inner":{"n":1,"x":2}}"#).unwrap_err();
        assert_eq!(e.errors[0].field, "inner.x");
        let e = parse::<Body>(br#"{"name":"a"}"#).unwrap_err();
        assert_eq!(e.errors[0].field, "inner");
        let e = parse::<Body>(br#"{"name":"a","inner":{"n":300}}"#).unwrap_err();
        assert_eq!(e.errors[0].field, "inner.n");
        assert!(!e.errors[0].message.contains("line"));
    }
}
