//! The tests of cookie sessions.

use super::*;
use crate::{Environ, InitError, RequestBody};

const SECRET: &[u8] = b"an example secret of 32+ bytes!!";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn sample() -> Session {
    let mut s = Session::new();
    s.insert("user", "ann").unwrap();
    s.insert("roles", ["admin", "dev"]).unwrap();
    s.insert("n", 42).unwrap();
    s
}

#[test]
fn round_trips() {
    for encrypted in [false, true] {
        let config = SessionConfig::new(SECRET).unwrap().encrypted(encrypted);
        let value = config.encode_at(&sample(), at(1_000)).unwrap();
        assert!(
            value.starts_with(if encrypted { "e1." } else { "s1." }),
            "{value}"
        );
        let back = config.decode_at(&value, at(1_001)).unwrap();
        assert_eq!(back.get::<String>("user").as_deref(), Some("ann"));
        assert_eq!(back.get::<Vec<String>>("roles").unwrap(), ["admin", "dev"]);
        assert_eq!(back.get::<u8>("n"), Some(42));
        assert!(!back.is_changed());
        assert_eq!(back.expires(), Some(at(1_000 + 86_400)));
        assert_eq!(back.keys().collect::<Vec<_>>(), ["n", "roles", "user"]);
        // Encrypted cookies hide the data; signed ones do not.
        let readable = URL_SAFE_NO_PAD
            .decode(value[3..].split('.').next().unwrap())
            .map(|b| String::from_utf8_lossy(&b).contains("ann"))
            .unwrap_or(false);
        assert_eq!(readable, !encrypted);
    }
}

#[test]
fn nonces_are_random() {
    let config = SessionConfig::new(SECRET).unwrap().encrypted(true);
    let a = config.encode(&sample()).unwrap();
    let b = config.encode(&sample()).unwrap();
    assert_ne!(a, b);
}

#[test]
fn tampering_gives_an_empty_session() {
    for encrypted in [false, true] {
        let config = SessionConfig::new(SECRET).unwrap().encrypted(encrypted);
        let value = config.encode_at(&sample(), at(1_000)).unwrap();
        // Flip each character in turn.
        for i in 0..value.len() {
            let mut bytes = value.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered == value {
                continue;
            }
            let decoded = config.decode_at(&tampered, at(1_001));
            // Base64 padding bits can change without changing the
            // bytes; anything else must fail.
            if let Some(s) = decoded {
                assert_eq!(s.data, sample().data, "{i}");
            }
        }
        // Truncated, extended, swapped.
        assert!(
            config
                .decode_at(&value[..value.len() - 1], at(1_001))
                .is_none()
        );
        assert!(config.decode_at(&format!("{value}x"), at(1_001)).is_none());
        assert!(config.decode_at("", at(1_001)).is_none());
        assert!(config.decode_at("s1.", at(1_001)).is_none());
        assert!(config.decode_at("e1.", at(1_001)).is_none());
        assert!(config.decode_at(&"a".repeat(5000), at(1_001)).is_none());
    }
    // Another key, another cookie name, or signed vs encrypted.
    let config = SessionConfig::new(SECRET).unwrap();
    let value = config.encode_at(&sample(), at(1_000)).unwrap();
    let other_key = SessionConfig::new(&[1; 32]).unwrap();
    assert!(other_key.decode_at(&value, at(1_001)).is_none());
    let other_name = config.clone().cookie_name("other");
    assert!(other_name.decode_at(&value, at(1_001)).is_none());
    let enc = config.clone().encrypted(true);
    let sealed = enc.encode_at(&sample(), at(1_000)).unwrap();
    assert!(
        enc.clone()
            .cookie_name("x")
            .decode_at(&sealed, at(1_001))
            .is_none()
    );
    // Decoding accepts both formats with the same key.
    assert!(config.decode_at(&sealed, at(1_001)).is_some());
    assert!(enc.decode_at(&value, at(1_001)).is_some());
}

#[test]
fn expiry() {
    let config = SessionConfig::new(SECRET)
        .unwrap()
        .max_age(Duration::from_secs(60));
    let value = config.encode_at(&sample(), at(1_000)).unwrap();
    assert!(config.decode_at(&value, at(1_059)).is_some());
    assert!(config.decode_at(&value, at(1_060)).is_none());
    assert!(config.decode_at(&value, at(99_999)).is_none());
}

#[test]
fn previous_secrets() {
    let old = SessionConfig::new(&[1; 32]).unwrap();
    let value = old.encode_at(&sample(), at(1_000)).unwrap();
    let new = SessionConfig::new(SECRET).unwrap();
    assert!(new.decode_at(&value, at(1_001)).is_none());
    let rotated = new.previous_secret(&[1; 32]).unwrap();
    assert!(rotated.decode_at(&value, at(1_001)).is_some());
    assert!(
        SessionConfig::new(SECRET)
            .unwrap()
            .previous_secret(b"x")
            .is_err()
    );
}

#[test]
fn short_or_missing_secrets_are_refused() {
    let err = SessionConfig::new(&[0; 31]).unwrap_err();
    assert!(matches!(err, SessionError::ShortSecret { len: 31 }));
    assert_eq!(
        err.to_string(),
        "sessions need a secret_key of at least 32 bytes (it has 31): set it with \
         `RustgiAppConfig secret_key VALUE` in the app's virtual host, VALUE a random \
         string kept secret (`openssl rand -hex 32` makes one)"
    );
    let err = SessionConfig::from_config(&Config::new()).unwrap_err();
    assert!(matches!(err, SessionError::MissingSecret));
    let init: InitError = err.into();
    assert!(init.to_string().contains("secret_key"));
    let short = Config::from_iter([(SECRET_KEY, "x".repeat(31))]);
    assert!(SessionConfig::from_config(&short).is_err());
    let ok = Config::from_iter([(SECRET_KEY, "x".repeat(32))]);
    assert!(SessionConfig::from_config(&ok).is_ok());
}

#[test]
fn settings_from_config() {
    let config = Config::from_iter([
        (SECRET_KEY, "k".repeat(40).as_str()),
        ("secret_key_previous", "p".repeat(32).as_str()),
        ("session_encrypted", "on"),
        ("session_cookie", "sid"),
        ("session_max_age", "3600"),
        ("session_path", "/app"),
        ("session_domain", "example.com"),
        ("session_secure", "on"),
        ("session_same_site", "none"),
        ("session_http_only", "off"),
    ]);
    let s = SessionConfig::from_config(&config).unwrap();
    assert_eq!(s.name(), "sid");
    let mut headers = HeaderMap::new();
    s.save(&sample(), &mut headers).unwrap();
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("sid=e1."), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/app; Domain=example.com; Max-Age=3600; Secure; SameSite=None"),
        "{cookie}"
    );
    assert!(format!("{s:?}").contains("<secret>"));
    assert!(!format!("{s:?}").contains("kkkk"));

    let bad = |key: &str, value: &str| {
        let config = Config::from_iter([(SECRET_KEY, "k".repeat(32).as_str()), (key, value)]);
        SessionConfig::from_config(&config).unwrap_err().to_string()
    };
    assert!(bad("session_same_site", "sometimes").contains("SameSite"));
    assert!(bad("session_same_site", "None").contains("Secure"));
    assert!(bad("session_secure", "maybe").contains("session_secure"));
    assert!(bad("session_encrypted", "2").contains("session_encrypted"));
    assert!(bad("session_max_age", "-1").contains("session_max_age"));
    assert!(bad("session_cookie", "a b").contains("cookie"));
    assert!(bad("session_path", "rel").contains("path"));
    assert!(bad("session_domain", "a/b").contains("domain"));
    assert!(bad("secret_key_previous", "short").contains("32"));
}

#[test]
fn cookie_attributes() {
    let s = SessionConfig::new(SECRET).unwrap();
    let save = |s: &SessionConfig, session: &Session| {
        let mut h = HeaderMap::new();
        s.save(session, &mut h).unwrap();
        h["set-cookie"].to_str().unwrap().to_owned()
    };
    let plain = save(&s, &sample());
    assert!(
        plain.ends_with("; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"),
        "{plain}"
    );
    // Secure follows the request's scheme unless set.
    let env = Environ::from_iter([("HTTPS", "on")]);
    let req = Request::new(env, Config::new(), RequestBody::empty());
    let loaded = s.load(&req);
    assert!(save(&s, &loaded).contains("; Secure;"));
    assert!(!save(&s.clone().secure(Some(false)), &loaded).contains("Secure"));
    assert!(save(&s.clone().secure(Some(true)), &sample()).contains("; Secure;"));
    let strict = save(
        &s.clone().same_site(SameSite::Strict).http_only(false),
        &sample(),
    );
    assert!(
        strict.ends_with("; Max-Age=86400; SameSite=Strict"),
        "{strict}"
    );
    // Too large for a cookie.
    let mut big = Session::new();
    big.insert("blob", "x".repeat(5000)).unwrap();
    let mut h = HeaderMap::new();
    assert!(matches!(
        s.save(&big, &mut h),
        Err(SessionError::TooLarge { .. })
    ));
    assert!(h.is_empty());
    // Removal.
    let mut h = HeaderMap::new();
    s.clone().domain("x.org").remove(&mut h).unwrap();
    assert!(
        h["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0; Expires=Thu, 01 Jan 1970")
    );
}

#[test]
fn loading_from_requests() {
    let s = SessionConfig::new(SECRET).unwrap();
    let good = s.encode(&sample()).unwrap();
    // The first valid cookie of the name wins; others are skipped.
    let header = format!("session=garbage; other=1; session={good}");
    let env = Environ::from_iter([("HTTP_COOKIE", header)]);
    let req = Request::new(env, Config::new(), RequestBody::empty());
    let session = s.load(&req);
    assert_eq!(session.get::<i32>("n"), Some(42));
    let req = Request::new(Environ::new(), Config::new(), RequestBody::empty());
    assert!(s.load(&req).is_empty());
}

#[test]
fn session_data() {
    let mut s = Session::new();
    assert!(!s.is_changed());
    assert!(s.remove("x").is_none());
    s.clear();
    assert!(!s.is_changed());
    s.insert("a", 1).unwrap();
    assert!(s.contains("a"));
    assert_eq!(s.len(), 1);
    assert_eq!(s.get_value("a"), Some(&Value::from(1)));
    s.clear();
    assert!(s.is_empty() && s.is_changed());
    let mut map = std::collections::HashMap::new();
    map.insert(vec![1u8], 1);
    assert!(matches!(
        s.insert("bad", map),
        Err(SessionError::Serialize(_))
    ));
    assert!(s.expires().is_none());
}

#[test]
fn random_inputs_never_panic() {
    let mut rng = crate::test_rng::Rng::new(0x5eed_0003);
    let alphabet = b"s1e.AZaz09-_{}\":,[]";
    for _ in 0..100_000 {
        let mut data = rng.bytes_from(alphabet, 40);
        if rng.below(3) == 0 {
            // A payload with a plausible expiry and JSON.
            let mut p = (2_000u64).to_be_bytes().to_vec();
            p.extend_from_slice(&data);
            data = p;
        }
        exercise_decoder(&data);
    }
}
