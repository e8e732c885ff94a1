//! Cursor paging for every list: `?limit=&cursor=` in, `{items, next_cursor}` out. The cursor
//! is the opaque, base64url-encoded sort key of the last item served.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::i18n::Rule;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> ApiResult<i64> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::field(
                "limit",
                Rule::Between.with("min", 1).with("max", 200),
            )),
        }
    }

    pub fn cursor<K: DeserializeOwned>(&self) -> ApiResult<Option<K>> {
        let Some(c) = self.cursor.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .map(Some)
            .ok_or_else(|| ApiError::field("cursor", Rule::NotACursor))
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says that more exist.
    pub fn from_rows<R, K: Serialize>(
        mut rows: Vec<R>,
        limit: i64,
        key: impl Fn(&R) -> K,
        view: impl FnMut(R) -> T,
    ) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_1_to_200_are_refused() {
        for bad in [0, -1, 201] {
            let p = PageParams {
                limit: Some(bad),
                cursor: None,
            };
            assert_eq!(p.limit().unwrap_err().errors[0].field, "limit");
        }
        assert_eq!(PageParams::default().limit().unwrap(), 50);
    }

    #[test]
    fn a_page_with_more_rows_carries_a_cursor_that_round_trips() {
        let page: Page<i32> = Page::from_rows(vec![1, 2, 3], 2, |r| r.to_string(), |r| r);
        assert_eq!(page.items, vec![1, 2]);
        let p = PageParams {
            limit: None,
            cursor: page.next_cursor,
        };
        assert_eq!(p.cursor::<String>().unwrap().as_deref(), Some("2"));
        let last: Page<i32> = Page::from_rows(vec![1], 2, |r| *r, |r| r);
        assert!(last.next_cursor.is_none());
        let bad = PageParams {
            limit: None,
            cursor: Some("!!".into()),
        };
        assert!(bad.cursor::<String>().is_err());
    }
}
