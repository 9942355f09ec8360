//! The environ an app sees: CGI/WSGI variables built from what Apache knows
//! of a request.
//!
//! Pure code. All names and values are bytes: paths and headers need not be
//! UTF-8. The result is one buffer holding every string followed by a NUL, so
//! the FFI layer can hand C apps pointers that are also C strings.

pub use rustgi_contract::pairs::Pairs as Environ;

/// What Apache knows of a request, outside its headers.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts<'a> {
    pub method: &'a [u8],
    pub script_name: &'a [u8],
    pub path_info: &'a [u8],
    /// The raw query string, without `?`.
    pub query_string: &'a [u8],
    /// The raw request target, query included.
    pub request_uri: &'a [u8],
    pub protocol: &'a [u8],
    pub scheme: &'a [u8],
    pub https: bool,
    pub server_name: &'a [u8],
    pub server_port: u16,
    pub server_addr: &'a [u8],
    pub server_software: &'a [u8],
    pub document_root: &'a [u8],
    pub remote_addr: &'a [u8],
    pub remote_port: u16,
    pub remote_user: Option<&'a [u8]>,
    pub auth_type: Option<&'a [u8]>,
    pub script_filename: &'a [u8],
    pub process_group: &'a [u8],
    pub pass_authorization: bool,
}

/// The CGI gateway this module speaks.
pub const GATEWAY_INTERFACE: &[u8] = b"RUSTGI/1";

/// Writes into `var` the environ variable for a header; false when the
/// header must not reach the app: names with characters other than letters,
/// digits and `-` (so `X_Forwarded_For` cannot pose as `X-Forwarded-For`, as
/// Apache's CGI rules have it), Proxy-Authorization, and Authorization unless
/// passed on. (One buffer serves every header of a request.)
fn header_variable(var: &mut Vec<u8>, name: &[u8], pass_authorization: bool) -> bool {
    var.clear();
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-') {
        return false;
    }
    if name.eq_ignore_ascii_case(b"proxy-authorization")
        || (!pass_authorization && name.eq_ignore_ascii_case(b"authorization"))
    {
        return false;
    }
    if name.eq_ignore_ascii_case(b"content-type") {
        var.extend_from_slice(b"CONTENT_TYPE");
    } else if name.eq_ignore_ascii_case(b"content-length") {
        var.extend_from_slice(b"CONTENT_LENGTH");
    } else {
        var.extend_from_slice(b"HTTP_");
        var.extend(name.iter().map(|b| match b {
            b'-' => b'_',
            b => b.to_ascii_uppercase(),
        }));
    }
    true
}

/// A port number in decimal, without allocating.
fn port_digits(port: u16, buf: &mut [u8; 5]) -> &[u8] {
    let mut n = port;
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// Builds the environ of a request from its facts, its headers in order, and
/// the variables other modules set for it (SetEnv, mod_unique_id, mod_ssl),
/// which never replace a computed variable.
pub fn build<'h>(
    facts: &RequestFacts<'_>,
    headers: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
    module_vars: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
) -> Environ {
    let mut env = Environ::with_capacity(2048, 48);
    build_into(&mut env, facts, headers, module_vars);
    env
}

/// [`build`] into `env`, which is cleared first: a buffer kept from one
/// request to the next saves the allocations.
pub fn build_into<'h>(
    env: &mut Environ,
    facts: &RequestFacts<'_>,
    headers: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
    module_vars: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
) {
    env.clear();
    let mut digits = [0; 5];
    env.push(b"GATEWAY_INTERFACE", GATEWAY_INTERFACE);
    env.push(b"SERVER_SOFTWARE", facts.server_software);
    env.push(b"SERVER_PROTOCOL", facts.protocol);
    env.push(b"SERVER_NAME", facts.server_name);
    env.push(b"SERVER_PORT", port_digits(facts.server_port, &mut digits));
    env.push(b"SERVER_ADDR", facts.server_addr);
    env.push(b"REQUEST_METHOD", facts.method);
    env.push(b"REQUEST_URI", facts.request_uri);
    env.push(b"REQUEST_SCHEME", facts.scheme);
    env.push(b"SCRIPT_NAME", facts.script_name);
    env.push(b"PATH_INFO", facts.path_info);
    env.push(b"QUERY_STRING", facts.query_string);
    env.push(b"SCRIPT_FILENAME", facts.script_filename);
    env.push(b"DOCUMENT_ROOT", facts.document_root);
    env.push(b"REMOTE_ADDR", facts.remote_addr);
    env.push(b"REMOTE_PORT", port_digits(facts.remote_port, &mut digits));
    if facts.https {
        env.push(b"HTTPS", b"on");
    }
    if let Some(user) = facts.remote_user {
        env.push(b"REMOTE_USER", user);
    }
    if let Some(auth_type) = facts.auth_type {
        env.push(b"AUTH_TYPE", auth_type);
    }
    env.push(b"rustgi.process_group", facts.process_group);
    let computed = env.len();

    let mut var = Vec::with_capacity(64);
    for (name, value) in headers {
        if !header_variable(&mut var, name, facts.pass_authorization) {
            continue;
        }
        match env.position(&var) {
            Some(i) if i >= computed => {
                let separator: &[u8] = if var == b"HTTP_COOKIE" { b"; " } else { b", " };
                env.append_to(i, separator, value);
            }
            Some(_) => {}
            None => env.push(&var, value),
        }
    }
    for (name, value) in module_vars {
        if !name.is_empty() && !env.contains(name) {
            env.push(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RequestFacts<'static> {
        RequestFacts {
            method: b"GET",
            script_name: b"/app",
            path_info: b"/a b",
            query_string: b"x=1",
            request_uri: b"/app/a%20b?x=1",
            protocol: b"HTTP/1.1",
            scheme: b"http",
            server_name: b"example.test",
            server_port: 8080,
            remote_addr: b"127.0.0.1",
            remote_port: 4242,
            process_group: b"%{GLOBAL}",
            ..Default::default()
        }
    }

    fn get<'e>(env: &'e Environ, name: &str) -> Option<&'e str> {
        env.get(name.as_bytes())
            .map(|v| std::str::from_utf8(v).unwrap())
    }

    #[test]
    fn ports_are_written_in_decimal() {
        let mut buf = [0; 5];
        for port in [0u16, 7, 80, 443, 8080, 65535] {
            assert_eq!(port_digits(port, &mut buf), port.to_string().as_bytes());
        }
    }

    #[test]
    fn a_reused_buffer_gives_the_same_environ() {
        let headers: [(&[u8], &[u8]); 2] = [(b"Accept", b"*/*"), (b"X-A", b"1")];
        let mut env = build(&facts(), headers, [(&b"UNIQUE_ID"[..], &b"u"[..])]);
        let fresh = build(&facts(), [(&b"Cookie"[..], &b"a=1"[..])], []);
        build_into(&mut env, &facts(), [(&b"Cookie"[..], &b"a=1"[..])], []);
        assert_eq!(
            env.iter().collect::<Vec<_>>(),
            fresh.iter().collect::<Vec<_>>()
        );
        assert!(!env.contains(b"HTTP_X_A") && !env.contains(b"UNIQUE_ID"));
    }

    #[test]
    fn computed_variables() {
        let env = build(&facts(), [], []);
        assert_eq!(get(&env, "REQUEST_METHOD"), Some("GET"));
        assert_eq!(get(&env, "SCRIPT_NAME"), Some("/app"));
        assert_eq!(get(&env, "PATH_INFO"), Some("/a b"));
        assert_eq!(get(&env, "QUERY_STRING"), Some("x=1"));
        assert_eq!(get(&env, "REQUEST_URI"), Some("/app/a%20b?x=1"));
        assert_eq!(get(&env, "SERVER_PORT"), Some("8080"));
        assert_eq!(get(&env, "REMOTE_PORT"), Some("4242"));
        assert_eq!(get(&env, "GATEWAY_INTERFACE"), Some("RUSTGI/1"));
        assert_eq!(get(&env, "HTTPS"), None);
        assert_eq!(get(&env, "REMOTE_USER"), None);
        let env = build(
            &RequestFacts {
                https: true,
                remote_user: Some(b"ann"),
                auth_type: Some(b"Basic"),
                ..facts()
            },
            [],
            [],
        );
        assert_eq!(get(&env, "HTTPS"), Some("on"));
        assert_eq!(get(&env, "REMOTE_USER"), Some("ann"));
        assert_eq!(get(&env, "AUTH_TYPE"), Some("Basic"));
    }

    #[test]
    fn headers_become_http_variables() {
        let headers: [(&[u8], &[u8]); 6] = [
            (b"Host", b"example.test"),
            (b"X-Rep", b"1"),
            (b"x-rep", b"2"),
            (b"Content-Type", b"text/plain"),
            (b"Content-Length", b"3"),
            (b"X_Spoof", b"bad"),
        ];
        let env = build(&facts(), headers, []);
        assert_eq!(get(&env, "HTTP_HOST"), Some("example.test"));
        assert_eq!(get(&env, "HTTP_X_REP"), Some("1, 2"));
        assert_eq!(get(&env, "CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(get(&env, "CONTENT_LENGTH"), Some("3"));
        assert_eq!(get(&env, "HTTP_CONTENT_TYPE"), None);
        assert_eq!(get(&env, "HTTP_X_SPOOF"), None);
        assert_eq!(env.iter().filter(|(n, _)| *n == b"HTTP_X_REP").count(), 1);
    }

    #[test]
    fn cookies_join_with_semicolons() {
        let headers: [(&[u8], &[u8]); 2] = [(b"Cookie", b"a=1"), (b"Cookie", b"b=2")];
        let env = build(&facts(), headers, []);
        assert_eq!(get(&env, "HTTP_COOKIE"), Some("a=1; b=2"));
    }

    #[test]
    fn authorization_only_when_passed() {
        let headers: [(&[u8], &[u8]); 2] = [
            (b"Authorization", b"Basic eA=="),
            (b"Proxy-Authorization", b"Basic eQ=="),
        ];
        let env = build(&facts(), headers, []);
        assert_eq!(get(&env, "HTTP_AUTHORIZATION"), None);
        assert_eq!(get(&env, "HTTP_PROXY_AUTHORIZATION"), None);
        let passed = RequestFacts {
            pass_authorization: true,
            ..facts()
        };
        let env = build(&passed, headers, []);
        assert_eq!(get(&env, "HTTP_AUTHORIZATION"), Some("Basic eA=="));
        assert_eq!(get(&env, "HTTP_PROXY_AUTHORIZATION"), None);
    }

    #[test]
    fn module_variables_never_override() {
        let headers: [(&[u8], &[u8]); 1] = [(b"X-A", b"from-header")];
        let vars: [(&[u8], &[u8]); 4] = [
            (b"REQUEST_METHOD", b"PATCHED"),
            (b"HTTP_X_A", b"from-setenv"),
            (b"UNIQUE_ID", b"abc"),
            (b"", b"ignored"),
        ];
        let env = build(&facts(), headers, vars);
        assert_eq!(get(&env, "REQUEST_METHOD"), Some("GET"));
        assert_eq!(get(&env, "HTTP_X_A"), Some("from-header"));
        assert_eq!(get(&env, "UNIQUE_ID"), Some("abc"));
        assert!(!env.contains(b""));
    }

    #[test]
    fn a_header_cannot_override_a_computed_variable() {
        // No header maps onto a computed name, but merging must not touch them.
        let headers: [(&[u8], &[u8]); 1] = [(b"Content-Length", b"5")];
        let env = build(&facts(), headers, []);
        assert_eq!(get(&env, "CONTENT_LENGTH"), Some("5"));
    }

    #[test]
    fn non_utf8_values_pass_through() {
        let f = RequestFacts {
            path_info: b"/\xff\xfe",
            ..facts()
        };
        let env = build(&f, [], []);
        assert_eq!(env.get(b"PATH_INFO"), Some(&b"/\xff\xfe"[..]));
    }
}
