//! `raw`: plain log lines, split by a header template or by auto-detection.
//!
//! Option `log_format` is either a loghub header template such as
//! `<Date> <Time> <Level> <Component>: <Content>` (only `<Content>` becomes the message; the
//! other fields become labels, `<Level>` the severity, `<Date>`/`<Time>`/`<Timestamp>` the time)
//! or `auto` (the default), which recognises, line by line, JSON objects, klog, RFC 5424 and
//! RFC 3164 syslog, log4j-style lines, nginx/apache access logs and logfmt. A line that does not
//! fit is kept whole as the message and counted.

use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::{DecodeReport, opt_str, parse_time_text, text_lines};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::log::{LogRecord, Severity};
use crate::time::Timestamp;

/// A compiled loghub-style header template.
#[derive(Debug, Clone)]
pub struct HeaderFormat {
    regex: Regex,
    fields: Vec<String>,
    /// When every fragment is plain text (spaces aside) and `<Content>` comes last: the
    /// fragments, split without the regex (several times faster, same result).
    plain: Option<Vec<Vec<Piece>>>,
}

/// A piece of a plain fragment: literal text or a run of whitespace.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Space,
}

/// A fragment as pieces, or `None` when it holds a regular-expression construct.
fn plain_fragment(lit: &str) -> Option<Vec<Piece>> {
    let mut out: Vec<Piece> = Vec::new();
    let mut chars = lit.chars();
    while let Some(c) = chars.next() {
        let ch = match c {
            ' ' => {
                if out.last() != Some(&Piece::Space) {
                    out.push(Piece::Space);
                }
                continue;
            }
            '\\' => match chars.next() {
                Some(e) if !e.is_alphanumeric() => e,
                _ => return None,
            },
            '(' | ')' | '[' | ']' | '{' | '}' | '?' | '*' | '+' | '|' | '^' | '$' | '.' => return None,
            c => c,
        };
        match out.last_mut() {
            Some(Piece::Text(t)) => t.push(ch),
            _ => out.push(Piece::Text(ch.to_string())),
        }
    }
    Some(out)
}

/// Where `pieces` match leftmost in `s` at or after `from`: `(start, end)`.
fn find_pieces(s: &str, from: usize, pieces: &[Piece]) -> Option<(usize, usize)> {
    let mut start = from;
    while start <= s.len() {
        if let Some(end) = match_pieces_at(s, start, pieces) {
            return Some((start, end));
        }
        // next char boundary
        start += s.get(start..)?.chars().next()?.len_utf8();
    }
    None
}

/// The end of `pieces` matched exactly at `at`, whitespace runs greedy.
fn match_pieces_at(s: &str, at: usize, pieces: &[Piece]) -> Option<usize> {
    let mut i = at;
    for p in pieces {
        match p {
            Piece::Text(t) => {
                if !s.get(i..)?.starts_with(t.as_str()) {
                    return None;
                }
                i += t.len();
            }
            Piece::Space => {
                let rest = s.get(i..)?;
                let taken = rest.len() - rest.trim_start().len();
                if taken == 0 {
                    return None;
                }
                i += taken;
            }
        }
    }
    Some(i)
}

impl HeaderFormat {
    /// Compiles a template in the loghub convention: fields are `<Name>`; the text between them
    /// is a regular-expression fragment (`\[` is a bracket, `(\[<PID>\])?` an optional part),
    /// in which a run of spaces matches one or more whitespace characters. Fields match lazily,
    /// so `<Content>` takes the rest of the line.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the template has no `<Content>` field or is malformed.
    pub fn parse(template: &str) -> Result<Self> {
        static FIELD: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"<([A-Za-z_][A-Za-z0-9_]*)>").ok());
        let Some(field_re) = FIELD.as_ref() else {
            return Err(Error::invalid("log format", "internal pattern failed to compile"));
        };
        let mut pattern = String::from("^");
        let mut fields = Vec::new();
        let mut last = 0;
        for m in field_re.captures_iter(template) {
            let (Some(whole), Some(name)) = (m.get(0), m.get(1)) else {
                continue;
            };
            let lit = template.get(last..whole.start()).unwrap_or_default();
            pattern.push_str(&literal(lit));
            let name = name.as_str();
            if fields.iter().any(|f| f == name) {
                return Err(Error::invalid("log format", format!("field <{name}> appears twice in `{template}`")));
            }
            if name == "Content" {
                pattern.push_str("(?P<Content>.*?)");
            } else {
                pattern.push_str(&format!("(?P<{name}>.*?)"));
            }
            fields.push(name.to_string());
            last = whole.end();
        }
        pattern.push_str(&literal(template.get(last..).unwrap_or_default()));
        pattern.push_str(r"\s*$");
        if !fields.iter().any(|f| f == "Content") {
            return Err(Error::invalid("log format", format!("`{template}` has no <Content> field")));
        }
        let regex = Regex::new(&pattern).map_err(|e| Error::invalid("log format", format!("`{template}`: {e}")))?;
        // the plain form: fragments before each field, Content last with nothing after it
        let plain = (fields.last().is_some_and(|f| f == "Content") && template.get(last..).is_some_and(str::is_empty))
            .then(|| {
                let mut frags = Vec::new();
                let mut prev = 0;
                for m in field_re.find_iter(template) {
                    frags.push(plain_fragment(template.get(prev..m.start())?)?);
                    prev = m.end();
                }
                Some(frags)
            })
            .flatten();
        Ok(Self { regex, fields, plain })
    }

    /// The field names in template order.
    #[must_use]
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Splits a line into `(field, value)` pairs, or `None` when it does not fit.
    #[must_use]
    pub fn split<'a>(&self, line: &'a str) -> Option<Vec<(&str, &'a str)>> {
        // greedy whitespace can fail where the regex would give some back to an empty field;
        // the regex settles those (rare) lines
        if let Some(frags) = &self.plain
            && let Some(fields) = self.split_plain(frags, line)
        {
            return Some(fields);
        }
        self.split_regex(line)
    }

    /// [`Self::split`] without the regex: each field ends where the next fragment first
    /// matches (fields are lazy); `<Content>` takes the rest, trailing whitespace trimmed.
    fn split_plain<'a>(&self, frags: &[Vec<Piece>], line: &'a str) -> Option<Vec<(&str, &'a str)>> {
        let mut out = Vec::with_capacity(self.fields.len());
        // the first fragment is anchored at the start
        let mut pos = match_pieces_at(line, 0, frags.first()?)?;
        for (k, name) in self.fields.iter().enumerate() {
            if let Some(next) = frags.get(k + 1) {
                let (s, e) = find_pieces(line, pos, next)?;
                out.push((name.as_str(), line.get(pos..s)?));
                pos = e;
            } else {
                out.push((name.as_str(), line.get(pos..)?.trim_end()));
            }
        }
        Some(out)
    }

    fn split_regex<'a>(&self, line: &'a str) -> Option<Vec<(&str, &'a str)>> {
        let caps = self.regex.captures(line)?;
        Some(self.fields.iter().filter_map(|f| caps.name(f).map(|m| (f.as_str(), m.as_str()))).collect())
    }
}

/// A regular-expression fragment between fields, with runs of spaces made `\s+`.
fn literal(lit: &str) -> String {
    let mut out = String::new();
    let mut in_space = false;
    for c in lit.chars() {
        if c == ' ' {
            if !in_space {
                out.push_str(r"\s+");
            }
            in_space = true;
        } else {
            in_space = false;
            out.push(c);
        }
    }
    out
}

/// Builds a record from header fields.
fn record_from_fields(fields: &[(&str, &str)], source: &Arc<str>, line: u64) -> LogRecord {
    let mut labels = Labels::new();
    let mut message = String::new();
    let mut level = None;
    let mut date = None;
    let mut time = None;
    let mut stamp = None;
    for &(k, v) in fields {
        match k {
            "Content" => message = v.to_string(),
            "Level" => {
                level = Severity::parse(v);
                labels.insert(k, v);
            }
            "Date" => {
                date = Some(v);
                labels.insert(k, v);
            }
            "Time" => {
                time = Some(v);
                labels.insert(k, v);
            }
            "Timestamp" => {
                stamp = Some(v);
                labels.insert(k, v);
            }
            _ => {
                labels.insert(k, v);
            }
        }
    }
    let timestamp = match (stamp, date, time) {
        (Some(s), _, _) => parse_time_text(s),
        (None, Some(d), Some(t)) => parse_time_text(&format!("{d} {t}")),
        (None, Some(d), None) => parse_time_text(d),
        _ => None,
    };
    let service = labels.service(None).map(str::to_string);
    LogRecord::new(source, line, timestamp, service.as_deref(), level, labels, message)
}

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new($pat).ok());
    };
}

re!(
    KLOG,
    r"^(?P<lvl>[IWEF])(?P<mmdd>\d{4}) (?P<time>\d{2}:\d{2}:\d{2}\.\d+)\s+(?P<pid>\d+) (?P<file>[^\]]+)\] (?P<msg>.*)$"
);
re!(
    SYSLOG5424,
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) (?P<sd>-|\[.*?\]) ?(?P<msg>.*)$"
);
re!(
    SYSLOG3164,
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) (?P<host>\S+) (?P<app>[^:\[\s]+)(?:\[(?P<pid>\d+)\])?: (?P<msg>.*)$"
);
re!(
    LOG4J,
    r"^(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\s+\[?(?P<lvl>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL|SEVERE)\]?\s+(?:\[(?P<thread>[^\]]*)\]\s+)?(?:(?P<logger>[\w.$-]+)(?:\s+-|:)\s+)?(?P<msg>.*)$"
);
re!(
    ACCESS,
    r#"^(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<req>[^"]*)" (?P<status>\d{3}) (?P<bytes>\S+)(?: "(?P<referer>[^"]*)" "(?P<ua>[^"]*)")?"#
);
re!(LOGFMT_PAIR, r#"(?P<k>[A-Za-z_][\w.-]*)=(?P<v>"(?:[^"\\]|\\.)*"|\S*)"#);

fn cap<'a>(c: &regex::Captures<'a>, n: &str) -> Option<&'a str> {
    c.name(n).map(|m| m.as_str())
}

/// Auto-detects the layout of one line; `None` when nothing fits.
fn auto_record(line: &str, source: &Arc<str>, n: u64, options: &SourceOptions) -> Option<LogRecord> {
    let t = line.trim_start();
    let rec = |labels: Labels, ts: Option<Timestamp>, level: Option<Severity>, msg: &str, service: Option<&str>| {
        let service = service.map(str::to_string).or_else(|| labels.service(None).map(str::to_string));
        LogRecord::new(source, n, ts, service.as_deref(), level, labels, msg.to_string())
    };
    if t.starts_with('{')
        && let Ok(v @ serde_json::Value::Object(_)) = serde_json::from_str::<serde_json::Value>(t)
    {
        return Some(super::jsonl::record_from_json(&v, source, n, options));
    }
    if let Some(c) = KLOG.as_ref().and_then(|r| r.captures(t)) {
        let mut l = Labels::new();
        l.insert("format", "klog");
        l.insert("file", cap(&c, "file").unwrap_or_default());
        let level = cap(&c, "lvl").and_then(Severity::parse);
        return Some(rec(l, None, level, cap(&c, "msg").unwrap_or_default(), None));
    }
    if let Some(c) = SYSLOG5424.as_ref().and_then(|r| r.captures(t)) {
        let mut l = Labels::new();
        l.insert("format", "syslog");
        l.insert("host", cap(&c, "host").unwrap_or_default());
        let app = cap(&c, "app").filter(|a| *a != "-");
        let level = cap(&c, "pri").and_then(syslog_severity);
        let ts = cap(&c, "ts").and_then(parse_time_text);
        return Some(rec(l, ts, level, cap(&c, "msg").unwrap_or_default(), app));
    }
    if let Some(c) = SYSLOG3164.as_ref().and_then(|r| r.captures(t)) {
        let mut l = Labels::new();
        l.insert("format", "syslog");
        l.insert("host", cap(&c, "host").unwrap_or_default());
        let level = cap(&c, "pri").and_then(syslog_severity);
        return Some(rec(l, None, level, cap(&c, "msg").unwrap_or_default(), cap(&c, "app")));
    }
    if let Some(c) = LOG4J.as_ref().and_then(|r| r.captures(t)) {
        let mut l = Labels::new();
        l.insert("format", "log4j");
        if let Some(th) = cap(&c, "thread") {
            l.insert("thread", th);
        }
        if let Some(lg) = cap(&c, "logger") {
            l.insert("logger", lg);
        }
        let ts = cap(&c, "ts").and_then(parse_time_text);
        let level = cap(&c, "lvl").and_then(Severity::parse);
        return Some(rec(l, ts, level, cap(&c, "msg").unwrap_or_default(), None));
    }
    if let Some(c) = ACCESS.as_ref().and_then(|r| r.captures(t)) {
        let mut l = Labels::new();
        l.insert("format", "access");
        let status = cap(&c, "status").unwrap_or_default();
        l.insert("status", status);
        l.insert("client", cap(&c, "ip").unwrap_or_default());
        let level = if status.starts_with('5') { Some(Severity::Error) } else { Some(Severity::Info) };
        let ts = cap(&c, "ts").and_then(parse_time_text);
        let msg = format!("{} {} {}", cap(&c, "req").unwrap_or_default(), status, cap(&c, "bytes").unwrap_or_default());
        return Some(rec(l, ts, level, &msg, None));
    }
    let pairs: Vec<(String, String)> = LOGFMT_PAIR
        .as_ref()
        .map(|r| {
            r.captures_iter(t)
                .filter_map(|c| {
                    let k = cap(&c, "k")?;
                    let v = cap(&c, "v")?;
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .map_or_else(|| v.to_string(), |q| q.replace("\\\"", "\""));
                    Some((k.to_string(), v))
                })
                .collect()
        })
        .unwrap_or_default();
    if pairs.len() >= 2 && pairs.iter().any(|(k, _)| matches!(k.as_str(), "msg" | "message" | "level" | "lvl")) {
        let mut l = Labels::new();
        l.insert("format", "logfmt");
        let mut msg = String::new();
        let mut level = None;
        let mut ts = None;
        for (k, v) in pairs {
            match k.as_str() {
                "msg" | "message" => msg = v,
                "level" | "lvl" => level = Severity::parse(&v),
                "ts" | "time" | "timestamp" => ts = parse_time_text(&v),
                _ => {
                    l.insert(k, v);
                }
            }
        }
        return Some(rec(l, ts, level, &msg, None));
    }
    None
}

fn syslog_severity(pri: &str) -> Option<Severity> {
    let p: u32 = pri.parse().ok()?;
    Some(match p % 8 {
        0..=2 => Severity::Critical,
        3 => Severity::Error,
        4 => Severity::Warn,
        5 => Severity::Notice,
        6 => Severity::Info,
        _ => Severity::Debug,
    })
}

/// Parses raw log lines one at a time, exactly as [`decode`] does for a whole buffer: for
/// streaming very large files without holding them in memory.
#[derive(Debug, Clone)]
pub struct LineParser {
    header: Option<HeaderFormat>,
    source: Arc<str>,
    options: SourceOptions,
    no_labels: Arc<Labels>,
}

impl LineParser {
    /// A parser for `source` (the name records carry) with a `log_format` of `auto` or a
    /// loghub header template.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `log_format` is not a valid header template.
    pub fn new(source: &str, log_format: &str) -> Result<Self> {
        let mut options = SourceOptions::new();
        options.insert("log_format".into(), log_format.into());
        Self::with_options(source, &options)
    }

    fn with_options(source: &str, options: &SourceOptions) -> Result<Self> {
        let format = opt_str(options, "log_format").unwrap_or("auto");
        let header = if format == "auto" { None } else { Some(HeaderFormat::parse(format)?) };
        Ok(Self { header, source: source.into(), options: options.clone(), no_labels: Arc::new(Labels::new()) })
    }

    /// The record of line `n` (1-based) with text `text` (no line end), and whether the line fit
    /// the format; a line that does not fit is kept whole as the message.
    #[must_use]
    pub fn parse(&self, n: u64, text: &str) -> (LogRecord, bool) {
        let parsed = match &self.header {
            Some(h) => h.split(text).map(|f| record_from_fields(&f, &self.source, n)),
            None => auto_record(text, &self.source, n, &self.options),
        };
        match parsed {
            Some(r) => (r, true),
            None => (
                LogRecord {
                    source: Arc::clone(&self.source),
                    line: n,
                    timestamp: None,
                    service: None,
                    level: None,
                    labels: Arc::clone(&self.no_labels),
                    message: text.to_string(),
                },
                false,
            ),
        }
    }
}

/// Decodes raw lines.
///
/// # Errors
/// [`Error::Decode`] when the `log_format` option is not a valid header template.
pub fn decode(
    source: &str,
    bytes: &[u8],
    options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<LogRecord>> {
    let format = opt_str(options, "log_format").unwrap_or("auto");
    let parser = LineParser::with_options(source, options).map_err(|e| {
        Error::decode(
            source,
            Location::Field { line: 0, field: "options.log_format".into() },
            "a header template with <Content>",
            e.to_string(),
        )
    })?;
    let mut out = Vec::new();
    let mut unparsed = Vec::new();
    for (n, text) in text_lines(bytes, report) {
        let (record, fits) = parser.parse(n, &text);
        if !fits && !text.trim().is_empty() {
            unparsed.push(n);
        }
        out.push(record);
    }
    if !unparsed.is_empty() {
        report.normalized += unparsed.len() as u64;
        let first = unparsed.first().copied().unwrap_or_default();
        report.warn(
            &Location::Line { line: first },
            format_args!("{} lines did not fit `{format}` and were kept whole as the message", unparsed.len()),
        );
    }
    report.records += out.len() as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_bytes};

    fn logs(format: &str, text: &str) -> (Vec<LogRecord>, DecodeReport) {
        let mut o = SourceOptions::new();
        o.insert("log_format".into(), format.into());
        let d = decode_bytes(SourceFormat::Raw, "app.log", text.as_bytes(), &o).unwrap();
        let Records::Logs(l) = d.records else { panic!() };
        (l, d.report)
    }

    #[test]
    fn loghub_header_template() {
        let (l, r) = logs(
            "<Date> <Time> <Pid> <Level> <Component>: <Content>",
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating\nbroken\n",
        );
        assert_eq!(l[0].message, "PacketResponder 1 for block blk_38865049064139660 terminating");
        assert_eq!(l[0].labels.get("Component"), Some("dfs.DataNode$PacketResponder"));
        assert_eq!(l[0].level, Some(Severity::Info));
        assert_eq!(l[1].message, "broken");
        assert_eq!((l[1].line, r.normalized), (2, 1));
    }

    proptest::proptest! {
        /// The regex-free split agrees with the regex on every plain template.
        #[test]
        fn plain_split_equals_the_regex(
            parts in proptest::collection::vec("[a-z0-9:|\\[\\],.-]{0,6}|[ \t]{1,3}", 0..14)
        ) {
            let line: String = parts.concat();
            for t in [
                "<Date> <Time> <Pid> <Level> <Component>: <Content>",
                "<Date> <Time>, <Level>                  <Component>    <Content>",
                r"<Time>\|<Component>\|<Pid>\|<Content>",
                r"\[<Time>\] <Program> - <Content>",
                "<Content>",
            ] {
                let h = HeaderFormat::parse(t).unwrap();
                proptest::prop_assert!(h.plain.is_some(), "{t}");
                proptest::prop_assert_eq!(h.split(&line), h.split_regex(&line), "{} on {:?}", t, line);
            }
        }
    }

    #[test]
    fn loghub_templates_carry_regex_fragments() {
        let (l, _) = logs(
            r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
            "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback\n\
Jul  1 09:01:05 calvisitor-10-105-160-95 com.apple.CDScheduler[43]: Thermal pressure state: 1 Memory pressure state: 0\n\
Jul  1 09:02:26 calvisitor-10-105-160-95 QQ[10018] (0x7f8): FA||Url||taskID[2019352994] dealloc\n",
        );
        assert_eq!(l[0].message, "IOThunderboltSwitch<0>(0x0)::listenerCallback");
        assert_eq!(l[1].labels.get("Component"), Some("com.apple.CDScheduler"));
        assert_eq!(l[2].labels.get("Address"), Some("0x7f8"));
        assert_eq!(l[2].message, "FA||Url||taskID[2019352994] dealloc");
        let (l, _) = logs(
            r"\[<Time>\] <Program> - <Content>",
            "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy HTTPS\n",
        );
        assert_eq!(l[0].labels.get("Program"), Some("chrome.exe"));
        assert_eq!(l[0].message, "proxy.cse.cuhk.edu.hk:5070 open through proxy HTTPS");
    }

    #[test]
    fn auto_detects_common_layouts() {
        let text = "I1102 14:05:00.123456    4242 controller.go:123] Syncing pod\n\
<34>1 2026-11-02T14:05:00.003Z host1 payments 99 ID47 - payment failed\n\
<13>Nov  2 14:05:00 host2 sshd[123]: Accepted publickey\n\
2026-11-02 14:05:00,123 ERROR [main] com.shop.Cart - cart lost\n\
10.0.0.1 - - [02/Nov/2026:14:05:00 +0000] \"GET /cart HTTP/1.1\" 503 12 \"-\" \"curl\"\n\
ts=2026-11-02T14:05:00Z level=warn msg=\"slow query\" service=db\n\
{\"msg\":\"json\",\"level\":\"debug\"}\n\
just text\n";
        let (l, r) = logs("auto", text);
        assert_eq!(l[0].message, "Syncing pod");
        assert_eq!(l[1].service.as_deref(), Some("payments"));
        assert_eq!(l[1].level, Some(Severity::Critical));
        assert_eq!(l[2].service.as_deref(), Some("sshd"));
        assert_eq!((l[3].level, l[3].message.as_str()), (Some(Severity::Error), "cart lost"));
        assert_eq!(l[4].level, Some(Severity::Error));
        assert_eq!(l[4].timestamp.unwrap().to_string(), "2026-11-02T14:05:00Z");
        assert_eq!((l[5].message.as_str(), l[5].service.as_deref()), ("slow query", Some("db")));
        assert_eq!(l[6].message, "json");
        assert_eq!(l[7].message, "just text");
        assert_eq!(r.normalized, 1);
    }

    #[test]
    fn bad_template_is_an_error() {
        let mut o = SourceOptions::new();
        o.insert("log_format".into(), "<Date> <Level>".into());
        assert!(decode_bytes(SourceFormat::Raw, "x", b"a b", &o).is_err());
    }

    #[test]
    fn invalid_utf8_and_crlf() {
        let (l, r) = logs("auto", "ok\r\nbad \u{FFFD}\r\n");
        assert_eq!(l[0].message, "ok");
        assert_eq!(r.normalized, 2);
        let mut o = SourceOptions::new();
        o.insert("log_format".into(), "auto".into());
        let d = decode_bytes(SourceFormat::Raw, "x", b"caf\xff\n", &o).unwrap();
        assert_eq!(d.report.normalized, 2);
    }
}
