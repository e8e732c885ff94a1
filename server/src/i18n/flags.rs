//! Integrity flags in people's words: each code's name and its message with the figures behind
//! it (米/公里, 分钟/小时/天, the other village's name), in Chinese or English.

use serde_json::{Map, Value};

use super::format::{distance, duration_seconds};
use super::Lang;
use crate::inspection::flags::{codes, Flag};

/// Every flag code, with its name in Chinese and English.
pub const LABELS: &[(&str, &str, &str)] = &[
    (codes::LOCATION_MISSING, "没有位置", "No position"),
    (
        codes::LOCATION_OUTSIDE_GEOFENCE,
        "位置在村外",
        "Outside the village",
    ),
    (
        codes::LOCATION_LOW_ACCURACY,
        "定位精度差",
        "Poor position accuracy",
    ),
    (
        codes::LOCATION_MOCK_SUSPECTED,
        "疑似虚拟定位",
        "Mock location suspected",
    ),
    (
        codes::PHOTO_NO_EXIF,
        "照片无元数据",
        "Photo without metadata",
    ),
    (codes::PHOTO_GPS_FAR, "照片位置偏远", "Photo taken far away"),
    (
        codes::PHOTO_TIME_OUTSIDE_VISIT,
        "拍摄时间不符",
        "Photo time outside the visit",
    ),
    (codes::PHOTO_DUPLICATE, "重复照片", "Duplicate photo"),
    (
        codes::PHOTO_NEAR_DUPLICATE,
        "相似照片",
        "Near-duplicate photo",
    ),
    (codes::PHOTO_EDITED, "照片经过编辑", "Edited photo"),
    (
        codes::TIMING_CLOCK_SKEW,
        "手机时间不准",
        "Phone clock is off",
    ),
    (codes::TIMING_TOO_FAST, "用时过短", "Implausibly fast"),
];

/// A flag code's name; an unknown code reads as a flag (never as its raw code).
pub fn label(code: &str, lang: Lang) -> &'static str {
    LABELS.iter().find(|(c, _, _)| *c == code).map_or(
        if lang == Lang::Zh { "疑点" } else { "Flag" },
        |(_, zh, en)| if lang == Lang::Zh { zh } else { en },
    )
}

fn num(p: &Map<String, Value>, key: &str) -> Option<f64> {
    p.get(key).and_then(Value::as_f64)
}

fn secs(p: &Map<String, Value>, key: &str) -> Option<i64> {
    p.get(key).and_then(Value::as_i64)
}

/// The flag for a person: its figures formatted, in `lang`.
pub fn message(flag: &Flag, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let p = &flag.params;
    let m = |x: f64| distance(x, lang);
    let d = |s: i64| duration_seconds(s, lang);
    let text = match flag.code.as_str() {
        codes::LOCATION_MISSING => Some(if zh {
            "手机没有随验收上传位置".to_string()
        } else {
            "the phone sent no position with this inspection".to_string()
        }),
        codes::LOCATION_OUTSIDE_GEOFENCE => match (
            num(p, "distance_m"),
            num(p, "radius_m"),
            num(p, "accuracy_m"),
        ) {
            (Some(dist), Some(r), Some(acc)) => Some(if zh {
                format!(
                    "手机位置距村中心 {}，在 {} 的地理围栏外（定位精度 {}）",
                    m(dist),
                    m(r),
                    m(acc)
                )
            } else {
                format!(
                    "the phone was {} from the village centre, outside its {} geofence (accuracy {})",
                    m(dist),
                    m(r),
                    m(acc)
                )
            }),
            _ => None,
        },
        codes::LOCATION_LOW_ACCURACY => match (num(p, "accuracy_m"), num(p, "limit_m")) {
            (Some(acc), Some(limit)) => Some(if zh {
                format!("定位精度只有 {}（超过 {} 即提示）", m(acc), m(limit))
            } else {
                format!(
                    "the position is only accurate to {} (flagged above {})",
                    m(acc),
                    m(limit)
                )
            }),
            _ => None,
        },
        codes::LOCATION_MOCK_SUSPECTED => {
            p.get("mock_provider")
                .and_then(Value::as_bool)
                .map(|mock| match (mock, zh) {
                    (true, true) => "手机报告位置来自模拟定位程序".to_string(),
                    (true, false) => "the phone reported a mock location provider".to_string(),
                    (false, true) => "定位精度为 0 米，真实的定位不会如此".to_string(),
                    (false, false) => {
                        "the position claims an accuracy of 0 m, which no real receiver reports"
                            .to_string()
                    }
                })
        }
        codes::TIMING_CLOCK_SKEW => {
            let mut parts = Vec::new();
            if let Some(s) = secs(p, "ahead_s") {
                parts.push(if zh {
                    format!("手机提交时间比服务器快 {}", d(s))
                } else {
                    format!(
                        "the phone's submission time is {} ahead of the server",
                        d(s)
                    )
                });
            }
            if let Some(s) = secs(p, "started_after_s") {
                parts.push(if zh {
                    format!("开始时间比提交时间晚 {}", d(s))
                } else {
                    format!("started {} after it was submitted", d(s))
                });
            }
            if let Some(s) = secs(p, "captured_after_s") {
                parts.push(if zh {
                    format!("定位时间比服务器收到时晚 {}", d(s))
                } else {
                    format!(
                        "the position was captured {} after the server received it",
                        d(s)
                    )
                });
            }
            (!parts.is_empty()).then(|| {
                if zh {
                    format!("手机时间不准：{}（允许误差 5 分钟）", parts.join("；"))
                } else {
                    format!("phone clock off: {} (tolerance 5 min)", parts.join("; "))
                }
            })
        }
        codes::TIMING_TOO_FAST => match (secs(p, "taken_s"), secs(p, "items"), secs(p, "needed_s"))
        {
            (Some(t), Some(items), Some(n)) => Some(if zh {
                format!(
                    "验收表 {} 就填完了；{} 个项目至少需要 {}",
                    d(t),
                    items,
                    d(n)
                )
            } else {
                format!(
                    "the checklist was completed in {}; {} items need at least {}",
                    d(t),
                    items,
                    d(n)
                )
            }),
            _ => None,
        },
        codes::PHOTO_NO_EXIF => Some(match (p.contains_key("unreadable"), zh) {
            (true, true) => "照片的拍摄信息（EXIF）无法完整读取".to_string(),
            (true, false) => "the photo's EXIF could not be read in full".to_string(),
            (false, true) => "照片没有拍摄信息（EXIF）：没有拍摄时间、位置和相机".to_string(),
            (false, false) => {
                "the photo carries no EXIF: no capture time, position or camera".to_string()
            }
        }),
        codes::PHOTO_GPS_FAR => {
            let mut parts = Vec::new();
            if let (Some(x), Some(r)) = (num(p, "from_village_m"), num(p, "radius_m")) {
                parts.push(if zh {
                    format!("距村中心 {}（地理围栏 {}）", m(x), m(r))
                } else {
                    format!("{} from the village centre (geofence {})", m(x), m(r))
                });
            }
            if let (Some(x), Some(t)) = (num(p, "from_device_m"), num(p, "tolerance_m")) {
                parts.push(if zh {
                    format!("距手机位置 {}（允许 {}）", m(x), m(t))
                } else {
                    format!("{} from the phone's position (tolerance {})", m(x), m(t))
                });
            }
            (!parts.is_empty()).then(|| {
                if zh {
                    format!("照片的拍摄位置{}", parts.join("，"))
                } else {
                    format!("the photo was taken {}", parts.join(" and "))
                }
            })
        }
        codes::PHOTO_TIME_OUTSIDE_VISIT => {
            let allowed = secs(p, "allowed_min").unwrap_or(0) * 60;
            match (secs(p, "before_s"), secs(p, "after_s")) {
                (Some(s), _) => {
                    Some(if zh {
                        format!("照片拍摄于验收开始前 {}（最多允许 {}）", d(s), d(allowed))
                    } else {
                        format!("the photo was taken {} before the inspection started (up to {} allowed)", d(s), d(allowed))
                    })
                }
                (None, Some(s)) => Some(if zh {
                    format!("照片拍摄于验收提交后 {}（最多允许 {}）", d(s), d(allowed))
                } else {
                    format!("the photo was taken {} after the inspection was submitted (up to {} allowed)", d(s), d(allowed))
                }),
                _ => None,
            }
        }
        codes::PHOTO_DUPLICATE | codes::PHOTO_NEAR_DUPLICATE => {
            let near = flag.code == codes::PHOTO_NEAR_DUPLICATE;
            let village = p.get("village").and_then(Value::as_str);
            Some(match (village, zh, near) {
                (Some(v), true, false) => format!("与{v}另一次验收的照片完全相同"),
                (Some(v), true, true) => format!("与{v}另一次验收的照片几乎相同"),
                (None, true, false) => "与另一次验收的照片完全相同".to_string(),
                (None, true, true) => "与另一次验收的照片几乎相同".to_string(),
                (Some(v), false, false) => {
                    format!("identical to a photo of another inspection in {v}")
                }
                (Some(v), false, true) => {
                    format!("nearly identical to a photo of another inspection in {v}")
                }
                (None, false, false) => "identical to a photo of another inspection".to_string(),
                (None, false, true) => {
                    "nearly identical to a photo of another inspection".to_string()
                }
            })
        }
        codes::PHOTO_EDITED => p.get("editor").and_then(Value::as_str).map(|e| {
            if zh {
                format!("照片经 {e} 编辑保存过")
            } else {
                format!("the photo was saved by {e}")
            }
        }),
        _ => None,
    };
    text.unwrap_or_else(|| label(&flag.code, lang).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flag(code: &str, params: Value) -> Flag {
        Flag {
            code: code.into(),
            severity: crate::inspection::flags::Severity::Warning,
            item: None,
            photo_id: None,
            detail: String::new(),
            params: params.as_object().cloned().unwrap_or_default(),
        }
    }

    fn has_han(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn every_code_reads_in_both_languages_without_its_raw_code() {
        for (code, _, _) in LABELS {
            for params in [
                json!({}),
                json!({"distance_m": 8191488.0, "radius_m": 1500.0,
                "accuracy_m": 12.0, "before_s": 571372380, "allowed_min": 30, "village": "王家庄村",
                "ahead_s": 400, "taken_s": 30, "items": 12, "needed_s": 120, "editor": "美图秀秀",
                "from_village_m": 12000.0, "limit_m": 100.0, "mock_provider": true}),
            ] {
                let f = flag(code, params);
                let zh = message(&f, Lang::Zh);
                let en = message(&f, Lang::En);
                assert!(has_han(&zh), "{code}: {zh}");
                assert!(!zh.contains(code) && !en.contains(code), "{code}");
                assert!(
                    !has_han(&en) || en.contains("王家庄村") || en.contains("美图"),
                    "{code}: {en}"
                );
            }
        }
    }

    #[test]
    fn figures_read_in_metres_kilometres_and_days() {
        let far = flag(
            codes::LOCATION_OUTSIDE_GEOFENCE,
            json!({"distance_m": 8191488.0, "radius_m": 1500.0, "accuracy_m": 12.0}),
        );
        assert_eq!(
            message(&far, Lang::Zh),
            "手机位置距村中心 8,191 公里，在 1.5 公里 的地理围栏外（定位精度 12 米）"
        );
        let old = flag(
            codes::PHOTO_TIME_OUTSIDE_VISIT,
            json!({"before_s": 9_522_873 * 60, "allowed_min": 30}),
        );
        assert_eq!(
            message(&old, Lang::Zh),
            "照片拍摄于验收开始前 6,613 天 2 小时（最多允许 30 分钟）"
        );
        let dup = flag(codes::PHOTO_DUPLICATE, json!({"village": "王家庄村"}));
        assert_eq!(
            message(&dup, Lang::Zh),
            "与王家庄村另一次验收的照片完全相同"
        );
    }
}
