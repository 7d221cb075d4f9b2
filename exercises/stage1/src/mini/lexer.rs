//! The lexer: Mini source text to tokens, each with its 1-based line and column.
//!
//! Columns count characters, not bytes, so that an error points where an editor does.
//! A lexical error (a stray character, an integer literal too large) becomes the last
//! token, [`Tok::Error`]; the parser reports it when it gets there, so that errors come
//! out in the order of the text.

use crate::value::INT_MAX;

/// The words that cannot name a variable, a function or a parameter.
pub const RESERVED: [&str; 10] = [
    "len", "print", "fn", "let", "if", "else", "while", "return", "true", "false",
];

/// The symbols of Mini, longest first so that `<=` is found before `<`.
const SYMBOLS: [&str; 25] = [
    "==", "!=", "<=", ">=", "&&", "||", "(", ")", "{", "}", "[", "]", ",", ";", ":", ".", "=", "<",
    ">", "+", "-", "*", "/", "%", "!",
];

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A decimal integer literal, at most 2^62 − 1.
    Int(i64),
    /// An identifier or a reserved word.
    Word(String),
    /// A punctuation or operator symbol.
    Sym(&'static str),
    /// The end of the text.
    Eof,
    /// A lexical error: the message. Nothing follows it.
    Error(String),
}

/// A token and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
    pub column: u32,
}

impl Tok {
    /// The token as an error message quotes it ("found ';'").
    pub fn describe(&self) -> String {
        match self {
            Tok::Int(n) => format!("'{n}'"),
            Tok::Word(w) => format!("'{w}'"),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Eof => "the end of the file".to_string(),
            Tok::Error(_) => "an invalid token".to_string(),
        }
    }
}

/// Splits `source` into tokens, ending with [`Tok::Eof`] or, at the first lexical
/// error, [`Tok::Error`].
pub fn tokenize(source: &str) -> Vec<Token> {
    let mut lexer = Lexer::new(source);
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token();
        let last = matches!(token.tok, Tok::Eof | Tok::Error(_));
        tokens.push(token);
        if last {
            return tokens;
        }
    }
}

/// Makes the tokens of a text one at a time, as the parser asks for them: a file is
/// never held as a list of tokens, so rejecting a 10 MB file of `(` at its 1,001st
/// costs 1,001 tokens, not ten million.
#[derive(Clone, Debug)]
pub struct Lexer<'s> {
    source: &'s str,
    /// Byte offset of the next character.
    at: usize,
    line: u32,
    column: u32,
}

impl<'s> Lexer<'s> {
    /// A lexer at the start of `source`.
    pub fn new(source: &'s str) -> Lexer<'s> {
        Lexer {
            source,
            at: 0,
            line: 1,
            column: 1,
        }
    }

    /// The character at the byte offset `at`, if any.
    fn char_at(&self, at: usize) -> Option<char> {
        self.source.get(at..).and_then(|rest| rest.chars().next())
    }

    /// The next token: after [`Tok::Eof`] or a [`Tok::Error`], the same again.
    pub fn next_token(&mut self) -> Token {
        let bytes = self.source.as_bytes();
        // Skip white space and comments.
        while let Some(c) = self.char_at(self.at) {
            match c {
                '\n' => {
                    self.line = self.line.saturating_add(1);
                    self.column = 1;
                    self.at += 1;
                }
                c if c.is_whitespace() => {
                    self.column = self.column.saturating_add(1);
                    self.at += c.len_utf8();
                }
                '/' if bytes.get(self.at + 1) == Some(&b'/') => {
                    while self.at < bytes.len() && bytes[self.at] != b'\n' {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
        let (line, column) = (self.line, self.column);
        let at = |tok| Token { tok, line, column };
        let Some(c) = self.char_at(self.at) else {
            return at(Tok::Eof);
        };
        let start = self.at;
        let mut end = start;
        let tok = if c.is_ascii_digit() {
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            match self.char_at(end) {
                Some(next) if next.is_alphanumeric() || next == '_' => Tok::Error(format!(
                    "invalid integer literal: '{next}' is not a decimal digit"
                )),
                _ => {
                    let digits = &self.source[start..end];
                    match digits.parse::<i64>() {
                        Ok(n) if n <= INT_MAX => Tok::Int(n),
                        _ => Tok::Error(format!(
                            "integer literal too large: {digits} is above 2^62 - 1 ({INT_MAX})"
                        )),
                    }
                }
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                end += 1;
            }
            Tok::Word(self.source[start..end].to_string())
        } else if let Some(sym) = SYMBOLS
            .iter()
            .find(|s| self.source[start..].starts_with(**s))
        {
            end += sym.len();
            Tok::Sym(sym)
        } else {
            Tok::Error(format!("unexpected character '{}'", c.escape_debug()))
        };
        if matches!(tok, Tok::Error(_)) {
            // Nothing follows an error: stay on it.
            return at(tok);
        }
        // Symbols, digits and words are ASCII: one column per byte.
        self.column = self.column.saturating_add((end - start) as u32);
        self.at = end;
        at(tok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(source: &str) -> Vec<Tok> {
        tokenize(source).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn symbols_words_and_integers() {
        assert_eq!(
            toks("let x=a<=b!=!c % 10;"),
            vec![
                Tok::Word("let".into()),
                Tok::Word("x".into()),
                Tok::Sym("="),
                Tok::Word("a".into()),
                Tok::Sym("<="),
                Tok::Word("b".into()),
                Tok::Sym("!="),
                Tok::Sym("!"),
                Tok::Word("c".into()),
                Tok::Sym("%"),
                Tok::Int(10),
                Tok::Sym(";"),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn positions_are_one_based_and_skip_comments() {
        let tokens = tokenize("// note\n  foo // more\n\tx");
        let positions: Vec<(u32, u32)> = tokens.iter().map(|t| (t.line, t.column)).collect();
        assert_eq!(positions, vec![(2, 3), (3, 2), (3, 3)]);
    }

    #[test]
    fn the_largest_integer_is_accepted_and_the_next_is_not() {
        assert_eq!(toks("4611686018427387903")[0], Tok::Int(INT_MAX));
        let tokens = tokenize("x = 4611686018427387904;");
        assert_eq!(tokens.len(), 3);
        assert_eq!((tokens[2].line, tokens[2].column), (1, 5));
        assert!(matches!(&tokens[2].tok, Tok::Error(m) if m.contains("integer literal too large")));
        assert!(
            matches!(&toks("99999999999999999999999")[0], Tok::Error(m) if m.contains("too large"))
        );
    }

    #[test]
    fn a_stray_character_is_an_error_where_it_stands() {
        let tokens = tokenize("a\n  é");
        assert_eq!((tokens[1].line, tokens[1].column), (2, 3));
        assert_eq!(tokens[1].tok, Tok::Error("unexpected character 'é'".into()));
        assert!(matches!(&toks("12ab")[0], Tok::Error(m) if m.contains("invalid integer")));
        assert!(matches!(&toks("a & b")[1], Tok::Error(_)));
    }
}
