//! Feeds arbitrary request facts, headers and module variables to
//! `mod_rustgi::environ::build` (the environ every app gets) and checks it
//! against a plain reference model, plus the properties apps rely on:
//! unique names, the computed variables exactly as Apache gave them,
//! `Authorization` only when passed on, `Proxy-Authorization` never from a
//! header, and every name and value followed by a NUL in memory (C apps
//! read them as C strings).
//!
//! The input is split deterministically:
//!
//! | bytes | what |
//! | --- | --- |
//! | 0 | flags: bit 0 `https`, 1 `pass_authorization`, 2 a `remote_user`, 3 an `auth_type` |
//! | 1–2, 3–4 | `server_port`, `remote_port` (u16 big-endian) |
//! | then 16 fields | method, script_name, path_info, query_string, request_uri, protocol, scheme, server_name, server_addr, server_software, document_root, remote_addr, remote_user, auth_type, script_filename, process_group |
//! | then records | a tag byte (even: a header, odd: a module variable), a name field, a value field |
//!
//! A field is a length byte and that many bytes (cut short at the end of
//! the input; missing fields are empty).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mod_rustgi::environ::{RequestFacts, build};

/// Reads the fields of the input, front to back.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> u16 {
        let hi = self.byte().unwrap_or(0);
        let lo = self.byte().unwrap_or(0);
        u16::from_be_bytes([hi, lo])
    }

    fn field(&mut self) -> &'a [u8] {
        let len = usize::from(self.byte().unwrap_or(0)).min(self.0.len());
        let (field, rest) = self.0.split_at(len);
        self.0 = rest;
        field
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The variable a header becomes, per the README: names of letters,
/// digits and `-` only; never Proxy-Authorization; Authorization only when
/// passed on.
fn model_header_variable(name: &[u8], pass_authorization: bool) -> Option<Vec<u8>> {
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    match lower.as_slice() {
        b"proxy-authorization" => None,
        b"authorization" if !pass_authorization => None,
        b"content-type" => Some(b"CONTENT_TYPE".to_vec()),
        b"content-length" => Some(b"CONTENT_LENGTH".to_vec()),
        _ => {
            let upper: Vec<u8> = name
                .iter()
                .map(|b| {
                    if *b == b'-' {
                        b'_'
                    } else {
                        b.to_ascii_uppercase()
                    }
                })
                .collect();
            Some([b"HTTP_".as_slice(), &upper].concat())
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Fields(data);
    let flags = input.byte().unwrap_or(0);
    let server_port = input.u16();
    let remote_port = input.u16();
    let mut f: Vec<&[u8]> = (0..16).map(|_| input.field()).collect();
    f.reverse();
    let mut next = || f.pop().unwrap_or_default();
    let facts = RequestFacts {
        method: next(),
        script_name: next(),
        path_info: next(),
        query_string: next(),
        request_uri: next(),
        protocol: next(),
        scheme: next(),
        server_name: next(),
        server_addr: next(),
        server_software: next(),
        document_root: next(),
        remote_addr: next(),
        remote_user: Some(next()).filter(|_| flags & 4 != 0),
        auth_type: Some(next()).filter(|_| flags & 8 != 0),
        script_filename: next(),
        process_group: next(),
        server_port,
        remote_port,
        https: flags & 1 != 0,
        pass_authorization: flags & 2 != 0,
    };
    let mut headers: Vec<(&[u8], &[u8])> = Vec::new();
    let mut vars: Vec<(&[u8], &[u8])> = Vec::new();
    while !input.is_empty() {
        let tag = input.byte().unwrap_or(0);
        let name = input.field();
        let value = input.field();
        if tag % 2 == 0 {
            headers.push((name, value));
        } else {
            vars.push((name, value));
        }
    }

    let env = build(&facts, headers.iter().copied(), vars.iter().copied());
    let got: Vec<(Vec<u8>, Vec<u8>)> = env.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();

    // The reference model: a plain list.
    let server_port = facts.server_port.to_string();
    let remote_port = facts.remote_port.to_string();
    let mut model: Vec<(Vec<u8>, Vec<u8>)> = [
        (&b"GATEWAY_INTERFACE"[..], &b"RUSTGI/1"[..]),
        (b"SERVER_SOFTWARE", facts.server_software),
        (b"SERVER_PROTOCOL", facts.protocol),
        (b"SERVER_NAME", facts.server_name),
        (b"SERVER_PORT", server_port.as_bytes()),
        (b"SERVER_ADDR", facts.server_addr),
        (b"REQUEST_METHOD", facts.method),
        (b"REQUEST_URI", facts.request_uri),
        (b"REQUEST_SCHEME", facts.scheme),
        (b"SCRIPT_NAME", facts.script_name),
        (b"PATH_INFO", facts.path_info),
        (b"QUERY_STRING", facts.query_string),
        (b"SCRIPT_FILENAME", facts.script_filename),
        (b"DOCUMENT_ROOT", facts.document_root),
        (b"REMOTE_ADDR", facts.remote_addr),
        (b"REMOTE_PORT", remote_port.as_bytes()),
    ]
    .iter()
    .map(|(n, v)| (n.to_vec(), v.to_vec()))
    .collect();
    if facts.https {
        model.push((b"HTTPS".to_vec(), b"on".to_vec()));
    }
    if let Some(user) = facts.remote_user {
        model.push((b"REMOTE_USER".to_vec(), user.to_vec()));
    }
    if let Some(auth) = facts.auth_type {
        model.push((b"AUTH_TYPE".to_vec(), auth.to_vec()));
    }
    model.push((
        b"rustgi.process_group".to_vec(),
        facts.process_group.to_vec(),
    ));
    let computed = model.len();
    for (name, value) in &headers {
        let Some(var) = model_header_variable(name, facts.pass_authorization) else {
            continue;
        };
        match model.iter().position(|(n, _)| *n == var) {
            // A header never replaces a computed variable.
            Some(i) if i < computed => {}
            Some(i) => {
                let sep: &[u8] = if var == b"HTTP_COOKIE" { b"; " } else { b", " };
                model[i].1.extend_from_slice(sep);
                model[i].1.extend_from_slice(value);
            }
            None => model.push((var, value.to_vec())),
        }
    }
    for (name, value) in &vars {
        // Module variables never replace anything; empty names are dropped.
        if !name.is_empty() && !model.iter().any(|(n, _)| n == name) {
            model.push((name.to_vec(), value.to_vec()));
        }
    }
    assert_eq!(got, model, "the environ differs from the reference model");

    // Properties, independently of the model.
    for (i, (name, _)) in got.iter().enumerate() {
        assert!(
            !got[..i].iter().any(|(n, _)| n == name),
            "variable {:?} twice",
            String::from_utf8_lossy(name)
        );
    }
    let from_vars = |name: &[u8]| vars.iter().any(|(n, _)| *n == name);
    if !facts.pass_authorization {
        assert!(
            env.get(b"HTTP_AUTHORIZATION").is_none() || from_vars(b"HTTP_AUTHORIZATION"),
            "Authorization reached the app without RustgiPassAuthorization"
        );
    }
    assert!(
        env.get(b"HTTP_PROXY_AUTHORIZATION").is_none() || from_vars(b"HTTP_PROXY_AUTHORIZATION"),
        "Proxy-Authorization reached the app"
    );
    assert_eq!(env.get(b"REQUEST_METHOD"), Some(facts.method));
    assert_eq!(env.get(b"QUERY_STRING"), Some(facts.query_string));

    // Every string is followed by a NUL: C apps read them as C strings.
    let pairs = env.abi_pairs();
    assert_eq!(pairs.len(), got.len());
    for (pair, (name, value)) in pairs.iter().zip(&got) {
        for (s, expected) in [(&pair.name, name), (&pair.value, value)] {
            assert!(!s.ptr.is_null());
            // SAFETY: `abi_pairs` points into `env`'s buffer, which lives
            // until the end of this closure and is not changed; each string
            // is followed by a NUL byte that the buffer holds (len + 1 bytes
            // are in bounds), which is what this checks.
            let with_nul = unsafe { std::slice::from_raw_parts(s.ptr.cast::<u8>(), s.len + 1) };
            assert_eq!(&with_nul[..s.len], expected.as_slice());
            assert_eq!(with_nul[s.len], 0, "a string without its NUL");
        }
    }
});
