//! Figures as people read them (docs/glossary.md, "Units and formats"): distances in 米/公里
//! (m/km), durations in 分钟/小时/天 (min/h/d).

use super::Lang;

/// A distance: whole metres under 1 km, else kilometres (one decimal under 100 km).
pub fn distance(metres: f64, lang: Lang) -> String {
    let m = metres.max(0.0);
    let (value, unit_zh, unit_en) = if m < 1000.0 {
        (format!("{}", m.round() as i64), "米", "m")
    } else if m < 100_000.0 {
        let km = (m / 100.0).round() / 10.0;
        let text = if km.fract() == 0.0 {
            format!("{}", km as i64)
        } else {
            format!("{km:.1}")
        };
        (text, "公里", "km")
    } else {
        (group((m / 1000.0).round() as i64, lang), "公里", "km")
    };
    match lang {
        Lang::Zh => format!("{value} {unit_zh}"),
        Lang::En => format!("{value} {unit_en}"),
    }
}

/// A duration in minutes: minutes under an hour, hours and minutes under a day, days and
/// hours beyond (the two largest units).
pub fn duration_minutes(minutes: i64, lang: Lang) -> String {
    let m = minutes.unsigned_abs() as i64;
    let (d, h, min) = (m / 1440, (m % 1440) / 60, m % 60);
    let parts: Vec<(i64, &str, &str)> = if d > 0 {
        vec![(d, "天", "d"), (h, "小时", "h")]
    } else if h > 0 {
        vec![(h, "小时", "h"), (min, "分钟", "min")]
    } else {
        vec![(min, "分钟", "min")]
    };
    let parts: Vec<String> = parts
        .iter()
        .enumerate()
        .filter(|(i, (n, _, _))| *i == 0 || *n > 0)
        .map(|(_, (n, zh, en))| match lang {
            Lang::Zh => format!("{} {zh}", group(*n, lang)),
            Lang::En => format!("{} {en}", group(*n, lang)),
        })
        .collect();
    parts.join(" ")
}

/// A duration in seconds, as [`duration_minutes`] but in seconds under a minute.
pub fn duration_seconds(seconds: i64, lang: Lang) -> String {
    let s = seconds.unsigned_abs() as i64;
    if s < 60 {
        return match lang {
            Lang::Zh => format!("{s} 秒"),
            Lang::En => format!("{s} s"),
        };
    }
    duration_minutes(s / 60, lang)
}

/// A whole number with thousands separators (`9,522,873`).
pub fn group(n: i64, _lang: Lang) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_read_in_metres_or_kilometres() {
        assert_eq!(distance(52.4, Lang::Zh), "52 米");
        assert_eq!(distance(52.4, Lang::En), "52 m");
        assert_eq!(distance(999.4, Lang::En), "999 m");
        assert_eq!(distance(1234.0, Lang::Zh), "1.2 公里");
        assert_eq!(distance(2000.0, Lang::En), "2 km");
        assert_eq!(distance(8_191_488.0, Lang::Zh), "8,191 公里");
        assert_eq!(distance(-3.0, Lang::En), "0 m");
    }

    #[test]
    fn durations_read_in_their_two_largest_units() {
        assert_eq!(duration_minutes(6, Lang::En), "6 min");
        assert_eq!(duration_minutes(6, Lang::Zh), "6 分钟");
        assert_eq!(duration_minutes(60, Lang::Zh), "1 小时");
        assert_eq!(duration_minutes(125, Lang::En), "2 h 5 min");
        assert_eq!(duration_minutes(9_522_873, Lang::Zh), "6,613 天 2 小时");
        assert_eq!(duration_minutes(-90, Lang::En), "1 h 30 min");
        assert_eq!(duration_minutes(3 * 1440 + 4 * 60, Lang::Zh), "3 天 4 小时");
        assert_eq!(duration_seconds(45, Lang::Zh), "45 秒");
        assert_eq!(duration_seconds(3600, Lang::En), "1 h");
    }

    #[test]
    fn numbers_group_by_thousands() {
        assert_eq!(group(0, Lang::En), "0");
        assert_eq!(group(999, Lang::En), "999");
        assert_eq!(group(1000, Lang::En), "1,000");
        assert_eq!(group(-1_234_567, Lang::Zh), "-1,234,567");
    }
}
