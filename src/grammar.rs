//! The SCIM attribute-path and filter grammar, parsed in one place: filters (RFC 7644
//! §3.4.2.2), PATCH paths (§3.5.2) and the attribute paths the policy settings name
//! (`directory::policy::paths`) all go through this parser. Evaluating a filter against a
//! resource is SCIM's (`scim::filter`); this module knows no schema.

use std::fmt;

use serde_json::Value;

/// `[URI ":"] ATTRNAME *1subAttr` (RFC 7644 §3.4.2.2, Figure 1).
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    /// The value is a string, number, boolean or null.
    Compare(AttrPath, CompareOp, Value),
    /// The multi-valued attribute (sub None) and a filter whose paths are relative to one of
    /// its elements.
    ValuePath(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub message: String,
    /// Byte offset into the input.
    pub position: usize,
}

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 10_000;
/// Deepest nesting of parentheses, `not` and value filters accepted.
pub const MAX_DEPTH: usize = 64;

pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(input)?;
    let filter = p.parse_or(false)?;
    p.skip_ws();
    match p.peek() {
        None => Ok(filter),
        Some(b')') => Err(p.error("unbalanced ')'")),
        Some(b']') => Err(p.error("unbalanced ']'")),
        Some(_) => Err(p.error(format!(
            "expected 'and', 'or' or the end of the filter, found {}",
            p.describe_here()
        ))),
    }
}

/// A bare attribute path: "emails.value", "urn:…:User:manager.value", "name.givenName".
pub fn parse_attr_path(input: &str) -> Result<AttrPath, FilterError> {
    let mut p = Parser::new(input)?;
    let path = p.parse_path()?;
    p.expect_end("the end of the attribute path")?;
    Ok(path)
}

/// A PATCH path (RFC 7644 §3.5.2): `attrPath` or `valuePath [subAttr]`, e.g.
/// `emails[type eq "work"].value` or `members[value eq "id"]`.
pub fn parse_value_path(
    input: &str,
) -> Result<(AttrPath, Option<Filter>, Option<String>), FilterError> {
    let mut p = Parser::new(input)?;
    let path = p.parse_path()?;
    if p.peek() != Some(b'[') {
        p.expect_end("'[' or the end of the path")?;
        return Ok((path, None, None));
    }
    let filter = p.parse_bracket(&path)?;
    let sub = if p.eat(b'.') {
        Some(p.parse_name()?)
    } else {
        None
    };
    p.expect_end("'.' and a sub-attribute, or the end of the path")?;
    Ok((path, Some(filter), sub))
}

impl Filter {
    /// The equality conditions that every match must satisfy (the top-level chain of `and`s):
    /// (path, value) for each `Compare(_, Eq, String)`. Used by the server to pick an index.
    pub fn required_equalities(&self) -> Vec<(&AttrPath, &str)> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(f) = stack.pop() {
            match f {
                Filter::And(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                Filter::Compare(path, CompareOp::Eq, Value::String(s)) => {
                    out.push((path, s.as_str()))
                }
                _ => {}
            }
        }
        out
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Bytes that end an unquoted token (a URN path or a bare-word value).
fn ends_token(b: u8) -> bool {
    is_ws(b) || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, FilterError> {
        let p = Parser {
            src,
            pos: 0,
            depth: 0,
        };
        if src.len() > MAX_FILTER_LEN {
            return Err(p.error(format!(
                "filter is {} bytes long; the limit is {MAX_FILTER_LEN}",
                src.len()
            )));
        }
        if src.trim().is_empty() {
            return Err(p.error("expected a filter, found nothing"));
        }
        Ok(p)
    }

    fn error(&self, message: impl Into<String>) -> FilterError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, position: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            message: format!("{} at {position}", message.into()),
            position,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn describe_here(&self) -> String {
        match self.rest().chars().next() {
            None => "the end of the input".to_owned(),
            Some(_) => {
                let word: String = self.rest().chars().take(20).collect();
                format!("{word:?}")
            }
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_end(&mut self, expected: &str) -> Result<(), FilterError> {
        self.skip_ws();
        if self.peek().is_none() {
            Ok(())
        } else {
            Err(self.error(format!(
                "expected {expected}, found {}",
                self.describe_here()
            )))
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("filter nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// The next run of name characters, without consuming it.
    fn peek_word(&self) -> &'a str {
        let rest = self.rest();
        let len = rest.bytes().take_while(|b| is_name_char(*b)).count();
        &rest[..len]
    }

    /// Consumes `keyword` (any case) when it is the next whole word.
    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek_word().eq_ignore_ascii_case(keyword) {
            self.pos += keyword.len();
            true
        } else {
            false
        }
    }

    fn parse_or(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(in_brackets)?;
        loop {
            self.skip_ws();
            if !self.eat_keyword("or") {
                return Ok(left);
            }
            let right = self.parse_and(in_brackets)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
    }

    fn parse_and(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(in_brackets)?;
        loop {
            self.skip_ws();
            if !self.eat_keyword("and") {
                return Ok(left);
            }
            let right = self.parse_unary(in_brackets)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    fn parse_unary(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        self.skip_ws();
        match self.peek() {
            None => {
                return Err(self
                    .error("expected an attribute path, '(' or 'not', found the end of the input"))
            }
            Some(b'(') => {
                self.pos += 1;
                return self.parse_group(in_brackets);
            }
            _ => {}
        }
        if self.eat_keyword("not") {
            self.skip_ws();
            if !self.eat(b'(') {
                return Err(self.error(format!(
                    "expected '(' after 'not', found {}",
                    self.describe_here()
                )));
            }
            return Ok(Filter::Not(Box::new(self.parse_group(in_brackets)?)));
        }
        if !self
            .peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'$')
        {
            return Err(self.error(format!(
                "expected an attribute path, '(' or 'not', found {}",
                self.describe_here()
            )));
        }
        let path = self.parse_path()?;
        if self.peek() == Some(b'[') {
            if in_brackets {
                return Err(self.error("value filters cannot be nested"));
            }
            let inner = self.parse_bracket(&path)?;
            if !self.eat(b'.') {
                return Ok(Filter::ValuePath(path, Box::new(inner)));
            }
            // Entra sends `emails[type eq "work"].value eq "x"`, which Figure 1 does not allow:
            // read it as "an element with type work whose value is x".
            let sub = AttrPath {
                urn: None,
                name: self.parse_name()?,
                sub: None,
            };
            let condition = self.parse_condition(sub)?;
            let both = Filter::And(Box::new(condition), Box::new(inner));
            return Ok(Filter::ValuePath(path, Box::new(both)));
        }
        self.parse_condition(path)
    }

    /// After '(' (or "not ("): the inner filter and its ')'.
    fn parse_group(&mut self, in_brackets: bool) -> Result<Filter, FilterError> {
        self.enter()?;
        let inner = self.parse_or(in_brackets)?;
        self.skip_ws();
        if !self.eat(b')') {
            return Err(self.error(format!("expected ')', found {}", self.describe_here())));
        }
        self.depth -= 1;
        Ok(inner)
    }

    /// At '[': the value filter and its ']'.
    fn parse_bracket(&mut self, path: &AttrPath) -> Result<Filter, FilterError> {
        if path.sub.is_some() {
            return Err(
                self.error("a value filter must follow the attribute name, not a sub-attribute")
            );
        }
        self.pos += 1;
        self.enter()?;
        let inner = self.parse_or(true)?;
        self.skip_ws();
        if !self.eat(b']') {
            return Err(self.error(format!("expected ']', found {}", self.describe_here())));
        }
        self.depth -= 1;
        Ok(inner)
    }

    /// `SP "pr"` or `SP compareOp SP compValue` after an attribute path.
    fn parse_condition(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        let before = self.pos;
        self.skip_ws();
        let at = self.pos;
        let word = self.peek_word();
        if word.is_empty() {
            return Err(self.error(format!(
                "expected an operator after the attribute path, found {}",
                self.describe_here()
            )));
        }
        if at == before {
            return Err(self.error("expected a space after the attribute path"));
        }
        let op = match word.to_ascii_lowercase().as_str() {
            "pr" => None,
            "eq" => Some(CompareOp::Eq),
            "ne" => Some(CompareOp::Ne),
            "co" => Some(CompareOp::Co),
            "sw" => Some(CompareOp::Sw),
            "ew" => Some(CompareOp::Ew),
            "gt" => Some(CompareOp::Gt),
            "ge" => Some(CompareOp::Ge),
            "lt" => Some(CompareOp::Lt),
            "le" => Some(CompareOp::Le),
            _ => {
                return Err(self.error(format!(
                    "unknown operator {word:?}: expected eq, ne, co, sw, ew, gt, ge, lt, le or pr"
                )))
            }
        };
        self.pos += word.len();
        let Some(op) = op else {
            self.skip_ws();
            let next = self.peek_word();
            let ends = self.peek().is_none_or(|b| b == b')' || b == b']')
                || next.eq_ignore_ascii_case("and")
                || next.eq_ignore_ascii_case("or");
            if !ends {
                return Err(self.error("'pr' takes no value"));
            }
            return Ok(Filter::Present(path));
        };
        self.skip_ws();
        let value = self.parse_value()?;
        Ok(Filter::Compare(path, op, value))
    }

    /// `compValue = false / null / true / number / string`, plus a bare word as a string
    /// (Entra's documented `externalId eq jyoung`).
    fn parse_value(&mut self) -> Result<Value, FilterError> {
        let start = self.pos;
        if self.peek() == Some(b'"') {
            let bytes = self.src.as_bytes();
            let mut i = start + 1;
            loop {
                match bytes.get(i) {
                    None => return Err(self.error_at(start, "unterminated string")),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            let literal = &self.src[start..=i];
            let s: String = serde_json::from_str(literal)
                .map_err(|e| self.error_at(start, format!("invalid string ({e})")))?;
            self.pos = i + 1;
            return Ok(Value::String(s));
        }
        let len = self.rest().bytes().take_while(|b| !ends_token(*b)).count();
        let token = &self.rest()[..len];
        let expected = "expected a value (a quoted string, number, true, false or null)";
        if token.is_empty() {
            return Err(self.error(format!("{expected}, found {}", self.describe_here())));
        }
        let value = match token.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            "and" | "or" | "not" => {
                return Err(self.error(format!("{expected}, found {token:?}")));
            }
            _ => {
                let number = token
                    .starts_with(|c: char| c == '-' || c.is_ascii_digit())
                    .then(|| serde_json::from_str::<serde_json::Number>(token).ok())
                    .flatten();
                match number {
                    Some(n) => Value::Number(n),
                    None if token
                        .bytes()
                        .all(|b| is_name_char(b) || b == b'.' || b == b'@') =>
                    {
                        Value::String(token.to_owned())
                    }
                    None => return Err(self.error(format!("{expected}, found {token:?}"))),
                }
            }
        };
        self.pos += len;
        Ok(value)
    }

    /// ATTRNAME: `ALPHA *(nameChar)`, or `$ref`.
    fn parse_name(&mut self) -> Result<String, FilterError> {
        if self.rest().starts_with("$ref")
            && !self.rest()[4..]
                .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.pos += 4;
            return Ok("$ref".to_owned());
        }
        if !self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            return Err(self.error(format!(
                "expected an attribute name, found {}",
                self.describe_here()
            )));
        }
        let name = self.peek_word();
        self.pos += name.len();
        Ok(name.to_owned())
    }

    /// `[URI ":"] ATTRNAME *1subAttr`. The URN is everything up to the last ':' of the token.
    fn parse_path(&mut self) -> Result<AttrPath, FilterError> {
        let start = self.pos;
        let urn = if self
            .rest()
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            let len = self.rest().bytes().take_while(|b| !ends_token(*b)).count();
            let token = &self.rest()[..len];
            let Some(colon) = token.rfind(':').filter(|c| *c > 4) else {
                return Err(self.error("expected an attribute name after the schema URN"));
            };
            let urn = token[..colon].to_owned();
            self.pos += colon + 1;
            Some(urn)
        } else {
            None
        };
        let name = self.parse_name()?;
        let sub = if self.eat(b'.') {
            Some(self.parse_name()?)
        } else {
            None
        };
        if self.peek().is_some_and(|b| !ends_token(b)) {
            return Err(self.error(format!(
                "unexpected {} in the attribute path that starts at {start}",
                self.describe_here()
            )));
        }
        Ok(AttrPath { urn, name, sub })
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        })
    }
}

/// Renders the filter in RFC 7644 syntax, parenthesising only where precedence needs it.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let grouped = |inner: &Filter, f: &mut fmt::Formatter<'_>, weaker: bool| {
            if weaker {
                write!(f, "({inner})")
            } else {
                write!(f, "{inner}")
            }
        };
        match self {
            Filter::Or(a, b) => write!(f, "{a} or {b}"),
            Filter::And(a, b) => {
                grouped(a, f, matches!(**a, Filter::Or(..)))?;
                f.write_str(" and ")?;
                grouped(b, f, matches!(**b, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare(path, op, value) => write!(f, "{path} {op} {value}"),
            Filter::ValuePath(path, inner) => write!(f, "{path}[{inner}]"),
        }
    }
}
