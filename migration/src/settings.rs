//! Settings from the environment, read one way by every binary: each part
//! of the program reads its own variables through an [`Env`], and a value
//! that is set but unusable stops the program with an error naming the
//! variable (a typo must not silently fall back to a default).
//!
//! An [`Env`] reads through a lookup function, so tests pass their own
//! variables without touching the process environment, and can record
//! which variables a binary reads (the documentation is checked that way).

use std::{fmt, str::FromStr, time::Duration};

/// A variable that is set but unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.variable, self.message)
    }
}

impl std::error::Error for SettingsError {}

/// Reads variables by name, each read naming its variable in errors.
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    /// The value, with empty treated as unset (as `.env` files often leave
    /// them).
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn error(&self, variable: &'static str, message: impl Into<String>) -> SettingsError {
        SettingsError {
            variable,
            message: message.into(),
        }
    }

    /// The value parsed as `T`, or `default` when unset.
    pub fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, SettingsError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e| self.error(name, format!("`{raw}` cannot be parsed: {e}"))),
        }
    }

    /// A whole number greater than zero.
    pub fn positive<T>(&self, name: &'static str, default: T) -> Result<T, SettingsError>
    where
        T: FromStr + PartialOrd + Default + Copy,
        T::Err: fmt::Display,
    {
        let value = self.parse(name, default)?;
        if value <= T::default() {
            return Err(self.error(name, "must be greater than zero"));
        }
        Ok(value)
    }

    /// A duration given in whole seconds, greater than zero.
    pub fn secs(&self, name: &'static str, default: u64) -> Result<Duration, SettingsError> {
        Ok(Duration::from_secs(self.positive(name, default)?))
    }

    /// A comma-separated list of durations such as `5s,5m,2h` (a retry
    /// schedule); `default` when unset.
    pub fn durations(
        &self,
        name: &'static str,
        default: &str,
    ) -> Result<Vec<Duration>, SettingsError> {
        let text = self.get(name).unwrap_or_else(|| default.to_owned());
        text.split(',')
            .map(|step| parse_duration(step.trim()))
            .collect::<Option<Vec<_>>>()
            .filter(|steps| !steps.is_empty())
            .ok_or_else(|| {
                self.error(
                    name,
                    format!("`{text}` is not a comma-separated list of durations such as 5s,5m,2h"),
                )
            })
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, SettingsError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(self.error(name, format!("`{other}` is not true or false"))),
        }
    }
}

/// `250ms`, `5s`, `5m`, `2h` or `1d`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let millis = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(Duration::from_millis(number.checked_mul(millis)?))
}

/// Development or production (`HEARTH_ENV`). Production tightens defaults
/// and demands explicit secrets as they appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    pub fn from_env(env: &Env<'_>) -> Result<Self, SettingsError> {
        match env.get("HEARTH_ENV").as_deref() {
            None | Some("development" | "dev") => Ok(Self::Development),
            Some("production" | "prod") => Ok(Self::Production),
            Some(other) => Err(env.error(
                "HEARTH_ENV",
                format!("`{other}` is not `development` or `production`"),
            )),
        }
    }
}

/// The process environment, as a lookup for [`Env::new`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_checked_and_named() {
        let lookup = |name: &str| match name {
            "N" => Some(" 3 ".to_owned()),
            "ZERO" => Some("0".to_owned()),
            "EMPTY" => Some(String::new()),
            "YES" => Some("on".to_owned()),
            "WORD" => Some("maybe".to_owned()),
            _ => None,
        };
        let env = Env::new(&lookup);
        assert_eq!(env.positive("N", 1u32), Ok(3));
        assert_eq!(env.positive("UNSET", 7u32), Ok(7));
        assert_eq!(env.get("EMPTY"), None);
        assert_eq!(env.positive("ZERO", 1u32).unwrap_err().variable, "ZERO");
        assert_eq!(env.flag("YES", false), Ok(true));
        let err = env.flag("WORD", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid WORD: `maybe` is not true or false"
        );
        assert_eq!(env.secs("N", 1), Ok(Duration::from_secs(3)));
    }
}
