//! The web console (`/`, assets under `/app/`) and the phone app (`/m/`): static files compiled
//! into the binary from `server/web/`, served by the fallback after the API routes.

use actix_web::http::{header, Method};
use actix_web::{HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use crate::http::etag::{self, ETag};

#[derive(RustEmbed)]
#[folder = "server/web/"]
struct Assets;

/// Maps a request path to an embedded file: `/` → the console, `/app/x` → its assets,
/// `/m/` and `/m/x` → the phone app.
fn asset_path(path: &str) -> Option<String> {
    if path.contains("..") {
        return None;
    }
    match path {
        "/" | "/index.html" => Some("console/index.html".into()),
        "/m" | "/m/" => Some("m/index.html".into()),
        _ => path
            .strip_prefix("/app/")
            .map(|rest| format!("console/{rest}"))
            .or_else(|| path.strip_prefix("/m/").map(|rest| format!("m/{rest}"))),
    }
}

/// The file for a GET or HEAD of a page or asset; `None` lets the caller answer 404/405.
pub fn serve(req: &HttpRequest) -> Option<HttpResponse> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    let name = asset_path(req.path())?;
    let file = Assets::get(&name)?;
    let etag = ETag::of_version(&hex::encode(&file.metadata.sha256_hash()[..16]));
    // Pages and the service worker must revalidate so that a deploy reaches every phone.
    let cache = "no-cache";
    if let Some(res) = etag::not_modified(req, &etag, cache) {
        return Some(res);
    }
    let mime = file.metadata.mimetype().to_string();
    let mut res = HttpResponse::Ok();
    res.insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache));
    res.content_type(if mime == "text/javascript" {
        "application/javascript".to_string()
    } else {
        mime
    });
    if name.ends_with("manifest.webmanifest") {
        res.content_type("application/manifest+json");
    }
    Some(res.body(file.data.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_the_two_apps_and_nothing_else() {
        assert_eq!(asset_path("/").as_deref(), Some("console/index.html"));
        assert_eq!(asset_path("/app/app.js").as_deref(), Some("console/app.js"));
        assert_eq!(asset_path("/m/").as_deref(), Some("m/index.html"));
        assert_eq!(asset_path("/m/sw.js").as_deref(), Some("m/sw.js"));
        assert_eq!(asset_path("/app/../Cargo.toml"), None);
        assert_eq!(asset_path("/api/v1/me"), None);
    }
}
