//! `GET /api/v1/inspections/{id}/record`: the printable verification record a county archives
//! — one HTML page (A4 print stylesheet served at `/app/record.css`), Chinese first with the
//! English beside it, that prints offline: thumbnails are `data:` URIs of the stored
//! thumbnails and the position sketch is inline SVG. Every string people typed is escaped.

use std::fmt::Write as _;

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::flags::{haversine_m, Flag};
use super::model::{Inspection, PhotoRow};
use crate::app::AppState;
use crate::auth::{AuthUser, Role};
use crate::checklist::store::ChecklistVersion;
use crate::checklist::template::{Item, ItemKind, Template};
use crate::db::schema::users;
use crate::declarations::Declaration;
use crate::error::{ApiError, ApiResult, Problem};
use crate::org::OrgUnit;
use crate::photo::store::{self, Size};
use crate::review::decide::{self, ApprovalRecord, DecisionRecord};
use crate::review::rules::{DecisionKind, ReviewBody};
use crate::stars::engine::Consequence;

/// The record's own CSP: nothing runs, images only from the page itself, the served stylesheet.
const CSP: &str = "default-src 'none'; img-src data:; style-src 'self'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'none'";

/// Text for HTML (element content and quoted attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Everything the record shows, read in one transaction.
struct Facts {
    ins: Inspection,
    photos: Vec<PhotoRow>,
    village: OrgUnit,
    township: Option<String>,
    declaration: Declaration,
    inspector: String,
    decisions: Vec<DecisionRecord>,
    approvals: Vec<ApprovalRecord>,
    template: Option<Template>,
}

fn facts(conn: &mut crate::db::DbConn, user: &AuthUser, id: &str) -> ApiResult<Facts> {
    let ins = Inspection::find_scoped(conn, &user.scope, id)?;
    if user.role == Role::Inspector && ins.inspector_id != user.id {
        return Err(ApiError::not_found("inspection"));
    }
    let photos = ins.photos(conn)?;
    let village = OrgUnit::find(conn, &ins.village_id)?.ok_or_else(|| ApiError::internal())?;
    let township = match &ins.township_id {
        Some(t) => OrgUnit::find(conn, t)?.map(|u| u.name),
        None => None,
    };
    let declaration = Declaration::find_scoped(conn, &user.scope, &ins.declaration_id)?;
    let inspector = users::table
        .find(&ins.inspector_id)
        .select(users::username)
        .first(conn)
        .optional()?
        .unwrap_or_default();
    let template = ChecklistVersion::find(conn, &ins.checklist_code, ins.checklist_version)?
        .and_then(|c| c.template().ok());
    Ok(Facts {
        decisions: decide::records_of(conn, &ins.id)?,
        approvals: decide::approvals_of(conn, &ins.id)?,
        ins,
        photos,
        village,
        township,
        declaration,
        inspector,
        template,
    })
}

/// The printable verification record of one inspection, as HTML: for county staff (admins,
/// reviewers) and the inspector who submitted it; secretaries, members and township staff get
/// 403. Print it from the browser (A4), or print to PDF.
#[utoipa::path(
    tag = "inspections",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The record", content_type = "text/html", body = String),
        (status = 403, body = Problem), (status = 404, body = Problem)
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/inspections/{id}/record")]
pub async fn record(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::Admin, Role::Reviewer, Role::Inspector])?;
    let id = id.into_inner();
    let viewer = user.username.clone();
    let f = state.db.read(move |conn| facts(conn, &user, &id)).await?;
    let mut thumbs = Vec::with_capacity(f.photos.len());
    for p in &f.photos {
        let uri = if p.received {
            match state
                .storage
                .get(&store::key(Size::Thumb, &p.expected_sha256))
                .await
            {
                Ok(bytes) => Some(format!(
                    "data:image/jpeg;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(&bytes)
                )),
                Err(e) => {
                    tracing::warn!(photo = %p.id, error = %e, "a thumbnail is missing from the record");
                    None
                }
            }
        } else {
            None
        };
        thumbs.push(uri);
    }
    let html = render(&f, &thumbs, &viewer, state.config.timezone, Utc::now());
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

fn time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

fn metres(m: f64) -> String {
    if m < 1000.0 {
        format!("{m:.0} m")
    } else {
        format!("{:.1} km", m / 1000.0)
    }
}

/// "中文 <span lang=en>English</span>": a label in both languages, Chinese first.
fn both(zh: &str, en: &str) -> String {
    if en.is_empty() || en == zh {
        esc(zh)
    } else {
        format!(
            "{} <span class=\"en\" lang=\"en\">{}</span>",
            esc(zh),
            esc(en)
        )
    }
}

fn body_name(b: ReviewBody) -> String {
    match b {
        ReviewBody::Department => both("县人口计生部门", "county programme department"),
        ReviewBody::Association => both("县计生协", "county association"),
    }
}

fn decision_name(d: DecisionKind) -> String {
    match d {
        DecisionKind::Approve => both("通过", "Approved"),
        DecisionKind::Reject => both("不通过", "Rejected"),
        DecisionKind::Return => both("退回验收员", "Returned to the inspector"),
    }
}

fn status_name(s: &str) -> String {
    match s {
        "awaiting_photos" => both("等待照片", "Awaiting photos"),
        "submitted" => both("待审核", "Awaiting review"),
        "awaiting_second_approval" => both("待另一单位批准", "Awaiting second approval"),
        "approved" => both("已通过", "Approved"),
        "rejected" => both("未通过", "Rejected"),
        "returned" => both("已退回", "Returned"),
        "cancelled" => both("已取消", "Cancelled"),
        other => esc(other),
    }
}

/// A flag's name in words (the console's words for it).
pub fn flag_name(code: &str) -> (&'static str, &'static str) {
    match code {
        "location.missing" => ("没有位置", "No position"),
        "location.outside_geofence" => ("位置在村外", "Outside the village"),
        "location.low_accuracy" => ("定位精度差", "Poor position accuracy"),
        "location.mock_suspected" => ("疑似虚拟定位", "Mock location suspected"),
        "photo.no_exif" => ("照片无元数据", "Photo without metadata"),
        "photo.gps_far" => ("照片位置偏远", "Photo taken far away"),
        "photo.time_outside_visit" => ("拍摄时间不符", "Photo time outside the visit"),
        "photo.duplicate" => ("重复照片", "Duplicate photo"),
        "photo.near_duplicate" => ("相似照片", "Near-duplicate photo"),
        "photo.edited" => ("照片经过编辑", "Edited photo"),
        "timing.clock_skew" => ("手机时间不准", "Phone clock wrong"),
        "timing.too_fast" => ("用时过短", "Implausibly fast"),
        _ => ("其他疑点", "Other flag"),
    }
}

fn severity_name(s: super::flags::Severity) -> String {
    match s {
        super::flags::Severity::Alert => both("警示", "alert"),
        super::flags::Severity::Warning => both("注意", "warning"),
        super::flags::Severity::Info => both("提示", "info"),
    }
}

fn answer_text(item: &Item, value: Option<&Value>) -> String {
    let Some(v) = value.filter(|v| !v.is_null()) else {
        return both("未回答", "no answer");
    };
    let option = |id: &str| {
        item.options
            .iter()
            .find(|o| o.id == id)
            .map(|o| both(&o.label.zh, &o.label.en))
            .unwrap_or_else(|| esc(id))
    };
    match (item.kind, v) {
        (ItemKind::YesNo, Value::Bool(true)) => both("是", "Yes"),
        (ItemKind::YesNo, Value::Bool(false)) => both("否", "No"),
        (ItemKind::Choice, Value::String(s)) => option(s),
        (ItemKind::MultiChoice, Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(option)
                    .unwrap_or_else(|| esc(&x.to_string()))
            })
            .collect::<Vec<_>>()
            .join("、"),
        (_, Value::String(s)) => esc(s),
        (_, other) => esc(&other.to_string()),
    }
}

/// The sketch: the village's geofence circle, the phone's position with its accuracy, and each
/// photo's EXIF position (numbered as in the photo list), on a local flat projection. `None`
/// when the village has no position.
pub fn sketch(
    village: &OrgUnit,
    location: Option<(f64, f64, f64)>,
    photos: &[PhotoRow],
) -> Option<String> {
    let (lat0, lon0) = (village.lat?, village.lon?);
    let radius = village.radius_m.unwrap_or(0.0).max(0.0);
    let k = lat0.to_radians().cos();
    let xy = |lat: f64, lon: f64| ((lon - lon0) * 111_320.0 * k, -(lat - lat0) * 110_540.0);
    let mut extent = radius.max(50.0);
    let located: Vec<(usize, f64, f64)> = photos
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((i + 1, p.lat?, p.lon?)))
        .collect();
    if let Some((lat, lon, acc)) = location {
        let (x, y) = xy(lat, lon);
        extent = extent.max(x.hypot(y) + acc.min(5_000.0));
    }
    for (_, lat, lon) in &located {
        let (x, y) = xy(*lat, *lon);
        extent = extent.max(x.hypot(y));
    }
    let extent = extent * 1.15;
    let scale = 140.0 / extent;
    let p = |x: f64, y: f64| (160.0 + x * scale, 160.0 + y * scale);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"sketch\" viewBox=\"0 0 320 320\" width=\"320\" height=\"320\" role=\"img\" \
         aria-label=\"位置示意图 Position sketch\" xmlns=\"http://www.w3.org/2000/svg\">\
         <rect x=\"0\" y=\"0\" width=\"320\" height=\"320\" fill=\"#fff\" stroke=\"#666\"/>\
         <circle class=\"geofence\" cx=\"160\" cy=\"160\" r=\"{:.1}\" fill=\"#e8f0fe\" stroke=\"#1a56db\" stroke-width=\"2\"/>\
         <path d=\"M155 160h10M160 155v10\" stroke=\"#1a56db\"/>",
        radius * scale
    );
    if let Some((lat, lon, acc)) = location {
        let (x, y) = p(xy(lat, lon).0, xy(lat, lon).1);
        let _ = write!(
            s,
            "<circle class=\"accuracy\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{:.1}\" fill=\"none\" stroke=\"#b45309\" stroke-dasharray=\"4 3\"/>\
             <circle class=\"phone\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"#b45309\"/>",
            (acc * scale).min(400.0)
        );
    }
    for (n, lat, lon) in &located {
        let (x, y) = xy(*lat, *lon);
        let (x, y) = p(x, y);
        let _ = write!(
            s,
            "<g class=\"photo-point\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"#047857\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#000\">{n}</text></g>",
            x - 4.0,
            y - 4.0,
            x + 6.0,
            y - 5.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"8\" y=\"312\" font-size=\"10\" fill=\"#333\">⌀ {} · {}</text></svg>",
        esc(&metres(radius * 2.0)),
        esc(&metres(extent * 2.0))
    );
    Some(s)
}

fn render(
    f: &Facts,
    thumbs: &[Option<String>],
    viewer: &str,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> String {
    let ins = &f.ins;
    let body = ins.body();
    let answers = body.as_ref().map(|b| b.answers.clone()).unwrap_or_default();
    let location = body
        .as_ref()
        .and_then(|b| b.location.as_ref())
        .map(|l| (l.lat, l.lon, l.accuracy_m));
    let evaluation: Value = serde_json::from_str(&ins.evaluation).unwrap_or(Value::Null);
    let results: Vec<Value> = evaluation
        .get("items")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let result_of = |id: &str| {
        results
            .iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
    };
    let centre = f.village.lat.zip(f.village.lon);
    let from_centre = |lat: f64, lon: f64| centre.map(|(a, b)| metres(haversine_m(a, b, lat, lon)));
    let mut h = String::with_capacity(16_384);
    let title = format!("{} · {}", f.village.name, f.declaration.quarter);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>星级村核查记录 · {}</title><link rel=\"stylesheet\" href=\"/app/record.css\"></head><body>\
         <main class=\"record\"><h1>星级村核查记录 <span class=\"en\" lang=\"en\">Verification record</span></h1>",
        esc(&title)
    );
    // The facts.
    let kind = match f.declaration.kind.as_str() {
        "renewal" => both("季度复核", "Renewal"),
        "upgrade" => both("申报升星", "Upgrade"),
        other => esc(other),
    };
    let _ = write!(
        h,
        "<section><h2>{}</h2><table class=\"facts\"><tbody>",
        both("基本情况", "Facts")
    );
    let row = |h: &mut String, k: String, v: String| {
        let _ = write!(h, "<tr><th scope=\"row\">{k}</th><td>{v}</td></tr>");
    };
    row(
        &mut h,
        both("村庄", "Village"),
        format!(
            "<span class=\"village-name\">{}</span> ({})",
            esc(&f.village.name),
            esc(&f.village.code)
        ),
    );
    row(
        &mut h,
        both("乡镇", "Township"),
        esc(f.township.as_deref().unwrap_or("—")),
    );
    row(&mut h, both("季度", "Quarter"), esc(&f.declaration.quarter));
    row(
        &mut h,
        both("申报", "Declared"),
        format!("{} ★ · {kind}", f.declaration.star_level),
    );
    row(
        &mut h,
        both("验收员", "Inspector"),
        format!("<span class=\"inspector\">{}</span>", esc(&f.inspector)),
    );
    row(
        &mut h,
        both("现场时间", "Visit"),
        format!(
            "{} – {}",
            time(ins.started_at.and_utc(), tz),
            time(ins.client_submitted_at.and_utc(), tz)
        ),
    );
    row(
        &mut h,
        both("提交时间", "Submitted"),
        ins.submitted_at
            .map(|t| time(t.and_utc(), tz))
            .unwrap_or_else(|| "—".into()),
    );
    row(
        &mut h,
        both("位置", "Position"),
        match location {
            Some((lat, lon, acc)) => format!(
                "{lat:.5}, {lon:.5} (±{acc:.0} m){}",
                from_centre(lat, lon)
                    .map(|d| format!(" · {} {d}", both("距村中心", "from the centre")))
                    .unwrap_or_default()
            ),
            None => both("无位置", "no position"),
        },
    );
    row(
        &mut h,
        both("得分", "Score"),
        format!(
            "{:.1} · {}",
            ins.score,
            if ins.passed {
                both("合格", "Pass")
            } else {
                both("不合格", "Fail")
            }
        ),
    );
    row(
        &mut h,
        both("状态", "Status"),
        format!(
            "{} · {} {}",
            status_name(&ins.status),
            both("修订", "revision"),
            ins.revision
        ),
    );
    h.push_str("</tbody></table></section>");

    // Decisions and the joint approvals.
    let _ = write!(
        h,
        "<section class=\"decisions\"><h2>{}</h2>",
        both("审核与决定", "Review and decision")
    );
    if f.approvals.is_empty() && f.decisions.is_empty() {
        let _ = write!(h, "<p>{}</p>", both("尚无决定", "No decision yet"));
    }
    if !f.approvals.is_empty() {
        let _ = write!(
            h,
            "<table class=\"approvals\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            both("批准单位", "Body"),
            both("批准人", "Approver"),
            both("时间", "Time"),
            both("意见", "Comment")
        );
        for a in &f.approvals {
            let _ = write!(
                h,
                "<tr><td>{} · {} {}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                body_name(a.body),
                both("修订", "revision"),
                a.revision,
                if a.withdrawn_at.is_some() {
                    format!(" ({})", both("已撤回", "withdrawn"))
                } else {
                    String::new()
                },
                esc(&a.approved_by_name),
                time(a.approved_at, tz),
                esc(&a.comment)
            );
        }
        h.push_str("</tbody></table>");
    }
    if !f.decisions.is_empty() {
        let _ = write!(
            h,
            "<table class=\"decision-list\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            both("决定", "Decision"),
            both("审核人", "Reviewer"),
            both("时间", "Time"),
            both("意见", "Comment")
        );
        for d in &f.decisions {
            let consequence = match d.consequence {
                Some(Consequence::Downgrade) => format!(" · {}", both("降级", "downgrade")),
                Some(Consequence::Revoke) => format!(" · {}", both("取消资格", "revoke")),
                None => String::new(),
            };
            let reopened = match (&d.reopened_at, &d.reopen_reason) {
                (Some(at), reason) => format!(
                    "<br>{} {} {}: {}",
                    both("已重新打开", "reopened"),
                    esc(d.reopened_by_name.as_deref().unwrap_or("")),
                    time(*at, tz),
                    esc(reason.as_deref().unwrap_or(""))
                ),
                _ => String::new(),
            };
            let _ = write!(
                h,
                "<tr><td>{}{consequence} · {} {}{reopened}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                decision_name(d.decision),
                both("修订", "revision"),
                d.revision,
                esc(&d.decided_by_name),
                time(d.decided_at, tz),
                esc(&d.comment)
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>");

    // Flags in words, grouped by code.
    let flags: Vec<Flag> = ins.all_flags(&f.photos);
    let _ = write!(
        h,
        "<section class=\"flags\"><h2>{} ({})</h2>",
        both("疑点", "Flags"),
        flags.len()
    );
    if flags.is_empty() {
        let _ = write!(h, "<p>{}</p>", both("无疑点", "No flags"));
    } else {
        h.push_str("<ul>");
        let mut codes: Vec<&str> = Vec::new();
        for fl in &flags {
            if !codes.contains(&fl.code.as_str()) {
                codes.push(&fl.code);
            }
        }
        for code in codes {
            let of: Vec<&Flag> = flags.iter().filter(|x| x.code == code).collect();
            let (zh, en) = flag_name(code);
            let _ = write!(
                h,
                "<li><strong>{} ×{}</strong> · {} <code>{}</code><ul>",
                both(zh, en),
                of.len(),
                severity_name(of[0].severity),
                esc(code)
            );
            for x in of {
                let photo_no = x
                    .photo_id
                    .as_ref()
                    .and_then(|id| f.photos.iter().position(|p| &p.id == id))
                    .map(|i| format!("{} {} · ", both("照片", "photo"), i + 1))
                    .unwrap_or_default();
                let _ = write!(
                    h,
                    "<li>{photo_no}<span lang=\"en\">{}</span></li>",
                    esc(&x.detail)
                );
            }
            h.push_str("</ul></li>");
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");

    // Answers with their checklist labels.
    let _ = write!(
        h,
        "<section class=\"answers\"><h2>{}</h2>",
        both("验收表与回答", "Checklist and answers")
    );
    match &f.template {
        None => {
            let _ = write!(
                h,
                "<p>{}</p>",
                both("验收表版本缺失", "The checklist version is missing")
            );
        }
        Some(t) => {
            let _ = write!(
                h,
                "<p>{} v{}</p>",
                both(&t.title.zh, &t.title.en),
                ins.checklist_version
            );
            for sec in &t.sections {
                let _ = write!(
                    h,
                    "<h3>{}</h3><table class=\"answer-table\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
                    both(&sec.title.zh, &sec.title.en),
                    both("检查项", "Item"),
                    both("回答", "Answer"),
                    both("结果", "Result")
                );
                for item in &sec.items {
                    let result = result_of(&item.id);
                    let answer = if item.kind == ItemKind::Photo {
                        let n = f.photos.iter().filter(|p| p.item == item.id).count();
                        format!("{n} {}", both("张照片", "photos"))
                    } else if item.kind == ItemKind::Computed {
                        answer_text(item, result.and_then(|r| r.get("value")))
                    } else {
                        answer_text(item, answers.get(&item.id))
                    };
                    let verdict = match result.and_then(|r| r.get("pass")).and_then(Value::as_bool)
                    {
                        Some(true) => both("合格", "Pass"),
                        Some(false) => format!("<strong>{}</strong>", both("不合格", "Fail")),
                        None => "—".into(),
                    };
                    let _ = write!(
                        h,
                        "<tr><td class=\"item-label\">{}</td><td>{answer}</td><td>{verdict}</td></tr>",
                        both(&item.label.zh, &item.label.en)
                    );
                }
                h.push_str("</tbody></table>");
            }
        }
    }
    h.push_str("</section>");

    // Photos with their positions and times, and the sketch.
    let labels = |item: &str| {
        f.template
            .as_ref()
            .and_then(|t| {
                t.sections
                    .iter()
                    .flat_map(|s| &s.items)
                    .find(|i| i.id == item)
            })
            .map(|i| both(&i.label.zh, &i.label.en))
            .unwrap_or_else(|| esc(item))
    };
    let _ = write!(
        h,
        "<section class=\"where\"><h2>{}</h2>",
        both("位置示意图", "Position sketch")
    );
    match sketch(&f.village, location, &f.photos) {
        Some(svg) => {
            h.push_str(&svg);
            let _ = write!(
                h,
                "<p class=\"legend\">{}</p>",
                both(
                    "蓝圈：村庄范围；橙点与虚线圈：手机位置与精度；绿点：照片拍摄位置（编号同下）。",
                    "Blue circle: the village's geofence; orange dot and dashed circle: the phone's position and accuracy; green squares: where the photos were taken (numbered as below)."
                )
            );
        }
        None => {
            let _ = write!(
                h,
                "<p>{}</p>",
                both(
                    "村庄没有登记位置，无法绘图。",
                    "The village has no position on record: no sketch."
                )
            );
        }
    }
    h.push_str("</section>");
    let _ = write!(
        h,
        "<section class=\"photos\"><h2>{} ({})</h2><ol class=\"photo-grid\">",
        both("照片", "Photos"),
        f.photos.len()
    );
    for (i, (p, thumb)) in f.photos.iter().zip(thumbs).enumerate() {
        let img = match thumb {
            Some(uri) => format!(
                "<img src=\"{}\" alt=\"{} {}\">",
                esc(uri),
                esc(&p.item),
                i + 1
            ),
            None => format!(
                "<span class=\"missing\">{}</span>",
                both("缺照片", "missing")
            ),
        };
        let when = p
            .taken_at
            .map(|t| time(t.and_utc(), tz))
            .unwrap_or_else(|| both("无拍摄时间", "no time"));
        let where_ = match (p.lat, p.lon) {
            (Some(lat), Some(lon)) => format!(
                "{lat:.5}, {lon:.5}{}",
                from_centre(lat, lon)
                    .map(|d| format!(" · {} {d}", both("距村中心", "from the centre")))
                    .unwrap_or_default()
            ),
            _ => both("无位置", "no position"),
        };
        // Downsized on the phone before sending: the original's size (both escape it).
        let downsized = p
            .downsized_from
            .as_deref()
            .map(|d| {
                let d = d.replace('x', "×");
                format!(
                    "<br>{}",
                    both(
                        &format!("手机端已缩小（原图 {d}）"),
                        &format!("downsized on the phone from {d}")
                    )
                )
            })
            .unwrap_or_default();
        let _ = write!(
            h,
            "<li><figure>{img}<figcaption><strong>{}</strong> {}<br>{when}<br>{where_}{downsized}</figcaption></figure></li>",
            i + 1,
            labels(&p.item)
        );
    }
    h.push_str("</ol></section>");

    // For the archive.
    let _ = write!(
        h,
        "<section class=\"archive\"><h2>{}</h2><p>{}: <code class=\"hash\">{}</code></p>\
         <p>{}: <code>{}</code> · {} {}</p><p>{} {} · {}</p>\
         <div class=\"signatures\"><p>{}：</p><p>{}：</p><p>{}：</p></div></section></main></body></html>",
        both("存档", "For the archive"),
        both("提交内容 SHA-256", "SHA-256 of the submission"),
        esc(&ins.body_hash),
        both("核查编号", "Inspection"),
        esc(&ins.id),
        both("修订", "revision"),
        ins.revision,
        both("打印", "Printed"),
        time(now, tz),
        esc(viewer),
        both("验收员签字", "Inspector's signature"),
        both("审核人签字", "Reviewer's signature"),
        both("日期", "Date")
    );
    h
}
