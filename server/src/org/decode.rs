//! The text of an imported CSV: UTF-8 (with or without a byte-order mark) or GB18030, the
//! encoding Excel and WPS use when they save a CSV on a Chinese Windows. Detected — bytes that
//! are valid UTF-8 are UTF-8, anything else is read as GB18030 — or stated. Bytes that do not
//! decode are refused with their line number, never replaced by `�`.

use std::fmt;

use crate::i18n::{Msg, Rule};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Gb18030,
}

impl Encoding {
    /// `utf-8`/`utf8` or `gb18030` (`gbk` and `gb2312`, its subsets, too), any case.
    pub fn parse(s: &str) -> Result<Self, Msg> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gb18030" | "gbk" | "gb2312" => Ok(Encoding::Gb18030),
            other => Err(Rule::EncodingName.with("got", other)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Gb18030 => "gb18030",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The 1-based line of byte offset `at`.
fn line_of(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The first line of `bytes` that is not GB18030, if any. A line break is one byte in GB18030
/// and never part of a multi-byte character, so lines decode one by one.
fn first_bad_gb18030_line(bytes: &[u8]) -> Option<usize> {
    bytes
        .split(|b| *b == b'\n')
        .position(|line| {
            encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(line)
                .is_none()
        })
        .map(|i| i + 1)
}

/// Decodes an import file: `stated` or detected. Returns the text (without a byte-order mark)
/// and the encoding read, or a message naming the first line that does not decode.
pub fn decode(bytes: &[u8], stated: Option<Encoding>) -> Result<(String, Encoding), Msg> {
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(bytes);
    let utf8 = std::str::from_utf8(bytes);
    match (stated, utf8) {
        (Some(Encoding::Utf8) | None, Ok(text)) => Ok((text.to_string(), Encoding::Utf8)),
        (Some(Encoding::Utf8), Err(e)) => {
            Err(Rule::NotUtf8.with("line", line_of(bytes, e.valid_up_to())))
        }
        (Some(Encoding::Gb18030), _) | (None, Err(_)) => {
            if let Some(line) = first_bad_gb18030_line(bytes) {
                return Err(match (stated, utf8) {
                    (None, Err(e)) => Rule::NeitherEncoding
                        .with("line", line_of(bytes, e.valid_up_to()).min(line)),
                    _ => Rule::NotGb18030.with("line", line),
                });
            }
            let (text, _) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            Ok((text.into_owned(), Encoding::Gb18030))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb(s: &str) -> Vec<u8> {
        encoding_rs::GB18030.encode(s).0.into_owned()
    }

    #[test]
    fn utf8_with_or_without_a_bom_and_gb18030_are_detected() {
        let text = "code,name\nT1,新镇\nV1,王家庄村\n";
        assert_eq!(
            decode(text.as_bytes(), None).unwrap(),
            (text.to_string(), Encoding::Utf8)
        );
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(decode(&with_bom, None).unwrap().0, text);
        let gbk = gb(text);
        assert_ne!(gbk, text.as_bytes());
        assert_eq!(
            decode(&gbk, None).unwrap(),
            (text.to_string(), Encoding::Gb18030)
        );
        assert_eq!(decode(&gbk, Some(Encoding::Gb18030)).unwrap().0, text);
    }

    #[test]
    fn undecodable_bytes_are_refused_with_their_line() {
        let gbk = gb("code,name\nT1,新镇\n");
        let e = decode(&gbk, Some(Encoding::Utf8)).unwrap_err().to_string();
        assert!(e.starts_with("line 2: not UTF-8"), "{e}");
        assert!(e.contains("gb18030"), "{e}");
        // 0xFF is neither UTF-8 nor GB18030.
        let bad = b"code,name\nT1,ok\nV1,\xFF\xFF\n";
        let e = decode(bad, None).unwrap_err().to_string();
        assert!(e.starts_with("line 3: neither UTF-8 nor GB18030"), "{e}");
        let e = decode(bad, Some(Encoding::Gb18030))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "line 3: not GB18030");
    }

    #[test]
    fn encodings_parse() {
        assert_eq!(Encoding::parse("UTF-8"), Ok(Encoding::Utf8));
        assert_eq!(Encoding::parse("gbk"), Ok(Encoding::Gb18030));
        assert!(Encoding::parse("latin1").is_err());
    }
}
