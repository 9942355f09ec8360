//! The tests of Digest authentication.

use super::header::{exercise_parser, parse_auth_params};
use super::*;
use crate::{Environ, RequestBody};

// RFC 7616 section 3.9.1.
const RFC_REALM: &str = "http-auth@example.org";
const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc_header(algorithm: &str, response: &str) -> String {
    format!(
        "Digest username=\"Mufasa\", realm=\"{RFC_REALM}\", uri=\"/dir/index.html\", \
         algorithm={algorithm}, nonce=\"{RFC_NONCE}\", nc=00000001, cnonce=\"{RFC_CNONCE}\", \
         qop=auth, response=\"{response}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    )
}

#[test]
fn rfc_7616_vectors() {
    let password = Credentials::Password("Circle of Life".into());
    let md5 = DigestCredentials::parse(&rfc_header("MD5", "x")).unwrap();
    assert_eq!(
        md5.expected_response("GET", DigestAlgorithm::Md5, &password),
        "8ca523f5e9506fed4657c9700eebdbec"
    );
    let sha = DigestCredentials::parse(&rfc_header("SHA-256", "x")).unwrap();
    assert_eq!(sha.algorithm(), Some(DigestAlgorithm::Sha256));
    assert_eq!(
        sha.expected_response("GET", DigestAlgorithm::Sha256, &password),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    // The same through HA1.
    let ha1 = Credentials::Ha1(
        DigestAlgorithm::Md5
            .ha1("Mufasa", RFC_REALM, "Circle of Life")
            .to_uppercase(),
    );
    assert_eq!(
        md5.expected_response("GET", DigestAlgorithm::Md5, &ha1),
        "8ca523f5e9506fed4657c9700eebdbec"
    );
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// What a client computes for a challenge.
fn client_header(
    auth: &DigestAuth,
    nonce: &str,
    algorithm: DigestAlgorithm,
    user: &str,
    password: &str,
    uri: &str,
) -> String {
    let cnonce = "0a4f113b";
    let nc = "00000001";
    let creds = DigestCredentials {
        username: user.into(),
        realm: auth.realm.clone(),
        nonce: nonce.into(),
        uri: uri.into(),
        response: String::new(),
        algorithm: Some(algorithm.to_string()),
        cnonce: cnonce.into(),
        nc: nc.into(),
        opaque: Some(auth.opaque.clone()),
        userhash: false,
    };
    let response =
        creds.expected_response("GET", algorithm, &Credentials::Password(password.into()));
    format!(
        "Digest username=\"{user}\", realm=\"{}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         algorithm={algorithm}, response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\", \
         opaque=\"{}\"",
        auth.realm, auth.opaque
    )
}

fn request(header: Option<&str>) -> Request {
    let mut env =
        Environ::from_iter([("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/private/x?y=1")]);
    if let Some(h) = header {
        env.push("HTTP_AUTHORIZATION", h);
    }
    Request::new(env, Config::new(), RequestBody::empty())
}

fn nonce_of(res: &Response) -> String {
    let h = res.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    let start = h.find("nonce=\"").unwrap() + 7;
    h[start..start + h[start..].find('"').unwrap()].to_owned()
}

fn lookup(user: &str, _: DigestAlgorithm) -> Option<Credentials> {
    (user == "ann").then(|| Credentials::Password("pw".into()))
}

#[test]
fn challenge_and_response() {
    let auth = DigestAuth::new("private", &[5; 32]).unwrap();
    let res = auth
        .authenticate_at(&request(None), lookup, now())
        .unwrap_err()
        .into_response();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> = res.headers().get_all(WWW_AUTHENTICATE).iter().collect();
    assert_eq!(challenges.len(), 2);
    let first = challenges[0].to_str().unwrap();
    assert!(
        first.starts_with("Digest realm=\"private\", qop=\"auth\", algorithm=SHA-256, nonce=\""),
        "{first}"
    );
    assert!(challenges[1].to_str().unwrap().contains("algorithm=MD5,"));
    assert!(!first.contains("stale"));
    let nonce = nonce_of(&res);

    for algorithm in [
        DigestAlgorithm::Md5,
        DigestAlgorithm::Md5Sess,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha256Sess,
    ] {
        let auth = auth.clone().algorithms(&[algorithm]).unwrap();
        let header = client_header(&auth, &nonce, algorithm, "ann", "pw", "/private/x?y=1");
        let later = now() + Duration::from_secs(10);
        assert_eq!(
            auth.authenticate_at(&request(Some(&header)), lookup, later)
                .unwrap(),
            "ann"
        );
        // Wrong password, unknown user.
        let header = client_header(&auth, &nonce, algorithm, "ann", "bad", "/private/x?y=1");
        let res = auth
            .authenticate_at(&request(Some(&header)), lookup, later)
            .unwrap_err();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let header = client_header(&auth, &nonce, algorithm, "bob", "pw", "/private/x?y=1");
        assert!(
            auth.authenticate_at(&request(Some(&header)), lookup, later)
                .is_err()
        );
    }
    // An algorithm that is not offered.
    let md5_only = auth.clone().algorithms(&[DigestAlgorithm::Md5]).unwrap();
    let header = client_header(
        &auth,
        &nonce,
        DigestAlgorithm::Sha256,
        "ann",
        "pw",
        "/private/x?y=1",
    );
    assert!(
        md5_only
            .authenticate_at(&request(Some(&header)), lookup, now())
            .is_err()
    );
}

#[test]
fn nonces_expire_and_cannot_be_forged() {
    let auth = DigestAuth::new("private", &[5; 32]).unwrap();
    let nonce = auth.nonce_at(now());
    let header = client_header(
        &auth,
        &nonce,
        DigestAlgorithm::Sha256,
        "ann",
        "pw",
        "/private/x?y=1",
    );
    let req = request(Some(&header));
    let ok = now() + Duration::from_secs(300);
    assert!(auth.authenticate_at(&req, lookup, ok).is_ok());
    // Expired: stale=true, but only when the password is right.
    let late = now() + Duration::from_secs(301);
    let rejection = auth.authenticate_at(&req, lookup, late).unwrap_err();
    assert!(rejection.is_stale());
    assert_eq!(rejection.to_string(), "the Digest nonce has expired");
    let res = rejection.into_response();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .ends_with(", stale=true")
    );
    let wrong = client_header(
        &auth,
        &nonce,
        DigestAlgorithm::Sha256,
        "ann",
        "x",
        "/private/x?y=1",
    );
    let res = auth
        .authenticate_at(&request(Some(&wrong)), lookup, late)
        .unwrap_err()
        .into_response();
    assert!(
        !res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("stale")
    );
    // Issued in the future.
    assert!(
        auth.authenticate_at(&req, lookup, now() - Duration::from_secs(61))
            .is_err()
    );
    // Another key's nonce, or a forged one.
    let other = DigestAuth::new("private", &[6; 32]).unwrap();
    assert_eq!(other.check_nonce(&nonce, now()), NonceState::Invalid);
    let mut raw = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
    raw[0] ^= 1;
    assert_eq!(
        auth.check_nonce(&URL_SAFE_NO_PAD.encode(&raw), now()),
        NonceState::Invalid
    );
    assert_eq!(auth.check_nonce("short", now()), NonceState::Invalid);
    assert_eq!(auth.check_nonce("!!", now()), NonceState::Invalid);
    // A shorter lifetime.
    let quick = auth.clone().nonce_lifetime(Duration::from_secs(1));
    assert_eq!(
        quick.check_nonce(&nonce, now() + Duration::from_secs(2)),
        NonceState::Stale
    );
    // Nonces differ.
    assert_ne!(auth.nonce_at(now()), auth.nonce_at(now()));
}

#[test]
fn mismatches() {
    let auth = DigestAuth::new("private", &[5; 32]).unwrap();
    let nonce = auth.nonce_at(now());
    let other_uri = client_header(
        &auth,
        &nonce,
        DigestAlgorithm::Md5,
        "ann",
        "pw",
        "/elsewhere",
    );
    let res = auth
        .authenticate_at(&request(Some(&other_uri)), lookup, now())
        .unwrap_err();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let good = client_header(
        &auth,
        &nonce,
        DigestAlgorithm::Md5,
        "ann",
        "pw",
        "/private/x?y=1",
    );
    for (from, to) in [
        ("realm=\"private\"", "realm=\"other\""),
        ("qop=auth", "qop=auth-int"),
        ("nc=00000001", "nc=1"),
        ("opaque=\"", "opaque=\"x"),
        ("Digest ", "Basic "),
        ("algorithm=MD5", "algorithm=SHA-512"),
    ] {
        let header = good.replace(from, to);
        let res = auth
            .authenticate_at(&request(Some(&header)), lookup, now())
            .unwrap_err();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{to}");
    }
    let userhash = format!("{good}, userhash=true");
    assert!(
        auth.authenticate_at(&request(Some(&userhash)), lookup, now())
            .is_err()
    );
    // Without opaque it still works; without algorithm, MD5 is assumed.
    let no_opaque = good.replace(&format!(", opaque=\"{}\"", auth.opaque), "");
    assert!(
        auth.authenticate_at(&request(Some(&no_opaque)), lookup, now())
            .is_ok()
    );
    let no_alg = good.replace("algorithm=MD5, ", "");
    assert!(
        auth.authenticate_at(&request(Some(&no_alg)), lookup, now())
            .is_ok()
    );
}

#[test]
fn header_parsing() {
    assert_eq!(
        parse_auth_params("a=1, b=\"x, \\\"y\\\"\" ,c = 3"),
        Some(vec![
            ("a".into(), "1".into()),
            ("b".into(), "x, \"y\"".into()),
            ("c".into(), "3".into())
        ])
    );
    for bad in ["a", "a=1 b=2", "a=\"open", "=1", "a=1, A=2", "a=\"x\"y"] {
        assert_eq!(parse_auth_params(bad), None, "{bad}");
    }
    assert_eq!(parse_auth_params(""), Some(vec![]));
    assert!(DigestCredentials::parse("Digest").is_none());
    assert!(DigestCredentials::parse("Digest username=a").is_none());
}

#[test]
fn htdigest_files() {
    let ha1 = DigestAlgorithm::Md5.ha1("ann", "private", "pw");
    let text = format!("ann:private:{ha1}\nbob:private:short\n\n#x:y:z\nc:d\n");
    let users = HtDigest::parse(&text);
    assert_eq!(users.len(), 1);
    assert!(!users.is_empty());
    assert!(format!("{users:?}").contains("users: 1"));
    let auth = DigestAuth::new("private", &[5; 32])
        .unwrap()
        .algorithms(&[DigestAlgorithm::Md5])
        .unwrap();
    let nonce = auth.nonce_at(now());
    let header = client_header(
        &auth,
        &nonce,
        DigestAlgorithm::Md5,
        "ann",
        "pw",
        "/private/x?y=1",
    );
    let user = auth
        .authenticate_at(
            &request(Some(&header)),
            |u, a| users.credentials("private", u, a),
            now(),
        )
        .unwrap();
    assert_eq!(user, "ann");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".htdigest");
    std::fs::write(&path, &text).unwrap();
    assert_eq!(HtDigest::open(&path).unwrap(), users);
}

#[test]
fn configuration() {
    let secret = "s".repeat(32);
    let config = Config::from_iter([
        ("secret_key", secret.as_str()),
        ("digest_algorithms", "MD5, sha-256-sess"),
        ("digest_nonce_lifetime", "60"),
    ]);
    let auth = DigestAuth::from_config(&config, "r").unwrap();
    assert_eq!(
        auth.algorithms,
        [DigestAlgorithm::Md5, DigestAlgorithm::Sha256Sess]
    );
    assert_eq!(auth.nonce_lifetime, Duration::from_secs(60));
    assert_eq!(auth.realm(), "r");
    assert!(format!("{auth:?}").contains("realm"));
    let err = DigestAuth::from_config(&Config::new(), "r").unwrap_err();
    let init: InitError = err.into();
    assert!(init.to_string().contains("secret_key"));
    let bad = |k: &str, v: &str| {
        let config = Config::from_iter([("secret_key", secret.as_str()), (k, v)]);
        DigestAuth::from_config(&config, "r").unwrap_err()
    };
    assert_eq!(
        bad("digest_algorithms", "SHA-1"),
        DigestError::Algorithm("SHA-1".into())
    );
    assert!(matches!(
        bad("digest_algorithms", " , "),
        DigestError::Config(_)
    ));
    assert!(matches!(
        bad("digest_nonce_lifetime", "soon"),
        DigestError::Config(_)
    ));
    assert!(format!("{:?}", Credentials::Password("pw".into())).contains("<secret>"));
}

#[test]
fn random_headers_never_panic() {
    let mut rng = crate::test_rng::Rng::new(0x5eed_0006);
    let alphabet = b"Digest usernam=\"\\,qopauthnc0001 ";
    for _ in 0..100_000 {
        let raw = rng.bytes_from(alphabet, 60);
        exercise_parser(&String::from_utf8_lossy(&raw));
    }
    exercise_parser(
        "Digest username=a, realm=b, nonce=c, uri=d, response=e, qop=auth, nc=00000001, cnonce=f",
    );
}
