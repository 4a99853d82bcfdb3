//! Connection URLs that never show their credentials: [`redact_url`] and the crate's `SecretUrl`.
//!
//! A password with an unencoded `/`, `?` or `#` does not parse the way its author meant (a URL parser
//! ends the authority there), so the shown form does not trust the parser's idea of where the password
//! ends: everything between `://` and the **last** `@` is userinfo, of which only the user name is
//! shown. A URL that does not parse at all is not shown.

use std::borrow::Cow;
use std::fmt;

/// What [`redact_url`] shows for a URL that does not parse (it may hold a password in any position).
const UNPARSEABLE: &str = "<unparseable amqp url>";

/// `url` with its password replaced by `***`, for messages, logs and `Debug` output. A URL that does not
/// parse is not shown at all.
///
/// ```
/// assert_eq!(
///     saga_amqp::redact_url("amqp://app:p%40ss%2Fw0rd@broker:5672/%2f"),
///     "amqp://app:***@broker:5672/%2f"
/// );
/// assert_eq!(saga_amqp::redact_url("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
/// assert_eq!(saga_amqp::redact_url("amqp://u:a/b@h"), "amqp://u:***@h");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    let parses = url::Url::parse(url).is_ok();
    let Some((scheme, tail)) = url.split_once("://") else {
        return UNPARSEABLE.to_owned();
    };
    match tail.rfind('@') {
        None if parses => url.to_owned(),
        None => UNPARSEABLE.to_owned(),
        Some(at) => {
            let (userinfo, rest) = (&tail[..at], &tail[at + 1..]);
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{rest}"),
                None if parses => url.to_owned(),
                None => format!("{scheme}://***@{rest}"),
            }
        }
    }
}

/// A connection URL whose `Debug` and `Display` hide the password.
#[derive(Clone)]
pub(crate) struct SecretUrl {
    url: String,
    /// Every form of the password the URL holds (as written and percent-decoded), longest first.
    secrets: Vec<String>,
}

impl SecretUrl {
    pub(crate) fn new(url: &str) -> Self {
        let mut secrets = Vec::new();
        if let Some((_, tail)) = url.split_once("://") {
            if let Some(at) = tail.rfind('@') {
                if let Some((_, password)) = tail[..at].split_once(':') {
                    secrets.push(password.to_owned());
                    let decoded =
                        percent_encoding::percent_decode_str(password).decode_utf8_lossy();
                    secrets.push(decoded.into_owned());
                }
            }
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self {
            url: url.to_owned(),
            secrets,
        }
    }

    /// The full URL, for lapin only.
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
        let url = "amqp://user:p%40ss%3Aw%2Frd%23%25%21@127.0.0.1:1/%2f";
        assert_eq!(redact_url(url), "amqp://user:***@127.0.0.1:1/%2f");
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
        assert_eq!(redact_url("amqp://127.0.0.1/"), "amqp://127.0.0.1/");
        assert_eq!(redact_url("amqp://app@h:1"), "amqp://app@h:1");
        assert_eq!(redact_url("not a url :secret@"), UNPARSEABLE);
        assert_eq!(SecretUrl::new("amqp://h").scrub("x"), "x");
    }
}
