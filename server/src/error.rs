//! The one error type of the API and its RFC 9457 problem+json shape.
//! Handlers return `ApiError`; constructors name the status, a machine code and a human detail.

use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::i18n::{code_text, Lang, Msg, Rule, Said};

/// One invalid field of a request, named by its path in the body (`answers.board_posted`),
/// with the rule it broke, that rule's figures, and the message in the request's language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub rule: Rule,
    /// The figures of the rule (`{"min": 10}`), for a client that renders its own text.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// For a person: zh when the request's `Accept-Language` prefers Chinese, else English.
    pub message: String,
}

impl FieldError {
    /// The field and the rule it broke (`Rule::TooShort.with("min", 10)`); a plain text is
    /// the generic rule `invalid`.
    pub fn new(field: impl Into<String>, message: impl Into<Said>) -> Self {
        let said: Msg = message.into().0;
        Self {
            field: field.into(),
            rule: said.rule,
            params: said.params.clone(),
            message: said.render(Lang::En),
        }
    }

    /// The error with its message in `lang` (English is the message it was made with).
    pub fn in_lang(&self, lang: Lang) -> FieldError {
        let mut e = self.clone();
        if lang != Lang::En {
            e.message = self.said().render(lang);
        }
        e
    }

    /// The rule and figures of this error as a message (a plain text keeps its words).
    pub fn said(&self) -> Msg {
        if self.rule == Rule::Invalid {
            Msg::from(self.message.clone())
        } else {
            Msg::of(self.rule, self.params.clone())
        }
    }
}

/// The problem+json body every error answers with.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:fieldstar:problem:<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Machine-readable code, stable across releases.
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Members a problem adds about itself (RFC 9457 extensions), e.g. `failing_items`.
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(ignore)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Seconds; 32 bits keep every `Result` within clippy's bound.
    pub retry_after: Option<u32>,
    pub allow: Option<Box<str>>,
    /// The detail as a rule of the catalogue with its figures, when it has one (rendered in
    /// Chinese for a request that prefers it; else the code's generic Chinese detail).
    pub said: Option<Box<Msg>>,
    /// For a 500: what went wrong and where (for the log only, never the body). Boxed like
    /// `extensions`: one pointer keeps every `Result` small.
    #[allow(clippy::box_collection)]
    pub cause: Option<Box<String>>,
    /// Boxed: most errors have none, and every `Result` carries the error's size.
    pub extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<Msg>) -> Self {
        let said: Msg = detail.into();
        Self {
            status,
            code,
            detail: said.render(Lang::En),
            said: (!said.is_plain()).then(|| Box::new(said)),
            errors: Vec::new(),
            retry_after: None,
            allow: None,
            cause: None,
            extensions: None,
        }
    }

    /// The problem naming the fields at fault.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// The problem with an extension member (`failing_items`, `declaration_id`…).
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extensions
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value.into());
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<Msg>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(detail: impl Into<Msg>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<Msg>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            Rule::NotFound.with("what", what),
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<Msg>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<Msg>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 422 naming each invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                detail,
            )
        }
    }

    pub fn field(field: &str, message: impl Into<Said>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn too_large(detail: impl Into<Msg>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", detail)
    }

    pub fn unsupported_media(detail: impl Into<Msg>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(u32::try_from(retry_after_secs.max(1)).unwrap_or(u32::MAX)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many failed attempts; try again later",
            )
        }
    }

    pub fn unavailable(detail: impl Into<Msg>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// A real server fault: the body says nothing internal; where it happened goes to the log
    /// (the caller's file and line), so that a 500 is never silent.
    #[track_caller]
    pub fn internal() -> Self {
        Self::internal_because(None)
    }

    /// A 500 with what caused it (a database or I/O error): logged with the caller's file and
    /// line, kept in `cause` for the access-log line, never shown to the client.
    #[track_caller]
    pub fn internal_because(cause: Option<String>) -> Self {
        let at = std::panic::Location::caller();
        let at = format!("{}:{}", at.file(), at.line());
        match &cause {
            Some(c) => tracing::error!(at = %at, cause = %c, "internal error"),
            None => tracing::error!(at = %at, "internal error"),
        }
        Self {
            cause: Some(Box::new(match cause {
                Some(c) => format!("{c} (at {at})"),
                None => format!("at {at}"),
            })),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server could not complete the request",
            )
        }
    }

    pub fn method_not_allowed(allow: String) -> Self {
        Self {
            allow: Some(allow.into_boxed_str()),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this method is not allowed on this path",
            )
        }
    }

    pub fn problem(&self) -> Problem {
        self.problem_in(Lang::En)
    }

    /// The problem in `lang`: English titles are the status's reason phrase; Chinese ones come
    /// from the catalogue, as do the details and each field's message.
    pub fn problem_in(&self, lang: Lang) -> Problem {
        let english_title = || {
            self.status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string()
        };
        let errors: Vec<FieldError> = self.errors.iter().map(|e| e.in_lang(lang)).collect();
        let (title, detail) = match lang {
            Lang::En => (english_title(), self.detail.clone()),
            Lang::Zh => {
                let text = code_text(self.code);
                let title = text.map_or_else(english_title, |t| t.zh_title.to_string());
                let detail = match (&self.said, errors.as_slice()) {
                    (Some(said), _) => said.render(lang),
                    (None, [one]) if self.code == "validation_failed" => one.message.clone(),
                    (None, many) if self.code == "validation_failed" && !many.is_empty() => {
                        format!("{} 处填写有误", many.len())
                    }
                    _ => text.map_or_else(|| self.detail.clone(), |t| t.zh_detail.to_string()),
                };
                (title, detail)
            }
        };
        Problem {
            type_: format!("urn:fieldstar:problem:{}", self.code),
            title,
            status: self.status.as_u16(),
            detail,
            code: self.code.to_string(),
            errors,
            request_id: None,
            extensions: self.extensions.as_deref().cloned().unwrap_or_default(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(allow) = &self.allow {
            res.insert_header((header::ALLOW, allow.to_string()));
        }
        // In the request's language when rendered inside it (a handler that answers an error
        // itself, as tus does, is localized too); the `localize` middleware does the rest.
        let lang = crate::i18n::current().unwrap_or(Lang::En);
        if lang == Lang::Zh {
            res.insert_header((header::CONTENT_LANGUAGE, "zh"));
        }
        res.body(serde_json::to_string(&self.problem_in(lang)).unwrap_or_default())
    }
}

impl From<diesel::result::Error> for ApiError {
    #[track_caller]
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => Self::not_found("resource"),
            // The database went away under this request (a restart, a killed backend): the
            // pool drops the connection (a 5xx marks it) and a retry gets a fresh one.
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => {
                tracing::warn!(error = %info.message(), "a database connection was lost");
                Self::unavailable("the database connection was lost; retry")
            }
            other => Self::internal_because(Some(format!("database error: {other}"))),
        }
    }
}

impl From<std::io::Error> for ApiError {
    #[track_caller]
    fn from(e: std::io::Error) -> Self {
        Self::internal_because(Some(format!("i/o error: {e}")))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Turns `NotFound` into a 404 that names what was looked for.
pub trait OrNotFound<T> {
    fn or_not_found(self, what: &str) -> ApiResult<T>;
}

impl<T> OrNotFound<T> for Result<T, diesel::result::Error> {
    fn or_not_found(self, what: &str) -> ApiResult<T> {
        match self {
            Err(diesel::result::Error::NotFound) => Err(ApiError::not_found(what)),
            other => other.map_err(ApiError::from),
        }
    }
}

impl<T> OrNotFound<T> for Result<Option<T>, diesel::result::Error> {
    fn or_not_found(self, what: &str) -> ApiResult<T> {
        match self {
            Ok(Some(v)) => Ok(v),
            Ok(None) | Err(diesel::result::Error::NotFound) => Err(ApiError::not_found(what)),
            Err(e) => Err(ApiError::from(e)),
        }
    }
}
