//! Matching typenames and names against a glob or a regular expression.

use regex::Regex;

use crate::error::{Error, Result};
use crate::protocol::Pattern;

/// A compiled pattern, anchored at both ends.
pub struct Matcher(Regex);

impl Matcher {
    /// Compiles a glob (`*`, `?`, `[...]`) or, if `pattern.regex`, a regular expression.
    pub fn new(pattern: &Pattern) -> Result<Matcher> {
        let source = if pattern.regex {
            format!("^(?:{})$", pattern.text)
        } else {
            glob_to_regex(&pattern.text)
        };
        Regex::new(&source)
            .map(Matcher)
            .map_err(|error| Error::invalid(format!("invalid pattern `{}`: {error}", pattern.text)))
    }

    /// True if `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

fn glob_to_regex(glob: &str) -> String {
    // `(?s)`: `*` and `?` match any character, a newline too, as in fnmatch.
    let mut source = String::from("(?s)^");
    let mut in_class = false;
    for character in glob.chars() {
        match character {
            '*' if !in_class => source.push_str(".*"),
            '?' if !in_class => source.push('.'),
            '[' if !in_class => {
                in_class = true;
                source.push('[');
            }
            ']' if in_class => {
                in_class = false;
                source.push(']');
            }
            '!' if in_class && source.ends_with('[') => source.push('^'),
            other if in_class && other != '\\' => source.push(other),
            other => source.push_str(&regex::escape(&other.to_string())),
        }
    }
    if in_class {
        // An unclosed `[` is a literal bracket, as in shells.
        return format!("^{}$", regex::escape(glob));
    }
    source.push('$');
    source
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(text: &str) -> Matcher {
        Matcher::new(&Pattern {
            text: text.into(),
            regex: false,
            limit: 5,
        })
        .unwrap()
    }

    #[test]
    fn globs_match_typenames() {
        assert!(glob("vineyard::Tensor<*>").matches("vineyard::Tensor<double>"));
        assert!(!glob("vineyard::Tensor<*>").matches("vineyard::Array"));
        assert!(glob("*").matches("anything"));
        assert!(glob("a?c").matches("abc"));
        assert!(glob("[ab]x").matches("bx") && !glob("[!ab]x").matches("bx"));
        assert!(glob("a[b").matches("a[b"));
        assert!(glob("a.b").matches("a.b") && !glob("a.b").matches("axb"));
    }

    /// Found by the `metadata_tree` fuzz target: an object whose typename holds a newline
    /// was missing from `list_data("*")`.
    #[test]
    fn globs_match_newlines() {
        assert!(glob("*").matches("vineyard\nTensor"));
        assert!(glob("a*b").matches("a\n\nb"));
        assert!(glob("a?b").matches("a\nb"));
        assert!(glob("[!x]").matches("\n"));
    }

    #[test]
    fn bad_regex_is_a_clear_error() {
        let error = Matcher::new(&Pattern {
            text: "(".into(),
            regex: true,
            limit: 1,
        })
        .err()
        .unwrap();
        assert!(error.to_string().contains("invalid pattern `(`"));
    }
}
