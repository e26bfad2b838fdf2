//! Tokenising and masking a log message: the variable shapes that occur everywhere (numbers,
//! IPs with ports, hex, UUIDs, paths, URLs, durations, sizes, timestamps) become `<*>`, at the
//! smallest part of a token that holds them, so `node-12` becomes `node-<*>` and `(TID 3).`
//! keeps its brackets and period.
//!
//! The rendering follows the template style of the corrected loghub labels (Khan et al., ICSE
//! 2022): whitespace collapsed, digit runs, paths, booleans and the default user strings
//! (`null`, `root`, `admin`) as variables, a part of a token joined to a variable by `_` or
//! letters taken into it, and variables joined by `.` or by nothing merged; other delimiters
//! between variables are kept (`<*>:<*>:<*>`).
//!
//! Protected tokens (severity levels, HTTP methods) are never masked, and an HTTP status is
//! kept as its class (`5xx`), so that `INFO` and `ERROR`, or a 200 and a 503, never merge.

/// The wildcard.
pub(crate) const WILDCARD: &str = "<*>";

/// Masks a whole message into `out` as space-separated masked tokens; returns the number of
/// tokens.
pub(crate) fn mask_message(message: &str, out: &mut String) -> usize {
    out.clear();
    let mut n = 0;
    let mut prev: Option<&str> = None;
    let mut last_start = 0;
    let bytes = message.as_bytes();
    let class = |c: u8| CLASS.get(usize::from(c)).copied().unwrap_or(0);
    let mut i = 0;
    // one pass over the bytes splits the tokens (ASCII whitespace) and takes their shapes
    loop {
        while bytes.get(i).is_some_and(|&c| class(c) & SPACE != 0) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        let (mut bits, mut digits) = (0u8, 0usize);
        while let Some(&c) = bytes.get(i) {
            let k = class(c);
            if k & SPACE != 0 {
                break;
            }
            bits |= k;
            digits += usize::from(k & DIGIT);
            i += 1;
        }
        // token boundaries are ASCII, so these are char boundaries
        let Some(tok) = message.get(start..i) else { break };
        let sh = Shape { bits, digits };
        // size units and calendar words are short: skip the trimming for anything longer
        let bare = if tok.len() <= 6 { tok.trim_end_matches(|c: char| c.is_ascii() && is_trail(c as u8)) } else { "" };
        // a size unit that scales with the value (B, KB, MB...) is part of the variable
        if n > 0
            && bare.len() <= 3
            && is_size_unit(bare)
            && out.get(last_start..).is_some_and(|t| t.ends_with(WILDCARD))
        {
            out.push_str(tok.get(bare.len()..).unwrap_or(""));
            prev = Some(tok);
            continue;
        }
        if n > 0 {
            out.push(' ');
        }
        last_start = out.len();
        let date_like = |t: Option<&str>| {
            t.is_some_and(|t| t.as_bytes().first().is_some_and(u8::is_ascii_digit) || is_calendar_word(t))
        };
        if bare.len() == 3 && is_calendar_word(bare) && (date_like(next_token(message, i)) || date_like(prev)) {
            // a weekday or month name next to a number is part of a date
            out.push_str(WILDCARD);
            out.push_str(tok.get(bare.len()..).unwrap_or(""));
        } else {
            mask_token(tok, prev, sh, out);
        }
        prev = Some(tok);
        n += 1;
    }
    n
}

/// The whitespace-separated token starting at or after byte `i`.
fn next_token(message: &str, i: usize) -> Option<&str> {
    message.get(i..)?.split_ascii_whitespace().next()
}

/// English weekday and month abbreviations.
fn is_calendar_word(t: &str) -> bool {
    const WORDS: [&str; 19] = [
        "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
        "Oct", "Nov", "Dec",
    ];
    WORDS.contains(&t)
}

/// Units whose choice follows the magnitude of the value, so they belong to it.
fn is_size_unit(t: &str) -> bool {
    matches!(t, "B" | "KB" | "MB" | "GB" | "TB" | "PB" | "KiB" | "MiB" | "GiB" | "TiB" | "kB")
}

const DIGIT: u8 = 1;
const LOWER: u8 = 2;
const SPECIAL: u8 = 4;
const DELIM: u8 = 8;
const SLASH: u8 = 16;
const AT: u8 = 32;
const COLON_DOT: u8 = 64;
const SPACE: u8 = 128;

/// Character classes of every byte, for one table lookup per byte.
#[allow(clippy::indexing_slicing, reason = "a compile-time loop; an index out of range fails the build")]
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut k = 0;
        if b.is_ascii_digit() {
            k |= DIGIT;
        }
        if b.is_ascii_lowercase() {
            k |= LOWER;
        }
        if matches!(b, b'/' | b'@' | b'\\' | b'~') {
            k |= SPECIAL;
        }
        if is_delim(b) {
            k |= DELIM;
        }
        if matches!(b, b'/' | b'\\') {
            k |= SLASH;
        }
        if b == b'@' {
            k |= AT;
        }
        if matches!(b, b':' | b'.') {
            k |= COLON_DOT;
        }
        if b.is_ascii_whitespace() {
            k |= SPACE;
        }
        t[c] = k;
        c += 1;
    }
    t
};

/// The classes present in a token and its digit count, from one pass.
#[derive(Clone, Copy)]
struct Shape {
    bits: u8,
    digits: usize,
}

/// Severity words and HTTP methods: never wildcards.
pub(crate) fn is_protected(tok: &str) -> bool {
    const WORDS: [&str; 24] = [
        "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR", "FATAL", "CRITICAL", "CRIT", "ALERT",
        "EMERG", "SEVERE", "PANIC", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "FINE",
    ];
    // every protected word is 3 to 8 letters; most tokens are ruled out by length alone
    if tok.len() < 3 || tok.len() > 12 {
        return false;
    }
    let core = tok.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    (3..=8).contains(&core.len())
        && core.as_bytes().first().is_some_and(|c| b"tdinwefcapsghoTDINWEFCAPSGHO".contains(c))
        && WORDS.iter().enumerate().any(|(i, w)| {
            // severity words in any case (`info`, `Error`); HTTP methods only as written (`GET`),
            // since `get` or `head` in lowercase is an ordinary word
            // `GET` to `CONNECT` are the methods
            let method = (15..23).contains(&i);
            w.len() == core.len() && if method { *w == core } else { w.eq_ignore_ascii_case(core) }
        })
}

/// Wrapping punctuation kept outside a variable.
fn is_lead(b: u8) -> bool {
    matches!(b, b'(' | b'[' | b'{' | b'<' | b'"' | b'\'' | b'`')
}

fn is_trail(b: u8) -> bool {
    matches!(b, b')' | b']' | b'}' | b'>' | b'"' | b'\'' | b'`' | b',' | b'.' | b';' | b':' | b'!' | b'?')
}

/// Delimiters that end a path inside a token.
fn is_path_delim(b: u8) -> bool {
    matches!(b, b',' | b'!' | b';' | b':' | b'=' | b'|' | b'"' | b'\'' | b'[' | b']' | b'(' | b')' | b'{' | b'}')
}

/// Delimiters inside a token (the corrected loghub labels' token delimiters).
const fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b',' | b'!'
            | b';'
            | b':'
            | b'='
            | b'|'
            | b'"'
            | b'\''
            | b'['
            | b']'
            | b'('
            | b')'
            | b'{'
            | b'}'
            | b'.'
            | b'-'
            | b'+'
            | b'@'
            | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'<'
            | b'>'
            | b'/'
    )
}

fn masks_whole(core: &str, prev: Option<&str>, sh: Shape) -> Option<&'static str> {
    let b = core.as_bytes();
    if b.is_empty() {
        return None;
    }
    // the token's shape: its digits, slashes and @ are all in the core (wrapping punctuation
    // has none); a colon or period may be in the wrapping only, which the checks below allow
    let digits = sh.digits;
    let (slash, at, colon_dot) = (sh.bits & SLASH != 0, sh.bits & AT != 0, sh.bits & COLON_DOT != 0);
    // an HTTP status after the request line or a status key keeps its class
    if b.len() == 3
        && digits == 3
        && matches!(b.first(), Some(b'1'..=b'5'))
        && prev.is_some_and(|p| {
            let p = p.trim_end_matches('"');
            p.starts_with("HTTP/") || p.eq_ignore_ascii_case("status") || p.eq_ignore_ascii_case("status:")
        })
    {
        return Some(match b.first() {
            Some(b'1') => "1xx",
            Some(b'2') => "2xx",
            Some(b'3') => "3xx",
            Some(b'4') => "4xx",
            _ => "5xx",
        });
    }
    if slash && (b.windows(3).any(|w| w == b"://") || is_path(core)) || at && is_email(core) {
        return Some(WILDCARD);
    }
    if digits == 0 {
        return None;
    }
    if colon_dot && is_ip_or_host_port(core)
        || b.len() == 36 && is_uuid(b)
        || b.first().is_some_and(u8::is_ascii_digit) && !b.contains(&b':') && is_number_with_unit(b)
    {
        return Some(WILDCARD);
    }
    None
}

/// `/a/b`, `./a`, `~/a`, `C:\a`: a path (the whole token).
fn is_path(core: &str) -> bool {
    let b = core.as_bytes();
    match b {
        [b'/', rest @ ..] => !rest.is_empty() && rest.first() != Some(&b'/') || core.starts_with("//") && b.len() > 2,
        [b'.' | b'~', b'/', ..] => true,
        [d, b':', b'\\', ..] => d.is_ascii_alphabetic(),
        _ => false,
    }
}

fn is_email(core: &str) -> bool {
    match core.split_once('@') {
        Some((user, host)) => {
            !user.is_empty()
                && host.contains('.')
                && host.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
                && user.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'+'))
        }
        None => false,
    }
}

/// A UUID: 8-4-4-4-12 hex digits.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter()
            .enumerate()
            .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

/// An IPv4 address with optional port or prefix, a `host:port` or `host.domain:port`, or an
/// IPv6 address.
fn is_ip_or_host_port(core: &str) -> bool {
    let (host, port) = match core.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (core, None),
    };
    let host = host.split_once('/').map_or(host, |(h, _)| h);
    let hb = host.as_bytes();
    if hb.is_empty() {
        return false;
    }
    let dots = hb.iter().filter(|&&c| c == b'.').count();
    let ipv4 = dots == 3 && hb.iter().all(|c| c.is_ascii_digit() || *c == b'.');
    if ipv4 {
        return true;
    }
    // IPv6 (with `::` or six or more groups) and MAC addresses; not times such as 22:15:29
    let colons = core.bytes().filter(|&c| c == b':').count();
    if (core.contains("::") || colons >= 5)
        && core.bytes().any(|c| c.is_ascii_alphabetic() || c == b':')
        && core.bytes().all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
    {
        return true;
    }
    // a dotted host name with a port
    port.is_some()
        && dots >= 1
        && hb.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        && hb.first().is_some_and(u8::is_ascii_alphanumeric)
}

/// Hex identifiers: `0x1f`, or eight or more hex digits with at least one digit and one
/// letter or twelve or more hex digits, optionally in dash-separated groups (UUIDs, MACs with
/// colons are caught as IPv6-like).
fn is_hex_id(b: &[u8]) -> bool {
    if let [b'0', b'x' | b'X', rest @ ..] = b {
        return !rest.is_empty() && rest.iter().all(u8::is_ascii_hexdigit);
    }
    if b.len() < 8 {
        return false;
    }
    let (mut hex, mut letters) = (0usize, false);
    for &c in b {
        if c.is_ascii_hexdigit() {
            hex += 1;
            letters |= c.is_ascii_alphabetic();
        } else if c != b'-' && c != b':' {
            return false;
        }
    }
    hex >= 8 && (letters || hex >= 12)
}

/// A number followed by a unit: `12ms`, `3.5GB`, `100KB`, `2s`, `95%`.
fn is_number_with_unit(b: &[u8]) -> bool {
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let split = b.iter().position(|c| !(c.is_ascii_digit() || *c == b'.' || *c == b',')).unwrap_or(b.len());
    let unit = b.get(split..).unwrap_or_default();
    if unit.len() > 5 {
        return false;
    }
    const UNITS: [&str; 24] = [
        "ms", "s", "us", "ns", "m", "h", "d", "sec", "secs", "min", "b", "kb", "mb", "gb", "tb", "k", "kib", "mib",
        "gib", "%", "x", "bytes", "hz", "ghz",
    ];
    unit.is_empty() || UNITS.iter().any(|u| u.len() == unit.len() && u.as_bytes().eq_ignore_ascii_case(unit))
}

/// The end of an IPv4 address (and `:port`) starting at `i`, when one does and is not glued to
/// a preceding digit or letter.
fn ipv4_at(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && b.get(i - 1).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let mut k = i;
    for octet in 0..4 {
        let start = k;
        while b.get(k).is_some_and(u8::is_ascii_digit) && k - start < 3 {
            k += 1;
        }
        if k == start {
            return None;
        }
        if octet < 3 {
            if b.get(k) != Some(&b'.') {
                return None;
            }
            k += 1;
        }
    }
    if b.get(k).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    if b.get(k) == Some(&b':') && b.get(k + 1).is_some_and(u8::is_ascii_digit) {
        k += 1;
        while b.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
    }
    Some(k)
}

/// A part of a token (between delimiters) that is a variable on its own.
fn part_is_variable(p: &[u8]) -> bool {
    // one pass: digits, the longest run of them
    let (mut digits, mut run, mut longest) = (0usize, 0usize, 0usize);
    for &c in p {
        if c.is_ascii_digit() {
            digits += 1;
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    part_is_variable_counted(p, digits, longest)
}

/// [`part_is_variable`] with the part's digit count and longest digit run already known.
fn part_is_variable_counted(p: &[u8], digits: usize, longest: usize) -> bool {
    if p.is_empty() {
        return false;
    }
    if digits == 0 {
        const WORDS: [&str; 5] = ["true", "false", "null", "root", "admin"];
        return (4..=5).contains(&p.len())
            && WORDS.iter().any(|w| w.len() == p.len() && w.as_bytes().eq_ignore_ascii_case(p));
    }
    if let [b'-' | b'+', rest @ ..] = p
        && digits == rest.len()
    {
        return true;
    }
    // an identifier carrying a long number (blk_3886, attempt_2015, r7x9321): the number is the
    // point of the token; a word with a digit in it (SOCKS5, flush2DB, utf8) is not a variable
    digits == p.len() || longest >= 3 || digits * 2 > p.len() || is_hex_id(p) || is_number_with_unit(p)
}

/// Appends `<*>` to `out`, merging it with a variable it directly follows (`<*><*>`) or
/// follows across a period (`<*>.<*>`), as [`merge_adjacent`] would.
fn push_wildcard(out: &mut String, token_start: usize) {
    let seg = out.get(token_start..).unwrap_or_default();
    if seg.ends_with(WILDCARD) {
        return;
    }
    if seg.ends_with("<*>.") {
        out.pop();
        return;
    }
    out.push_str(WILDCARD);
}

/// Masks one whitespace token into `out`.
fn mask_token(tok: &str, prev: Option<&str>, sh: Shape, out: &mut String) {
    let b = tok.as_bytes();
    // the token's shape (taken while splitting) tells which checks can apply
    let (digit, lower, special, delim) =
        (sh.digits > 0, sh.bits & LOWER != 0, sh.bits & SPECIAL != 0, sh.bits & DELIM != 0);
    if !digit && !special {
        // words: only the default user strings and booleans (parts of four or five letters) can
        // be variables
        if lower && (b.len() <= 5 || delim) && !is_protected(tok) {
            if delim {
                mask_core_parts(tok, out.len(), out);
            } else if part_is_variable(b) {
                out.push_str(WILDCARD);
            } else {
                out.push_str(tok);
            }
        } else {
            out.push_str(tok);
        }
        return;
    }
    if !special && !delim {
        // one part with digits (`3579`, `12ms`, `blk_38865049064139660`)
        if let Some(m) = masks_whole(tok, prev, sh) {
            out.push_str(m);
        } else if part_is_variable(b) {
            out.push_str(WILDCARD);
        } else {
            out.push_str(tok);
        }
        return;
    }
    if !digit && is_protected(tok) {
        out.push_str(tok);
        return;
    }
    let lead = b.iter().take_while(|&&c| is_lead(c)).count();
    let rest = b.get(lead..).unwrap_or_default();
    // a path keeps a trailing period as part of it (`/a/part-1.`)
    let pathlike = matches!(rest, [b'/', ..] | [b'.' | b'~', b'/', ..]);
    let trail = rest.iter().rev().take_while(|&&c| is_trail(c) && !(pathlike && c == b'.')).count();
    let core_end = b.len() - trail;
    let (Some(head), Some(core), Some(tail)) = (tok.get(..lead), tok.get(lead..core_end), tok.get(core_end..)) else {
        out.push_str(tok);
        return;
    };
    if let Some(m) = masks_whole(core, prev, sh) {
        out.push_str(head);
        out.push_str(m);
        out.push_str(tail);
        return;
    }
    if !core.bytes().any(|c| c.is_ascii_digit() || c.is_ascii_lowercase()) && !core.is_empty() {
        // punctuation and capitals only (BLOCK*, ****): as is
        out.push_str(tok);
        return;
    }
    let start = out.len();
    out.push_str(head);
    mask_core_parts(core, start, out);
    out.push_str(tail);
}

/// Masks the parts of a token's core between delimiters into `out`; `start` is where the
/// token begins in `out`.
fn mask_core_parts(core: &str, start: usize, out: &mut String) {
    let cb = core.as_bytes();
    let mut i = 0;
    while i < cb.len() {
        // a path after a delimiter (`chdir(/a/b)`) is one variable, up to a path delimiter;
        // an IPv4 address (with its port) inside a token is one variable
        let whole = if cb.get(i) == Some(&b'/')
            && i > 0
            && cb.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            Some((i..cb.len()).find(|&k| cb.get(k).is_some_and(|&c| is_path_delim(c))).unwrap_or(cb.len()))
        } else if cb.get(i).is_some_and(u8::is_ascii_digit) {
            ipv4_at(cb, i)
        } else {
            None
        };
        if let Some(end) = whole {
            push_wildcard(out, start);
            if let Some(d) = core.get(end..(end + 1).min(cb.len())) {
                out.push_str(d);
            }
            i = end + 1;
            continue;
        }
        // a `-` after `_` (blk_-42) or starting a number (=-1) is a sign, not a delimiter;
        // the part's digits and longest digit run are counted on the way
        let mut j = i;
        let (mut digits, mut run, mut longest) = (0usize, 0usize, 0usize);
        while let Some(&c) = cb.get(j) {
            let k = CLASS.get(usize::from(c)).copied().unwrap_or(0);
            if k & DELIM != 0
                && !(c == b'-'
                    && (j > 0 && cb.get(j - 1) == Some(&b'_')
                        || j == i && cb.get(j + 1).is_some_and(u8::is_ascii_digit)))
            {
                break;
            }
            if k & DIGIT != 0 {
                digits += 1;
                run += 1;
                longest = longest.max(run);
            } else {
                run = 0;
            }
            j += 1;
        }
        let part = cb.get(i..j).unwrap_or_default();
        if part_is_variable_counted(part, digits, longest) {
            push_wildcard(out, start);
        } else {
            // a part holds no delimiter, so no `<*>` of its own
            out.push_str(core.get(i..j).unwrap_or_default());
        }
        if let Some(d) = core.get(j..(j + 1).min(cb.len())) {
            out.push_str(d);
        }
        i = j + 1;
    }
}

/// Merges variables joined by `.` or by nothing (a number with decimals, an IP address, a
/// dotted version); other delimiters between variables are kept, as in `<*>:<*>:<*>`.
pub(crate) fn merge_adjacent(token: &str) -> String {
    let mut t = token.to_string();
    loop {
        let before = t.len();
        for pat in ["<*><*>", "<*>.<*>"] {
            while t.contains(pat) {
                t = t.replace(pat, WILDCARD);
            }
        }
        if t.len() == before {
            return t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Severity words are protected in any case; HTTP methods only as written, since a
    /// lowercase `get` or `head` is an ordinary word (a user name, a verb in a message).
    #[test]
    fn protected_words() {
        for w in ["GET", "POST", "INFO", "info", "Error", "WARN:", "[DEBUG]", "fine"] {
            assert!(is_protected(w), "{w}");
        }
        for w in ["get", "head", "Post", "options", "user", "getter"] {
            assert!(!is_protected(w), "{w}");
        }
    }

    fn m(s: &str) -> String {
        let mut out = String::new();
        mask_message(s, &mut out);
        out
    }

    #[test]
    fn masks_the_common_shapes() {
        assert_eq!(m("Served block blk_-1608999687919862906 to /10.250.14.224"), "Served block <*> to <*>");
        assert_eq!(
            m("Finished task 0.0 in stage 1.0 (TID 3). 2087 bytes result"),
            "Finished task <*> in stage <*> (TID <*>). <*> bytes result"
        );
        assert_eq!(
            m("proxy.cse.cuhk.edu.hk:5070 open through proxy p.x.hk:5070 HTTPS"),
            "<*> open through proxy <*> HTTPS"
        );
        assert_eq!(
            m("node-12 ambient=34 up 12ms 3.5GB 0x1f3 at 2017-12-23 22:15:29"),
            "node-<*> ambient=<*> up <*> <*> <*> at <*>-<*>-<*> <*>:<*>:<*>"
        );
        assert_eq!(
            m("uuid 123e4567-e89b-12d3-a456-426614174000 ip 10.0.0.1:8080 mac 00:1a:2b:3c:4d:5e"),
            "uuid <*> ip <*> mac <*>"
        );
        assert_eq!(m("GET /cart/items HTTP/1.1\" 503 12"), "GET <*> HTTP/<*>\" 5xx <*>");
        assert_eq!(m("SOCKS5 flush2DB utf8 enabled=true user root"), "SOCKS5 flush2DB utf8 enabled=<*> user <*>");
        assert_eq!(m("taskID[2019352994] dealloc  x"), "taskID[<*>] dealloc x");
        assert_eq!(
            m("LOGIN chdir(/p/gb2/x) failed: size=-1 at 10.250.19.102:50010:Got"),
            "LOGIN chdir(<*>) failed: size=<*> at <*>:Got"
        );
        assert_eq!(
            m("estimated size 384.0 B, free 317.5 KB) on Thu Aug 11 2005"),
            "estimated size <*>, free <*>) on <*> <*> <*> <*>"
        );
        assert_eq!(m("allocateBlock: /user/root/part-00590. blk_-1608999687919862906"), "allocateBlock: <*> <*>");
        assert_eq!(m("mail bob@example.com url https://a.b/c?d=1"), "mail <*> url <*>");
    }

    #[test]
    fn protected_tokens_stay() {
        assert_eq!(m("INFO ERROR [WARN] VM Started"), "INFO ERROR [WARN] VM Started");
        assert!(is_protected("ERROR:"));
        assert!(!is_protected("ERRORS_SEEN_TODAY"));
    }
}
