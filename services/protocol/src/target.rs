//! Target normalization: the many ways agencies write one target become one key.
//!
//! `https://t.me/Foo`, `t.me/foo`, `@foo` and `foo` are one Telegram target (`foo`).
//! Names that the platform treats case-insensitively are lower-cased; opaque ids that are
//! case-sensitive (invite hashes, YouTube video and channel ids, Instagram shortcodes) keep
//! their case. Platforms without a rule of their own get the generic URL rule.

use url::Url;

/// Why a target could not be normalized.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("empty target")]
    Empty,
    #[error("target {0:?} contains white space or control characters")]
    BadCharacters(String),
    #[error("target {0:?} is not a valid URL")]
    BadUrl(String),
    #[error("target {target:?} is not a {platform} address (host {host:?})")]
    WrongHost {
        platform: String,
        target: String,
        host: String,
    },
    #[error("target {0:?} names no account, channel, group or post")]
    NoPath(String),
    #[error("target is longer than 2048 characters")]
    TooLong,
}

/// A normalized target: the key under which referrals of one platform merge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NormalizedTarget(String);

impl NormalizedTarget {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for NormalizedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Normalizes `raw` for `platform` (a lower-case platform name).
pub fn normalize(platform: &str, raw: &str) -> Result<NormalizedTarget, TargetError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(TargetError::Empty);
    }
    if t.len() > 2048 {
        return Err(TargetError::TooLong);
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(TargetError::BadCharacters(t.to_string()));
    }
    let out = match platform {
        "telegram" => telegram(t)?,
        "tamtam" => handle_platform(platform, t, &["tamtam.chat", "tt.me"])?,
        "x" | "twitter" => x(t)?,
        "facebook" => facebook(t)?,
        "instagram" => instagram(t)?,
        "youtube" => youtube(t)?,
        _ => generic(t)?,
    };
    if out.is_empty() {
        return Err(TargetError::NoPath(t.to_string()));
    }
    Ok(NormalizedTarget(out))
}

/// A parsed address: host without `www.`/`m.`/`mobile.`, path segments, query pairs.
struct Address {
    host: String,
    segments: Vec<String>,
    query: Vec<(String, String)>,
}

fn looks_like_url(t: &str) -> bool {
    t.contains("://") || {
        let first = t.split('/').next().unwrap_or("");
        first.contains('.') && !first.starts_with('@') && t.contains('/')
            || first.ends_with(".me")
            || first.ends_with(".com")
            || first.ends_with(".chat")
            || first.ends_with(".be")
    }
}

fn parse_address(t: &str) -> Result<Address, TargetError> {
    let with_scheme = if t.contains("://") {
        t.to_string()
    } else {
        format!("https://{t}")
    };
    let url = Url::parse(&with_scheme).map_err(|_| TargetError::BadUrl(t.to_string()))?;
    let host = url
        .host_str()
        .ok_or_else(|| TargetError::BadUrl(t.to_string()))?
        .to_ascii_lowercase();
    let host = ["www.", "m.", "mobile.", "web."].iter().fold(host, |h, p| {
        h.strip_prefix(p).map(str::to_string).unwrap_or(h)
    });
    let segments = url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let query = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(Address {
        host,
        segments,
        query,
    })
}

fn expect_host(platform: &str, t: &str, a: &Address, hosts: &[&str]) -> Result<(), TargetError> {
    if hosts.contains(&a.host.as_str()) {
        Ok(())
    } else {
        Err(TargetError::WrongHost {
            platform: platform.to_string(),
            target: t.to_string(),
            host: a.host.clone(),
        })
    }
}

fn strip_at(s: &str) -> &str {
    s.strip_prefix('@').unwrap_or(s)
}

/// A platform where `@name`, `name` and `host/name[/post]` are one target.
fn handle_platform(platform: &str, t: &str, hosts: &[&str]) -> Result<String, TargetError> {
    if !looks_like_url(t) {
        return Ok(strip_at(t).to_ascii_lowercase());
    }
    let a = parse_address(t)?;
    expect_host(platform, t, &a, hosts)?;
    let mut segs = a.segments.iter();
    let name = segs
        .next()
        .ok_or_else(|| TargetError::NoPath(t.to_string()))?;
    let mut out = strip_at(name).to_ascii_lowercase();
    if let Some(post) = segs.next() {
        out.push('/');
        out.push_str(post);
    }
    Ok(out)
}

fn telegram(t: &str) -> Result<String, TargetError> {
    if let Some(rest) = t.strip_prefix("tg://") {
        // tg://resolve?domain=foo
        let a = parse_address(&format!("https://tg/{rest}"))?;
        if let Some((_, v)) = a.query.iter().find(|(k, _)| k == "domain") {
            return Ok(v.to_ascii_lowercase());
        }
        return Err(TargetError::BadUrl(t.to_string()));
    }
    if !looks_like_url(t) {
        // Numeric ids (e.g. -1001234567890) and invite hashes (+AbC) keep their form.
        if let Some(invite) = t.strip_prefix('+') {
            return Ok(format!("+{invite}"));
        }
        return Ok(strip_at(t).to_ascii_lowercase());
    }
    let a = parse_address(t)?;
    expect_host("telegram", t, &a, &["t.me", "telegram.me", "telegram.dog"])?;
    let segs: Vec<&str> = a.segments.iter().map(String::as_str).collect();
    let segs = match segs.as_slice() {
        ["s", rest @ ..] => rest.to_vec(),
        other => other.to_vec(),
    };
    match segs.as_slice() {
        [] => Err(TargetError::NoPath(t.to_string())),
        ["joinchat", hash, ..] => Ok(format!("+{hash}")),
        [invite, ..] if invite.starts_with('+') => Ok((*invite).to_string()),
        ["c", chat, post, ..] => Ok(format!("c/{chat}/{post}")),
        ["c", chat] => Ok(format!("c/{chat}")),
        [name] => Ok(strip_at(name).to_ascii_lowercase()),
        [name, post, ..] => Ok(format!("{}/{post}", strip_at(name).to_ascii_lowercase())),
    }
}

fn x(t: &str) -> Result<String, TargetError> {
    if !looks_like_url(t) {
        return Ok(strip_at(t).to_ascii_lowercase());
    }
    let a = parse_address(t)?;
    expect_host("x", t, &a, &["x.com", "twitter.com"])?;
    let segs: Vec<&str> = a.segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        [] => Err(TargetError::NoPath(t.to_string())),
        // Status ids are global: the author's handle in the URL does not matter.
        [_, "status", id, ..] | ["i", "web", "status", id, ..] => Ok(format!("status/{id}")),
        [name, ..] => Ok(strip_at(name).to_ascii_lowercase()),
    }
}

fn facebook(t: &str) -> Result<String, TargetError> {
    if !looks_like_url(t) {
        return Ok(strip_at(t).to_ascii_lowercase());
    }
    let a = parse_address(t)?;
    expect_host("facebook", t, &a, &["facebook.com", "fb.com", "fb.me"])?;
    let segs: Vec<&str> = a.segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["profile.php"] | ["profile.php", ..] => a
            .query
            .iter()
            .find(|(k, _)| k == "id")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| TargetError::NoPath(t.to_string())),
        [] => Err(TargetError::NoPath(t.to_string())),
        ["groups", g, "posts", p, ..] => Ok(format!("groups/{}/posts/{p}", g.to_ascii_lowercase())),
        ["groups", g, ..] => Ok(format!("groups/{}", g.to_ascii_lowercase())),
        [name, "posts", p, ..] => Ok(format!("{}/posts/{p}", name.to_ascii_lowercase())),
        [name, ..] => Ok(name.to_ascii_lowercase()),
    }
}

fn instagram(t: &str) -> Result<String, TargetError> {
    if !looks_like_url(t) {
        return Ok(strip_at(t).to_ascii_lowercase());
    }
    let a = parse_address(t)?;
    expect_host("instagram", t, &a, &["instagram.com", "instagr.am"])?;
    let segs: Vec<&str> = a.segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        [] => Err(TargetError::NoPath(t.to_string())),
        // Shortcodes are case-sensitive.
        ["p" | "reel" | "tv", code, ..] => Ok(format!("p/{code}")),
        [_, "p" | "reel", code, ..] => Ok(format!("p/{code}")),
        [name, ..] => Ok(strip_at(name).to_ascii_lowercase()),
    }
}

fn youtube(t: &str) -> Result<String, TargetError> {
    if !looks_like_url(t) {
        if let Some(handle) = t.strip_prefix('@') {
            return Ok(format!("@{}", handle.to_ascii_lowercase()));
        }
        if t.len() == 24 && t.starts_with("UC") {
            return Ok(format!("channel/{t}"));
        }
        return Ok(format!("@{}", t.to_ascii_lowercase()));
    }
    let a = parse_address(t)?;
    expect_host("youtube", t, &a, &["youtube.com", "youtu.be"])?;
    let segs: Vec<&str> = a.segments.iter().map(String::as_str).collect();
    if a.host == "youtu.be" {
        return match segs.as_slice() {
            [id, ..] => Ok(format!("watch/{id}")),
            [] => Err(TargetError::NoPath(t.to_string())),
        };
    }
    match segs.as_slice() {
        ["watch"] | ["watch", ..] => a
            .query
            .iter()
            .find(|(k, _)| k == "v")
            .map(|(_, v)| format!("watch/{v}"))
            .ok_or_else(|| TargetError::NoPath(t.to_string())),
        ["shorts" | "live" | "embed", id, ..] => Ok(format!("watch/{id}")),
        ["channel", id, ..] => Ok(format!("channel/{id}")),
        ["c", name, ..] => Ok(format!("c/{}", name.to_ascii_lowercase())),
        ["user", name, ..] => Ok(format!("user/{}", name.to_ascii_lowercase())),
        [handle, ..] if handle.starts_with('@') => Ok(handle.to_ascii_lowercase()),
        [name, ..] => Ok(format!("c/{}", name.to_ascii_lowercase())),
        [] => Err(TargetError::NoPath(t.to_string())),
    }
}

/// Any other platform: a URL becomes `host/path[?query]` (host lower-cased, `www.` and the
/// scheme, fragment and trailing slash dropped, query kept in its order); a bare name is
/// lower-cased without a leading `@`.
fn generic(t: &str) -> Result<String, TargetError> {
    if !t.contains("://") && !t.contains('/') {
        return Ok(strip_at(t).to_ascii_lowercase());
    }
    let a = parse_address(t)?;
    let mut out = a.host.clone();
    for s in &a.segments {
        out.push('/');
        out.push_str(s);
    }
    if !a.query.is_empty() {
        let q: Vec<String> = a.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push('?');
        out.push_str(&q.join("&"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(platform: &str, raw: &str) -> String {
        normalize(platform, raw).unwrap().into_string()
    }

    fn all_equal(platform: &str, forms: &[&str], expect: &str) {
        for f in forms {
            assert_eq!(n(platform, f), expect, "{platform}: {f}");
        }
    }

    #[test]
    fn telegram_rule() {
        all_equal(
            "telegram",
            &[
                "https://t.me/Foo",
                "t.me/foo",
                "@foo",
                "foo",
                "FOO",
                "http://telegram.me/foo/",
                "https://t.me/s/foo",
                "tg://resolve?domain=Foo",
                "https://www.t.me/foo?start=1",
            ],
            "foo",
        );
        assert_eq!(n("telegram", "https://t.me/Foo/123"), "foo/123");
        assert_eq!(n("telegram", "https://t.me/+AbCdEf"), "+AbCdEf");
        assert_eq!(n("telegram", "https://t.me/joinchat/AbCdEf"), "+AbCdEf");
        assert_eq!(n("telegram", "+AbCdEf"), "+AbCdEf");
        assert_eq!(n("telegram", "https://t.me/c/12345/67"), "c/12345/67");
        assert_eq!(n("telegram", "-1001234567890"), "-1001234567890");
        assert!(matches!(
            normalize("telegram", "https://x.com/foo"),
            Err(TargetError::WrongHost { .. })
        ));
        assert!(matches!(
            normalize("telegram", "https://t.me/"),
            Err(TargetError::NoPath(_))
        ));
    }

    #[test]
    fn tamtam_rule() {
        all_equal(
            "tamtam",
            &[
                "https://tamtam.chat/Foo",
                "tamtam.chat/foo",
                "@foo",
                "foo",
                "https://tt.me/foo",
            ],
            "foo",
        );
        assert_eq!(n("tamtam", "https://tamtam.chat/foo/AbC"), "foo/AbC");
        assert!(normalize("tamtam", "https://t.me/foo").is_err());
    }

    #[test]
    fn x_rule() {
        all_equal(
            "x",
            &[
                "https://x.com/Foo",
                "https://twitter.com/foo",
                "x.com/foo",
                "@Foo",
                "foo",
                "https://mobile.twitter.com/foo?lang=en",
            ],
            "foo",
        );
        assert_eq!(n("x", "https://x.com/Foo/status/123"), "status/123");
        assert_eq!(
            n("x", "https://twitter.com/bar/status/123?s=20"),
            "status/123"
        );
        assert!(normalize("x", "https://facebook.com/foo").is_err());
    }

    #[test]
    fn facebook_rule() {
        all_equal(
            "facebook",
            &[
                "https://www.facebook.com/Foo.Bar",
                "facebook.com/foo.bar",
                "https://m.facebook.com/foo.bar/",
                "foo.bar",
                "@foo.bar",
            ],
            "foo.bar",
        );
        assert_eq!(
            n("facebook", "https://www.facebook.com/profile.php?id=1234"),
            "1234"
        );
        assert_eq!(
            n("facebook", "https://facebook.com/groups/MyGroup/"),
            "groups/mygroup"
        );
        assert_eq!(
            n("facebook", "https://facebook.com/groups/g/posts/99"),
            "groups/g/posts/99"
        );
        assert_eq!(
            n("facebook", "https://fb.com/Page/posts/42"),
            "page/posts/42"
        );
    }

    #[test]
    fn instagram_rule() {
        all_equal(
            "instagram",
            &[
                "https://www.instagram.com/Foo/",
                "instagram.com/foo",
                "@foo",
                "foo",
            ],
            "foo",
        );
        assert_eq!(
            n("instagram", "https://instagram.com/p/CxYz12/"),
            "p/CxYz12"
        );
        assert_eq!(
            n("instagram", "https://instagram.com/reel/CxYz12"),
            "p/CxYz12"
        );
    }

    #[test]
    fn youtube_rule() {
        all_equal(
            "youtube",
            &[
                "https://www.youtube.com/@Foo",
                "youtube.com/@foo",
                "@foo",
                "foo",
            ],
            "@foo",
        );
        all_equal(
            "youtube",
            &[
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                "https://youtu.be/dQw4w9WgXcQ",
                "https://youtube.com/shorts/dQw4w9WgXcQ",
            ],
            "watch/dQw4w9WgXcQ",
        );
        all_equal(
            "youtube",
            &[
                "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
                "UCabcdefghijklmnopqrstuv",
            ],
            "channel/UCabcdefghijklmnopqrstuv",
        );
        assert_eq!(n("youtube", "https://youtube.com/c/SomeName"), "c/somename");
        assert_eq!(
            n("youtube", "https://youtube.com/user/SomeName"),
            "user/somename"
        );
    }

    #[test]
    fn generic_rule() {
        all_equal(
            "vk",
            &[
                "https://www.VK.com/club1/",
                "http://vk.com/club1",
                "vk.com/club1#top",
            ],
            "vk.com/club1",
        );
        assert_eq!(
            n("vk", "https://vk.com/wall?id=1&x=2"),
            "vk.com/wall?id=1&x=2"
        );
        assert_eq!(n("vk", "@Club1"), "club1");
    }

    #[test]
    fn bad_targets() {
        assert_eq!(normalize("telegram", "   "), Err(TargetError::Empty));
        assert!(matches!(
            normalize("telegram", "foo bar"),
            Err(TargetError::BadCharacters(_))
        ));
        assert_eq!(
            normalize("vk", &"a".repeat(3000)),
            Err(TargetError::TooLong)
        );
        assert!(normalize("vk", "https://").is_err());
    }
}
