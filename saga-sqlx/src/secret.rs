//! Connection URLs without their credentials: [`redact_url`] for anything shown, [`SecretUrl`] to hold
//! the real one for the driver.
//!
//! A password with an unencoded `/`, `?` or `#` does not parse the way its author meant (a URL parser
//! ends the authority there), so the shown form never trusts the parser's idea of where the password
//! ends: everything between `://` and the **last** `@` is userinfo, of which only the user name is
//! shown. A URL that does not parse at all is shown as `scheme://***`.

use std::borrow::Cow;
use std::fmt;

use url::form_urlencoded;

/// Whether a query parameter named `key` carries a credential (`password`, `sslpassword`, `pass`,
/// `pwd`, or any key containing `pass`, `secret` or `token`, in any case).
fn is_secret_key(key: &str) -> bool {
    let key = decode(key).to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| key.contains(word))
}

/// `text` percent- and `+`-decoded (lossy), as a driver would read a URL component.
fn decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let pair = format!("x={text}");
    form_urlencoded::parse(pair.as_bytes())
        .next()
        .map_or(Cow::Borrowed(text), |(_, v)| Cow::Owned(v.into_owned()))
}

/// The parts of a URL string: scheme, whether `://` follows it, the userinfo (up to the last `@`, if
/// any) and the rest; and the URL as the parser (and so the driver) reads it.
struct Parts<'a> {
    scheme: &'a str,
    slashes: bool,
    userinfo: Option<&'a str>,
    rest: &'a str,
    parsed: url::Url,
}

impl<'a> Parts<'a> {
    /// `None` if `url` does not parse as a URL at all.
    fn of(url: &'a str) -> Option<Self> {
        let parsed = url::Url::parse(url).ok()?;
        let (scheme, tail) = url.split_once(':')?;
        let (slashes, userinfo, rest) = match tail.strip_prefix("//") {
            Some(after) => match after.rfind('@') {
                Some(at) => (true, Some(&after[..at]), &after[at + 1..]),
                None => (true, None, after),
            },
            None => (false, None, tail),
        };
        Some(Self {
            scheme,
            slashes,
            userinfo,
            rest,
            parsed,
        })
    }

    /// The user name and whether a password follows it. A "user name" with `/`, `?` or `#` in it is
    /// no user name (the `@` was in a path or query): `None`, and nothing of it is shown.
    fn user(&self) -> Option<(&'a str, bool)> {
        let userinfo = self.userinfo?;
        let (user, password) = match userinfo.split_once(':') {
            Some((user, _)) => (user, true),
            None => (userinfo, false),
        };
        (!user.contains(['/', '?', '#'])).then_some((user, password))
    }

    /// Everything that may be a secret, read both ways (userinfo up to the last `@`, and as the parser
    /// reads the URL): the password, the values of credential query parameters; each as written and
    /// decoded, with its pieces between URL delimiters (a misparsed URL hands those to the driver as
    /// a port, a database name or another parameter).
    fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |s: &str| {
            for s in [s.to_owned(), decode(s).into_owned()] {
                out.extend(
                    s.split(['/', '?', '#', '@', ':', '&', '=', ';', ' '])
                        .filter(|p| p.len() >= 3)
                        .map(str::to_owned),
                );
                out.push(s);
            }
        };
        match (self.userinfo, self.user()) {
            (Some(userinfo), Some((user, true))) => add(&userinfo[user.len() + 1..]),
            (Some(userinfo), None) => add(userinfo),
            _ => {}
        }
        if let Some(password) = self.parsed.password() {
            add(password);
        }
        let query = self.parsed.query().unwrap_or_default();
        for (_, value) in query_params(query).filter(|(k, _)| is_secret_key(k)) {
            add(value);
        }
        out.retain(|s| !s.is_empty());
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out.dedup();
        out
    }

    /// The URL as shown: the user name but no password, credential parameters as `***`.
    fn shown(&self) -> String {
        let sep = if self.slashes { "://" } else { ":" };
        let rest = redact_query(self.rest);
        match (self.userinfo, self.user()) {
            (None, _) => format!("{}{sep}{rest}", self.scheme),
            (Some(_), None) => format!("{}{sep}***@{rest}", self.scheme),
            (Some(_), Some((user, password))) => {
                let password = if password { ":***" } else { "" };
                format!("{}{sep}{user}{password}@{rest}", self.scheme)
            }
        }
    }
}

/// The raw `key=value` pairs of `query`.
fn query_params(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
}

/// `rest` with the value of every credential query parameter replaced by `***`, a parameter without a
/// value right after one too (an unencoded `&` in the credential), and the fragment (an unencoded `#`).
fn redact_query(rest: &str) -> String {
    let Some((head, query)) = rest.split_once('?') else {
        return rest.to_owned();
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, false), |(q, _)| (q, true));
    let mut after_secret = false;
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if is_secret_key(k) => {
                after_secret = true;
                format!("{k}=***")
            }
            None if after_secret => "***".to_owned(),
            _ => {
                after_secret = false;
                kv.to_owned()
            }
        })
        .collect();
    let fragment = if fragment { "#***" } else { "" };
    format!("{head}?{}{fragment}", params.join("&"))
}

/// `url` with its credentials replaced by `***`, for messages: the password (everything between the
/// user name and the last `@`), and the values of credential query parameters (`password`,
/// `sslpassword`, any key containing `pass`, `pwd`, `secret` or `token`). A URL that does not parse is
/// shown as `scheme://***`.
///
/// ```
/// assert_eq!(
///     saga_sqlx::redact_url("postgres://app:hunter2@db:5432/orders?sslpassword=x"),
///     "postgres://app:***@db:5432/orders?sslpassword=***"
/// );
/// // An unencoded `/` in the password: nothing of it is shown either way.
/// assert_eq!(saga_sqlx::redact_url("postgres://app:a/b@db/orders"), "postgres://***");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    SecretUrl::new(url).shown
}

/// `text` with each of `secrets` (longest first) of at least `min` bytes replaced by `***`.
fn scrub(secrets: &[String], min: usize, text: &str) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= min) {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// A connection URL whose `Debug` and `Display` are [`redact_url`]'s; the secrets it holds are
/// scrubbed from driver messages too.
#[derive(Clone)]
pub(crate) struct SecretUrl {
    url: String,
    secrets: Vec<String>,
    shown: String,
}

impl SecretUrl {
    pub(crate) fn new(url: &str) -> Self {
        let Some(parts) = Parts::of(url) else {
            // Unparseable: whatever follows the scheme may be a secret.
            let (shown, tail) = match url.split_once("://") {
                Some((scheme, tail)) if !scheme.contains(['/', '?', '#', '@', ' ']) => {
                    (format!("{scheme}://***"), tail)
                }
                _ => ("***".to_owned(), url),
            };
            return Self {
                url: url.to_owned(),
                secrets: vec![tail.to_owned()],
                shown,
            };
        };
        let mut this = Self {
            url: url.to_owned(),
            secrets: parts.secrets(),
            shown: String::new(),
        };
        // The shown form is scrubbed too (the shown form has no whole secret: only pieces of three
        // bytes or more, which may sit where a host or a parameter is shown, are looked for).
        this.shown = scrub(&this.secrets, 3, &parts.shown());
        this
    }

    /// The full URL, for the driver only.
    pub(crate) fn expose(&self) -> &str {
        &self.url
    }

    /// `text` with every secret of the URL replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        scrub(&self.secrets, 1, text)
    }

    /// `error`, unless its message or `Debug` holds a secret: then a configuration error carrying the
    /// scrubbed message (so a source chain printed by the caller shows no secret either).
    pub(crate) fn scrub_error(&self, error: sqlx::Error) -> sqlx::Error {
        let (shown, debug) = (error.to_string(), format!("{error:?}"));
        if self.scrub(&shown) == shown && self.scrub(&debug) == debug {
            error
        } else {
            sqlx::Error::Configuration(self.scrub(&shown).into())
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed() {
        let s = SecretUrl::new("postgres://u:secret@h/d");
        assert!(!format!("{s:?} {s}").contains("secret"));
        assert_eq!(s.scrub("auth failed: secret"), "auth failed: ***");
        // A misparsed password's pieces reach the driver as a port and a database name.
        let s = SecretUrl::new("postgres://localhost:5432/hidden@h/d?token=t%2Bk");
        assert_eq!(
            s.scrub(r#"database "hidden@h/d" does not exist; t+k"#),
            r#"database "***@h/d" does not exist; ***"#
        );
        let e = s.scrub_error(sqlx::Error::Protocol("bad hidden".into()));
        assert!(!format!("{e} {e:?}").contains("hidden"), "{e:?}");
    }
}
