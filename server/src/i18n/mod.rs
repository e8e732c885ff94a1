//! The language a person reads: which one a request asks for (`Accept-Language`), and messages
//! rendered from a rule of the catalogue and its figures, in Chinese or English.

mod catalogue;
pub mod flags;
pub mod format;

use std::future::{ready, Ready};

use actix_web::http::header;
use serde_json::{Map, Value};

pub use catalogue::{code_text, Rule, CODES};

tokio::task_local! {
    /// The language of the request being answered (set by [`localize`]), for what a view
    /// renders for people (a flag's `message`).
    static LANG: Lang;
}

/// The language of the request being answered, inside a request.
pub fn current() -> Option<Lang> {
    LANG.try_with(|l| *l).ok()
}

/// The two languages of the programme: Chinese first, English for everyone else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// The language an `Accept-Language` value prefers most: zh when its highest-weighted
    /// range is a Chinese one (`zh`, `zh-CN`, `zh-Hans`…), English otherwise.
    pub fn preferred(accept: &str) -> Lang {
        let mut best: Option<(f32, bool)> = None;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let range = it.next().unwrap_or("").trim().to_ascii_lowercase();
            if range.is_empty() {
                continue;
            }
            let q = it
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let zh = range == "zh" || range.starts_with("zh-");
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, zh));
            }
        }
        match best {
            Some((q, true)) if q > 0.0 => Lang::Zh,
            _ => Lang::En,
        }
    }

    /// The language of a request: its `Accept-Language`, else English.
    pub fn of(req: &actix_web::HttpRequest) -> Lang {
        Self::of_headers(req.headers())
    }

    pub fn of_headers(headers: &actix_web::http::header::HeaderMap) -> Lang {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::preferred)
            .unwrap_or_default()
    }
}

/// A handler reads the request's language as an extractor (`lang: Lang`).
impl actix_web::FromRequest for Lang {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(Lang::of(req)))
    }
}

/// A message: a rule of the catalogue and the figures it names. A plain English text (from a
/// call site not converted yet) is the rule `invalid`, shown in Chinese as its generic text.
#[derive(Clone, Debug, PartialEq)]
pub struct Msg {
    pub rule: Rule,
    pub params: Map<String, Value>,
    /// The English words of a plain message (rule `invalid`).
    text: Option<String>,
}

impl Msg {
    /// A rule with its figures.
    pub fn of(rule: Rule, params: Map<String, Value>) -> Self {
        Msg {
            rule,
            params,
            text: None,
        }
    }

    /// The message with one more figure (`{name}` in the rule's texts).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.params.insert(name.to_string(), value.into());
        self
    }

    /// Whether this message is a plain English text with no rule of its own.
    pub fn is_plain(&self) -> bool {
        self.text.is_some()
    }

    pub fn render(&self, lang: Lang) -> String {
        if let (Some(text), Lang::En) = (&self.text, lang) {
            return text.clone();
        }
        fill(self.rule.template(lang), &self.params, lang)
    }
}

impl Rule {
    /// This rule with one figure.
    pub fn with(self, name: &str, value: impl Into<Value>) -> Msg {
        Msg::from(self).with(name, value)
    }
}

impl From<Rule> for Msg {
    fn from(rule: Rule) -> Self {
        Msg {
            rule,
            params: Map::new(),
            text: None,
        }
    }
}

/// What a field error says: a rule of the catalogue, with its figures. Unlike `Msg`, it has
/// no conversion from a plain text, so every field error a person reads exists in Chinese.
pub struct Said(pub Msg);

impl From<Rule> for Said {
    fn from(rule: Rule) -> Self {
        Said(rule.into())
    }
}

impl From<Msg> for Said {
    fn from(msg: Msg) -> Self {
        Said(msg)
    }
}

impl From<String> for Msg {
    fn from(text: String) -> Self {
        Msg {
            rule: Rule::Invalid,
            params: Map::new(),
            text: Some(text),
        }
    }
}

impl From<&str> for Msg {
    fn from(text: &str) -> Self {
        Msg::from(text.to_string())
    }
}

impl From<&String> for Msg {
    fn from(text: &String) -> Self {
        Msg::from(text.clone())
    }
}

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

/// A template with each `{name}` replaced by its figure; in Chinese a figure that is a word of
/// the domain (`return`, `township`…) becomes the glossary's word.
fn fill(template: &str, params: &Map<String, Value>, lang: Lang) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match params.get(name) {
                    Some(v) => out.push_str(&figure(v, lang)),
                    None => out.push_str(&rest[start..start + end + 2]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn figure(v: &Value, lang: Lang) -> String {
    match v {
        Value::String(s) => match lang {
            Lang::Zh => catalogue::word_zh(s)
                .map(str::to_string)
                .or_else(|| quarter_zh(s))
                .unwrap_or_else(|| s.clone()),
            Lang::En => s.clone(),
        },
        Value::Array(items) => {
            let sep = if lang == Lang::Zh { "、" } else { ", " };
            items
                .iter()
                .map(|i| figure(i, lang))
                .collect::<Vec<_>>()
                .join(sep)
        }
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Middleware: answers a problem in the request's language. Handlers raise `ApiError`s
/// without knowing who reads them; a request that prefers Chinese gets the Chinese title,
/// detail and field messages of the same problem.
pub async fn localize(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let lang = Lang::of_headers(req.headers());
    let mut res = LANG
        .scope(lang, next.call(req))
        .await?
        .map_into_boxed_body();
    // Problems and flags differ by language: a cache must not serve one reader's to another.
    if res.request().path().starts_with("/api/") {
        res.headers_mut().append(
            header::VARY,
            header::HeaderValue::from_static("Accept-Language"),
        );
    }
    if lang == Lang::En {
        return Ok(res);
    }
    let problem = res
        .response()
        .error()
        .and_then(|e| e.as_error::<crate::error::ApiError>())
        .map(|e| e.problem_in(lang));
    let Some(problem) = problem else {
        return Ok(res);
    };
    let body = serde_json::to_string(&problem).unwrap_or_default();
    Ok(res.map_body(|head, _| {
        head.headers.insert(
            header::CONTENT_LANGUAGE,
            header::HeaderValue::from_static("zh"),
        );
        actix_web::body::BoxBody::new(body)
    }))
}

/// A quarter (`2026-Q4`) as people read it in Chinese: 2026年第4季度.
fn quarter_zh(s: &str) -> Option<String> {
    let (year, q) = s.split_once("-Q")?;
    (year.len() == 4
        && year.chars().all(|c| c.is_ascii_digit())
        && matches!(q, "1" | "2" | "3" | "4"))
    .then(|| format!("{year}年第{q}季度"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_reads_as_people_say_it_in_chinese() {
        let m = Rule::DeclarationsOpenFor.with("quarter", vec!["2026-Q4", "2027-Q1"]);
        assert_eq!(
            m.render(Lang::Zh),
            "目前只接受 2026年第4季度、2027年第1季度 的申报"
        );
        assert!(m.render(Lang::En).contains("2026-Q4, 2027-Q1"));
        assert_eq!(quarter_zh("2026-Q5"), None);
    }

    #[test]
    fn accept_language_picks_the_most_preferred() {
        assert_eq!(Lang::preferred("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::preferred("en-US,en;q=0.9,zh-CN;q=0.8"), Lang::En);
        assert_eq!(Lang::preferred("en;q=0.5, zh-Hans"), Lang::Zh);
        assert_eq!(Lang::preferred("zh-Hans-CN"), Lang::Zh);
        assert_eq!(Lang::preferred("ZH"), Lang::Zh);
        assert_eq!(Lang::preferred(""), Lang::En);
        assert_eq!(Lang::preferred("zh;q=0"), Lang::En);
        assert_eq!(Lang::preferred("fr, zh;q=0.4"), Lang::En);
        assert_eq!(Lang::preferred("*"), Lang::En);
    }

    #[test]
    fn a_message_fills_its_figures_in_either_language() {
        let m = Rule::RequiredFor.with("decision", "return");
        assert_eq!(m.rule.code(), "required_for");
        assert!(
            m.render(Lang::En).contains("return"),
            "{}",
            m.render(Lang::En)
        );
        let zh = m.render(Lang::Zh);
        assert!(zh.contains("退回") && !zh.contains("return"), "{zh}");
        let short = Rule::TooShort.with("min", 10);
        assert_eq!(short.render(Lang::En), "must be at least 10 characters");
        assert_eq!(short.render(Lang::Zh), "至少 10 个字符");
    }

    #[test]
    fn a_plain_text_is_english_and_the_generic_rule_in_chinese() {
        let m = Msg::from("something odd");
        assert_eq!(m.render(Lang::En), "something odd");
        assert_eq!(m.rule, Rule::Invalid);
        assert!(m.render(Lang::Zh).chars().all(|c| !c.is_ascii_alphabetic()));
    }

    #[test]
    fn a_missing_figure_leaves_its_name() {
        assert_eq!(
            fill("a {x} b {y}", &Map::new(), Lang::En),
            "a {x} b {y}".to_string()
        );
    }
}
