//! The `Authorization: Digest` header a client sends.

use super::{Credentials, DigestAlgorithm};

/// The fields of an `Authorization: Digest` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DigestCredentials {
    pub(super) username: String,
    pub(super) realm: String,
    pub(super) nonce: String,
    pub(super) uri: String,
    pub(super) response: String,
    pub(super) algorithm: Option<String>,
    pub(super) cnonce: String,
    pub(super) nc: String,
    pub(super) opaque: Option<String>,
    pub(super) userhash: bool,
}

impl DigestCredentials {
    /// Parses the header: `None` unless it is a Digest one with `qop=auth`
    /// and every field this needs, each at most once.
    pub(super) fn parse(header: &str) -> Option<DigestCredentials> {
        let header = header.trim_start();
        let (scheme, rest) = header.split_once([' ', '\t'])?;
        if !scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let params = parse_auth_params(rest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if get("qop")? != "auth" {
            return None;
        }
        let nc = get("nc")?;
        if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let cnonce = get("cnonce").filter(|c| !c.is_empty())?;
        Some(DigestCredentials {
            username: get("username")?,
            realm: get("realm")?,
            nonce: get("nonce")?,
            uri: get("uri")?,
            response: get("response")?,
            algorithm: get("algorithm"),
            cnonce,
            nc,
            opaque: get("opaque"),
            userhash: get("userhash").is_some_and(|u| u.eq_ignore_ascii_case("true")),
        })
    }

    pub(super) fn algorithm(&self) -> Option<DigestAlgorithm> {
        match &self.algorithm {
            None => Some(DigestAlgorithm::Md5),
            Some(a) => a.parse().ok(),
        }
    }

    /// The `response` a client knowing `credentials` sends.
    pub(super) fn expected_response(
        &self,
        method: &str,
        algorithm: DigestAlgorithm,
        credentials: &Credentials,
    ) -> String {
        let ha1 = match credentials {
            Credentials::Password(p) => algorithm.ha1(&self.username, &self.realm, p),
            Credentials::Ha1(h) => h.to_ascii_lowercase(),
        };
        let ha1 = if algorithm.is_sess() {
            algorithm.hash(&format!("{ha1}:{}:{}", self.nonce, self.cnonce))
        } else {
            ha1
        };
        let ha2 = algorithm.hash(&format!("{method}:{}", self.uri));
        algorithm.hash(&format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            self.nonce, self.nc, self.cnonce
        ))
    }
}

/// Parses `name=value, name="quoted"` auth-params; `None` on a syntax error
/// or a repeated name.
pub(super) fn parse_auth_params(input: &str) -> Option<Vec<(String, String)>> {
    let mut params: Vec<(String, String)> = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars
            .next_if(|&c| c == ',' || c == ' ' || c == '\t')
            .is_some()
        {}
        if chars.peek().is_none() {
            return Some(params);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|&c| c != '=' && c != ',' && c != ' ' && c != '\t') {
            name.push(c);
        }
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        chars.next_if_eq(&'=')?;
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|&c| c != ',' && c != ' ' && c != '\t') {
                value.push(c);
            }
        }
        if name.is_empty() || params.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            return None;
        }
        params.push((name, value));
        // After a value: only whitespace up to the next comma.
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        match chars.peek() {
            None | Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// Parses `data` as an `Authorization` header; for the random-input test.
#[cfg(test)]
pub(super) fn exercise_parser(data: &str) {
    if let Some(c) = DigestCredentials::parse(data) {
        assert_eq!(c.nc.len(), 8);
        let _ = c.expected_response(
            "GET",
            DigestAlgorithm::Md5Sess,
            &Credentials::Password("p".into()),
        );
    }
}
