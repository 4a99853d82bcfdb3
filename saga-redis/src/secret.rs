//! Connection URLs that never show their credentials: [`redact_url`] and the crate's `SecretUrl`.

use std::borrow::Cow;
use std::fmt;

use url::Url;

/// What [`redact_url`] shows for a URL that does not parse (it may hold a password in any position).
const UNPARSEABLE: &str = "<unparseable redis url>";

/// Query parameters that carry a password (`redis+unix:///run/redis.sock?pass=…`).
fn is_secret_param(name: &str) -> bool {
    name.eq_ignore_ascii_case("pass") || name.eq_ignore_ascii_case("password")
}

/// `url` with its password (and any `pass=`/`password=` query parameter) replaced by `***`, for
/// messages, logs and `Debug` output. A URL that does not parse is not shown at all.
///
/// ```
/// assert_eq!(
///     saga_redis::redact_url("redis://app:p%40ss%2Fw0rd@cache:6379/2"),
///     "redis://app:***@cache:6379/2"
/// );
/// assert_eq!(saga_redis::redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
/// assert_eq!(
///     saga_redis::redact_url("redis+unix:///run/redis.sock?db=1&pass=hunter2"),
///     "redis+unix:///run/redis.sock?db=1&pass=***"
/// );
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return UNPARSEABLE.to_owned();
    };
    if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
        return UNPARSEABLE.to_owned();
    }
    if parsed.query_pairs().any(|(k, _)| is_secret_param(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // `url` percent-encodes the `*` of a query value; show it plainly.
    parsed.as_str().replace("%2A%2A%2A", "***")
}

/// A connection URL whose `Debug` and `Display` hide the password.
#[derive(Clone)]
pub(crate) struct SecretUrl {
    url: String,
    /// Every form of the secrets the URL holds (as written and percent-decoded), longest first.
    secrets: Vec<String>,
}

impl SecretUrl {
    pub(crate) fn new(url: &str) -> Self {
        let mut secrets = Vec::new();
        if let Ok(parsed) = Url::parse(url) {
            if let Some(p) = parsed.password() {
                secrets.push(p.to_owned());
                if let Ok(decoded) = percent_encoding::percent_decode_str(p).decode_utf8() {
                    secrets.push(decoded.into_owned());
                }
            }
            for (k, v) in parsed.query_pairs() {
                if is_secret_param(&k) {
                    secrets.push(v.into_owned());
                }
            }
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self {
            url: url.to_owned(),
            secrets,
        }
    }

    /// The full URL, for redis-rs only.
    pub(crate) fn expose(&self) -> &str {
        &self.url
    }

    /// Replaces every form of the password wherever it occurs in `text`.
    pub(crate) fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), "***"));
            }
        }
        out
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.url))
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_with_special_characters_are_hidden() {
        // p@ss:w/rd#%! percent-encoded, as a redis URL must carry it.
        let url = "redis://user:p%40ss%3Aw%2Frd%23%25%21@127.0.0.1:1/0";
        assert_eq!(redact_url(url), "redis://user:***@127.0.0.1:1/0");
        let s = SecretUrl::new(url);
        let shown = format!("{s:?} {s}");
        assert!(
            !shown.contains("p%40ss") && !shown.contains("p@ss"),
            "{shown}"
        );
        assert_eq!(
            s.scrub("auth failed for p@ss:w/rd#%! (p%40ss%3Aw%2Frd%23%25%21)"),
            "auth failed for *** (***)"
        );
    }

    #[test]
    fn urls_without_secrets_are_unchanged() {
        assert_eq!(redact_url("redis://127.0.0.1/"), "redis://127.0.0.1/");
        assert_eq!(redact_url("redis://app@h:1"), "redis://app@h:1");
        assert_eq!(redact_url("not a url :secret@"), UNPARSEABLE);
        assert_eq!(SecretUrl::new("redis://h").scrub("x"), "x");
    }
}
