//! `?` placeholders numbered: DataFusion plans `$1`, `$2`, ... as distinct parameters but
//! gives every `?` the same id, while many clients (ADBC's DB-API, JDBC, ODBC) write `?`.
//! The query's own text is kept: only the `?` tokens (found by the SQL tokenizer, so not
//! those inside strings, identifiers or comments) become `$1`, `$2`, ... in order.

use std::borrow::Cow;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

use crate::error::{Error, Result};

/// `query` with its `?` placeholders numbered in order.
pub(crate) fn number_placeholders(query: &str) -> Result<Cow<'_, str>> {
    if !query.contains('?') {
        return Ok(Cow::Borrowed(query));
    }
    // A query the tokenizer refuses is left to the parser, which says what is wrong.
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, query).tokenize_with_location() else {
        return Ok(Cow::Borrowed(query));
    };
    let mut marks: Vec<Location> = Vec::new();
    let mut numbered = false;
    for token in &tokens {
        if let Token::Placeholder(text) = &token.token {
            if text == "?" {
                marks.push(token.span.start);
            } else {
                numbered = true;
            }
        }
    }
    if marks.is_empty() {
        return Ok(Cow::Borrowed(query));
    }
    if numbered {
        return Err(Error::invalid(
            "the query mixes `?` and numbered (`$1`) placeholders: use one kind",
        ));
    }
    let mut marks = marks.into_iter().peekable();
    let mut rewritten = String::with_capacity(query.len() + 4 * marks.len());
    let (mut line, mut column, mut count) = (1, 1, 0);
    for character in query.chars() {
        if marks
            .peek()
            .is_some_and(|mark| mark.line == line && mark.column == column)
        {
            marks.next();
            count += 1;
            rewritten.push_str(&format!("${count}"));
        } else {
            rewritten.push(character);
        }
        if character == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    Ok(Cow::Owned(rewritten))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_marks_become_numbered_outside_strings_and_comments() {
        let query = "SELECT '?', \"a?\" FROM t -- why?\nWHERE k = ? AND\n  v < ?";
        assert_eq!(
            number_placeholders(query).unwrap(),
            "SELECT '?', \"a?\" FROM t -- why?\nWHERE k = $1 AND\n  v < $2"
        );
        assert_eq!(number_placeholders("SELECT $1").unwrap(), "SELECT $1");
        assert!(number_placeholders("SELECT ?, $1").is_err());
    }
}
