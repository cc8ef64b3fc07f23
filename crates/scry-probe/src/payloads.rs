//! UDP probe payloads: nmap's `nmap-payloads` file and built-in fallbacks.
//!
//! Many UDP services stay silent unless a probe is a valid request of their
//! protocol, so an empty datagram would leave them `open|filtered`. Like nmap,
//! scry sends every payload listed for a port (one datagram each) and an empty
//! datagram to ports with none.
//!
//! File format (nmap's, as Debian ships it in `nmap-common`): an entry is
//! `udp PORTLIST "string" ["string" ...] [source PORT]`, its parts separated by
//! any whitespace including newlines, `#` starting a comment outside strings.
//! Strings take C escapes (`\0 \a \b \f \n \r \t \v \\ \" \' \xHH`) and are
//! concatenated. A keyword after the strings takes the rest of its line:
//! `source PORT` is read (nmap does not honour it and neither does scry, whose
//! source ports carry the scan's cookie); other keywords are skipped, as the
//! file's own header asks. Every error names file, line, column and token.
//!
//! Some payloads carry a request id the server copies into its answer (DNS,
//! NetBIOS and ONC RPC transaction ids). [`echo_field`] names that field, by
//! port and payload shape, so the UDP probe can put cookie bits there and
//! check them in the reply.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

mod builtin;
#[cfg(test)]
mod tests;

/// The largest UDP payload an IPv4 datagram can carry (65535 - 20 - 8).
pub const MAX_PAYLOAD: usize = 65_507;

/// A request-id field the server copies into its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Echo {
    /// Byte offset in the payload (and in the reply's payload).
    pub offset: usize,
    /// 2 or 4 bytes, big-endian.
    pub width: usize,
}

/// One payload: the bytes of one probe datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    pub data: Arc<[u8]>,
    /// The `source` port the file asks for (recorded, not honoured).
    pub source_port: Option<u16>,
}

/// A parsed entry: its port ranges and its payload.
type Entry = (Vec<(u16, u16)>, Payload);

/// Why a payload file could not be used.
#[derive(Debug, Error)]
pub enum PayloadError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{file}:{line}:{column}: {problem} at \"{token}\"")]
    Syntax {
        /// Name of the parsed text, usually its path.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The offending token as written (possibly cut short).
        token: String,
        /// What is wrong.
        problem: String,
    },
}

/// The compiled table: every port's payloads, looked up in constant time.
#[derive(Clone)]
pub struct Payloads {
    payloads: Vec<Payload>,
    /// `starts[p]..starts[p + 1]` indexes `ids` for port `p`.
    starts: Vec<u32>,
    ids: Vec<u32>,
    source: String,
}

impl fmt::Debug for Payloads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payloads({} from {})", self.payloads.len(), self.source)
    }
}

impl Payloads {
    /// Reads and parses a payload file.
    ///
    /// # Errors
    /// [`PayloadError::Io`] or the first [`PayloadError::Syntax`].
    pub fn load(path: &Path) -> Result<Payloads, PayloadError> {
        let bytes =
            std::fs::read(path).map_err(|source| PayloadError::Io { path: path.to_owned(), source })?;
        Payloads::parse(&String::from_utf8_lossy(&bytes), &path.display().to_string())
    }

    /// Parses payload-file text; `name` is used in errors.
    ///
    /// # Errors
    /// The first [`PayloadError::Syntax`].
    pub fn parse(text: &str, name: &str) -> Result<Payloads, PayloadError> {
        let entries = Parser { lexer: Lexer::new(text), name }.entries()?;
        Ok(Payloads::compile(entries, name))
    }

    /// The built-in payloads (DNS, NTP, SNMP, NetBIOS-NS, SSDP, mDNS, IKE, portmap).
    pub fn builtin() -> Payloads {
        Payloads::compile(builtin::entries(), "built-in payloads")
    }

    fn compile(entries: Vec<Entry>, source: &str) -> Payloads {
        let mut per_port: Vec<Vec<u32>> = vec![Vec::new(); 65_536];
        let mut payloads = Vec::with_capacity(entries.len());
        for (ranges, payload) in entries {
            let id = payloads.len() as u32;
            for (low, high) in ranges {
                for port in low..=high {
                    let list = &mut per_port[usize::from(port)];
                    if !list.contains(&id) {
                        list.push(id);
                    }
                }
            }
            payloads.push(payload);
        }
        let mut starts = Vec::with_capacity(65_537);
        let mut ids = Vec::new();
        starts.push(0);
        for list in per_port {
            ids.extend(list);
            starts.push(ids.len() as u32);
        }
        Payloads { payloads, starts, ids, source: source.to_owned() }
    }

    /// The payloads to send to `port`, in file order; empty for ports with none.
    pub fn for_port(&self, port: u16) -> impl ExactSizeIterator<Item = &Payload> + '_ {
        let p = usize::from(port);
        let range = self.starts[p] as usize..self.starts[p + 1] as usize;
        self.ids[range].iter().map(|&id| &self.payloads[id as usize])
    }

    /// How many datagrams a probe of `port` sends: its payloads, or one empty datagram.
    pub fn datagrams(&self, port: u16) -> usize {
        self.for_port(port).len().max(1)
    }

    /// Length of the longest payload (0 when there are none).
    pub fn max_len(&self) -> usize {
        self.payloads.iter().map(|p| p.data.len()).max().unwrap_or(0)
    }

    /// Number of distinct payloads.
    pub fn len(&self) -> usize {
        self.payloads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payloads.is_empty()
    }

    /// Where the table came from: a path or "built-in payloads".
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// The request-id field a reply to `payload` sent to `port` echoes: the
/// 16-bit id opening a DNS, mDNS or NetBIOS-NS message (RFC 1035 §4.1.1,
/// RFC 1002 §4.2.1) and the 32-bit xid of an ONC RPC call (RFC 5531 §9).
pub fn echo_field(port: u16, payload: &[u8]) -> Option<Echo> {
    match port {
        // A whole header, and a query (QR bit clear).
        53 | 137 | 5353 if payload.len() >= 12 && payload[2] & 0x80 == 0 => {
            Some(Echo { offset: 0, width: 2 })
        }
        // xid, then message type 0 (CALL).
        111 if payload.len() >= 24 && payload[4..8] == [0, 0, 0, 0] => Some(Echo { offset: 0, width: 4 }),
        _ => None,
    }
}

/// A token with its 1-based position.
#[derive(Debug, PartialEq, Eq)]
struct Token {
    kind: Kind,
    line: usize,
    column: usize,
    text: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Word,
    Str(Vec<u8>),
    Newline,
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

type Syntax = (usize, usize, String, String);

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Lexer<'a> {
        Lexer { chars: text.chars().peekable(), line: 1, column: 1 }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// The next token, `Ok(None)` at the end; errors are (line, column, token, problem).
    fn next(&mut self) -> Result<Option<Token>, Syntax> {
        loop {
            let (line, column) = (self.line, self.column);
            let Some(&c) = self.chars.peek() else { return Ok(None) };
            match c {
                '\n' => {
                    self.bump();
                    return Ok(Some(Token { kind: Kind::Newline, line, column, text: "\\n".into() }));
                }
                '#' => {
                    while self.chars.peek().is_some_and(|&c| c != '\n') {
                        self.bump();
                    }
                }
                c if c.is_whitespace() => {
                    self.bump();
                }
                '"' => return self.string(line, column).map(Some),
                _ => {
                    let mut text = String::new();
                    while let Some(&c) = self.chars.peek() {
                        if c.is_whitespace() || c == '"' || c == '#' {
                            break;
                        }
                        text.push(c);
                        self.bump();
                    }
                    return Ok(Some(Token { kind: Kind::Word, line, column, text }));
                }
            }
        }
    }

    fn string(&mut self, line: usize, column: usize) -> Result<Token, Syntax> {
        self.bump();
        let mut text = String::from("\"");
        let mut bytes = Vec::new();
        loop {
            let (at_line, at_column) = (self.line, self.column);
            let Some(c) = self.chars.peek().copied().filter(|&c| c != '\n') else {
                return Err((line, column, cut(&text), "string not closed on its line".into()));
            };
            self.bump();
            text.push(c);
            match c {
                '"' => return Ok(Token { kind: Kind::Str(bytes), line, column, text }),
                '\\' => {
                    let e = self.bump().filter(|&e| e != '\n');
                    let escape = |e: Option<char>| format!("\\{}", e.map(String::from).unwrap_or_default());
                    let byte = match e {
                        Some('0') => 0,
                        Some('a') => 7,
                        Some('b') => 8,
                        Some('f') => 12,
                        Some('n') => b'\n',
                        Some('r') => b'\r',
                        Some('t') => b'\t',
                        Some('v') => 11,
                        Some('\\') => b'\\',
                        Some('"') => b'"',
                        Some('\'') => b'\'',
                        Some('x') => {
                            let hex: String =
                                (0..2).filter_map(|_| self.chars.next_if(char::is_ascii_hexdigit)).collect();
                            self.column += hex.len();
                            if hex.len() != 2 {
                                let problem = "\\x needs two hex digits".to_owned();
                                return Err((at_line, at_column, format!("\\x{hex}"), problem));
                            }
                            u8::from_str_radix(&hex, 16).expect("two hex digits")
                        }
                        other => {
                            let problem = "unknown escape (use \\xHH for any byte)".to_owned();
                            return Err((at_line, at_column, escape(other), problem));
                        }
                    };
                    bytes.push(byte);
                }
                c => {
                    let mut utf8 = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
    }
}

/// At most 40 characters of `text`, for error messages.
fn cut(text: &str) -> String {
    text.chars().take(40).collect()
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    name: &'a str,
}

impl Parser<'_> {
    fn fail(&self, token: &Token, problem: impl Into<String>) -> PayloadError {
        self.error((token.line, token.column, cut(&token.text), problem.into()))
    }

    fn error(&self, (line, column, token, problem): Syntax) -> PayloadError {
        PayloadError::Syntax { file: self.name.to_owned(), line, column, token, problem }
    }

    fn next(&mut self) -> Result<Option<Token>, PayloadError> {
        self.lexer.next().map_err(|e| self.error(e))
    }

    /// The next token that is not a line break.
    fn next_skipping_lines(&mut self) -> Result<Option<Token>, PayloadError> {
        loop {
            match self.next()? {
                Some(Token { kind: Kind::Newline, .. }) => continue,
                other => return Ok(other),
            }
        }
    }

    fn entries(mut self) -> Result<Vec<Entry>, PayloadError> {
        let mut entries = Vec::new();
        let mut pending = self.next_skipping_lines()?;
        while let Some(head) = pending.take() {
            match &head.kind {
                Kind::Word if head.text == "udp" => {}
                Kind::Word
                    if head.text.eq_ignore_ascii_case("tcp") || head.text.eq_ignore_ascii_case("sctp") =>
                {
                    return Err(self.fail(&head, "only udp entries are supported"));
                }
                _ => return Err(self.fail(&head, "expected an entry starting with \"udp\"")),
            }
            let Some(ports_token) = self.next_skipping_lines()? else {
                return Err(self.fail(&head, "udp entry has no port list"));
            };
            let ports = self.port_list(&ports_token)?;
            let mut data = Vec::new();
            let mut strings = 0;
            let mut source_port = None;
            loop {
                match self.next_skipping_lines()? {
                    Some(Token { kind: Kind::Str(bytes), .. }) if source_port.is_none() => {
                        data.extend_from_slice(&bytes);
                        strings += 1;
                    }
                    Some(t @ Token { kind: Kind::Str(_), .. }) => {
                        return Err(self.fail(&t, "payload string after a keyword"));
                    }
                    Some(t) if t.text == "udp" => {
                        pending = Some(t);
                        break;
                    }
                    Some(t) if strings == 0 => {
                        return Err(self.fail(&t, "expected a quoted payload string"));
                    }
                    Some(t) if t.text == "source" => source_port = Some(self.source_port(&t)?),
                    // Unknown keywords take the rest of their line, as nmap's file says.
                    Some(_) => {
                        while !matches!(self.next()?, None | Some(Token { kind: Kind::Newline, .. })) {}
                    }
                    None => break,
                }
            }
            if strings == 0 {
                return Err(self.fail(&head, "udp entry has no payload string"));
            }
            if data.len() > MAX_PAYLOAD {
                return Err(
                    self.fail(&head, format!("payload of {} bytes exceeds {MAX_PAYLOAD}", data.len()))
                );
            }
            entries.push((ports, Payload { data: data.into(), source_port }));
        }
        Ok(entries)
    }

    fn source_port(&mut self, keyword: &Token) -> Result<u16, PayloadError> {
        match self.next()? {
            Some(t @ Token { kind: Kind::Word, .. }) => {
                t.text.parse().map_err(|_| self.fail(&t, "source port must be a number 0-65535"))
            }
            Some(t) => Err(self.fail(&t, "expected a port number after \"source\"")),
            None => Err(self.fail(keyword, "expected a port number after \"source\"")),
        }
    }

    /// `53`, `111,2049`, `32768-65535`: comma-separated ports and ranges.
    fn port_list(&self, token: &Token) -> Result<Vec<(u16, u16)>, PayloadError> {
        if !matches!(token.kind, Kind::Word) {
            return Err(self.fail(token, "expected a port list before the payload"));
        }
        let mut ranges = Vec::new();
        let mut offset = 0;
        for item in token.text.split(',') {
            let column = token.column + token.text[..offset].chars().count();
            offset += item.len() + 1;
            let at = |text: &str, skip: usize| Token {
                kind: Kind::Word,
                line: token.line,
                column: column + skip,
                text: text.to_owned(),
            };
            let port = |text: &str, skip: usize| {
                text.parse::<u16>().map_err(|_| self.fail(&at(text, skip), "not a port number 0-65535"))
            };
            let range = match item.split_once('-') {
                Some((low, high)) => (port(low, 0)?, port(high, low.chars().count() + 1)?),
                None => (port(item, 0)?, port(item, 0)?),
            };
            if range.0 > range.1 {
                return Err(self.fail(&at(item, 0), "port range runs backwards"));
            }
            ranges.push(range);
        }
        Ok(ranges)
    }
}
