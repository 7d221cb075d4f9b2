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
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut column) = (0usize, 1u32, 1u32);
    loop {
        // Skip white space and comments.
        while i < chars.len() {
            match chars[i] {
                '\n' => {
                    line = line.saturating_add(1);
                    column = 1;
                    i += 1;
                }
                c if c.is_whitespace() => {
                    column = column.saturating_add(1);
                    i += 1;
                }
                '/' if chars.get(i + 1) == Some(&'/') => {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        let at = |tok| Token { tok, line, column };
        let Some(&c) = chars.get(i) else {
            tokens.push(at(Tok::Eof));
            return tokens;
        };
        let start = i;
        let tok = if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                Tok::Error(format!(
                    "invalid integer literal: '{}' is not a decimal digit",
                    chars[i]
                ))
            } else {
                let digits: String = chars[start..i].iter().collect();
                match digits.parse::<i64>() {
                    Ok(n) if n <= INT_MAX => Tok::Int(n),
                    _ => Tok::Error(format!(
                        "integer literal too large: {digits} is above 2^62 - 1 ({INT_MAX})"
                    )),
                }
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            Tok::Word(chars[start..i].iter().collect())
        } else if let Some(sym) = SYMBOLS.iter().find(|s| {
            s.chars()
                .enumerate()
                .all(|(k, sc)| chars.get(i + k) == Some(&sc))
        }) {
            i += sym.chars().count();
            Tok::Sym(sym)
        } else {
            Tok::Error(format!("unexpected character '{}'", c.escape_debug()))
        };
        let is_error = matches!(tok, Tok::Error(_));
        tokens.push(at(tok));
        if is_error {
            return tokens;
        }
        column = column.saturating_add((i - start) as u32);
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
