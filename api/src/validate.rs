//! Input checks the services share. Each names the argument it rejects, so
//! a form can put the message next to the right field.

use crate::error::{AppError, AppResult};

/// Required text: trimmed, then 1 to `max` characters.
pub(crate) fn required_text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    optional_text(field, value, max)
}

/// Optional text: trimmed, at most `max` characters (empty allowed).
pub(crate) fn optional_text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// A community's URL handle: 3 to 64 of `a-z`, `0-9` and `-`, stored
/// lower-case.
pub(crate) fn slug(field: &str, value: &str) -> AppResult<String> {
    let slug = value.trim().to_lowercase();
    let ok = (3..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(slug)
    } else {
        Err(AppError::bad_input(
            field,
            format!("`{field}` must be 3 to 64 letters, digits or inner dashes"),
        ))
    }
}

/// A search string for `LIKE`: trimmed, lower-cased, at most 100
/// characters, with `%`, `_` and `\` escaped (the pattern uses `\` as its
/// escape character).
pub(crate) fn like_pattern(field: &str, value: &str) -> AppResult<String> {
    let value = optional_text(field, value, 100)?.to_lowercase();
    let mut pattern = String::with_capacity(value.len() + 2);
    pattern.push('%');
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Ok(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            required_text("body", "  hi  ", 5).ok().as_deref(),
            Some("hi")
        );
        assert!(required_text("body", "   ", 5).is_err());
        assert!(required_text("body", "éééééé", 5).is_err());
        assert!(optional_text("bio", "", 5).is_ok());
    }

    #[test]
    fn slugs_and_patterns() {
        assert_eq!(
            slug("slug", " Rust-Lang ").ok().as_deref(),
            Some("rust-lang")
        );
        for bad in ["ab", "-abc", "abc-", "a b c", "ab_c", &"a".repeat(65)] {
            assert!(slug("slug", bad).is_err(), "{bad}");
        }
        assert_eq!(
            like_pattern("q", "50%_a\\b").ok().as_deref(),
            Some("%50\\%\\_a\\\\b%")
        );
    }
}
