//! Path patterns (`/items/<id:int>`), raw regex routes and the filters that
//! type pattern parameters.

use std::sync::Arc;

use regex::Regex;

/// Turns the text a filter matched into the parameter's value, or refuses it
/// (then the route does not match).
pub(crate) type Converter = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A filter: what a `<name:filter>` parameter matches and how its text is
/// converted.
#[derive(Clone)]
pub(crate) struct Filter {
    pub(crate) regex: String,
    pub(crate) convert: Option<Converter>,
}

/// The regex of a parameter without a filter: one path segment.
const SEGMENT: &str = "[^/]+";

/// The built-in filters: `(name, regex, what the value becomes)`.
pub(crate) const BUILTIN: [(&str, &str, &str); 5] = [
    ("int", "-?[0-9]+", "an i64, written in decimal"),
    (
        "float",
        "-?[0-9]+(?:\\.[0-9]+)?",
        "an f64, written in decimal",
    ),
    ("word", "\\w+", "the text"),
    ("hex", "[0-9a-fA-F]+", "the text"),
    (
        "uuid",
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        "the UUID in lower case",
    ),
];

fn builtin(name: &str) -> Option<Filter> {
    let (_, regex, _) = BUILTIN.iter().find(|(n, _, _)| *n == name)?;
    let convert: Option<Converter> = match name {
        "int" => Some(Arc::new(|s: &str| {
            s.parse::<i64>().ok().map(|n| n.to_string())
        })),
        "float" => Some(Arc::new(|s: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f.to_string())
        })),
        "uuid" => Some(Arc::new(|s: &str| Some(s.to_ascii_lowercase()))),
        _ => None,
    };
    Some(Filter {
        regex: (*regex).to_owned(),
        convert,
    })
}

/// The custom filters of a router (the built-in ones are always there).
#[derive(Clone, Default)]
pub(crate) struct Filters {
    custom: Vec<(String, Filter)>,
}

impl Filters {
    /// Registers (or replaces) the filter `name`.
    pub(crate) fn add(
        &mut self,
        name: &str,
        regex: &str,
        convert: Converter,
    ) -> Result<(), String> {
        if !is_identifier(name) || name == "re" {
            return Err(format!(
                "invalid filter name {name:?}: use letters, digits and `_`, not `re`"
            ));
        }
        Regex::new(regex).map_err(|e| format!("invalid regex for the filter {name:?}: {e}"))?;
        self.custom.retain(|(n, _)| n != name);
        self.custom.push((
            name.to_owned(),
            Filter {
                regex: regex.to_owned(),
                convert: Some(convert),
            },
        ));
        Ok(())
    }

    /// The filter `name`: a custom one, else a built-in one.
    pub(crate) fn get(&self, name: &str) -> Option<Filter> {
        self.custom
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
            .or_else(|| builtin(name))
    }

    /// The custom filters, as `(name, regex)`.
    pub(crate) fn custom(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.custom
            .iter()
            .map(|(n, f)| (n.as_str(), f.regex.as_str()))
    }

    /// Adds the filters of `other` that `self` does not have.
    pub(crate) fn extend_missing(&mut self, other: &Filters) {
        for (name, filter) in &other.custom {
            if !self.custom.iter().any(|(n, _)| n == name) {
                self.custom.push((name.clone(), filter.clone()));
            }
        }
    }
}

/// Whether `s` is `[A-Za-z_][A-Za-z0-9_]*`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// One parameter of a compiled pattern.
#[derive(Clone)]
struct Param {
    name: String,
    group: String,
    convert: Option<Converter>,
}

#[derive(Clone)]
enum Kind {
    Static,
    Pattern { regex: Regex, params: Vec<Param> },
    Regex { regex: Regex },
}

/// A route's path: a static path, a pattern with parameters or a raw regex.
#[derive(Clone)]
pub(crate) struct PathPattern {
    source: String,
    kind: Kind,
}

impl PathPattern {
    /// Parses a path pattern: `/static`, `/items/<id:int>`, `<name>`,
    /// `<name:filter>` or `<name:re:REGEX>`.
    pub(crate) fn parse(pattern: &str, filters: &Filters) -> Result<PathPattern, String> {
        if !pattern.starts_with('/') {
            return Err(format!("the route {pattern:?} does not start with `/`"));
        }
        if !pattern.contains('<') {
            return Ok(PathPattern {
                source: pattern.to_owned(),
                kind: Kind::Static,
            });
        }
        let mut regex = String::from("^");
        let mut params: Vec<Param> = Vec::new();
        let mut rest = pattern;
        while let Some(start) = rest.find('<') {
            regex.push_str(&regex::escape(&rest[..start]));
            let (name, filter, len) = parse_param(&rest[start + 1..])
                .map_err(|e| format!("invalid route {pattern:?}: {e}"))?;
            if params.iter().any(|p| p.name == name) {
                return Err(format!(
                    "invalid route {pattern:?}: the parameter {name:?} appears twice"
                ));
            }
            let filter = match filter {
                ParamFilter::Default => Filter {
                    regex: SEGMENT.to_owned(),
                    convert: None,
                },
                ParamFilter::Regex(re) => Filter {
                    regex: re.to_owned(),
                    convert: None,
                },
                ParamFilter::Named(f) => filters.get(f).ok_or_else(|| {
                    format!(
                        "invalid route {pattern:?}: unknown filter {f:?} (register custom filters with Router::filter before the routes that use them)"
                    )
                })?,
            };
            let group = format!("__p{}", params.len());
            regex.push_str(&format!("(?P<{group}>(?:{}))", filter.regex));
            params.push(Param {
                name: name.to_owned(),
                group,
                convert: filter.convert,
            });
            rest = &rest[start + 1 + len..];
        }
        regex.push_str(&regex::escape(rest));
        regex.push('$');
        let regex = Regex::new(&regex).map_err(|e| format!("invalid route {pattern:?}: {e}"))?;
        Ok(PathPattern {
            source: pattern.to_owned(),
            kind: Kind::Pattern { regex, params },
        })
    }

    /// A raw regex route; it must match the whole path.
    pub(crate) fn regex(re: &str) -> Result<PathPattern, String> {
        let regex = Regex::new(&format!("^(?:{re})$"))
            .map_err(|e| format!("invalid regex route {re:?}: {e}"))?;
        Ok(PathPattern {
            source: re.to_owned(),
            kind: Kind::Regex { regex },
        })
    }

    /// The pattern as given.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// `static`, `pattern` or `regex`.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Static => "static",
            Kind::Pattern { .. } => "pattern",
            Kind::Regex { .. } => "regex",
        }
    }

    /// The path, for a static route.
    pub(crate) fn static_path(&self) -> Option<&str> {
        matches!(self.kind, Kind::Static).then_some(self.source.as_str())
    }

    /// The parameters when `path` matches, in order.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        match &self.kind {
            Kind::Static => (self.source == path).then(Vec::new),
            Kind::Pattern { regex, params } => {
                let caps = regex.captures(path)?;
                params
                    .iter()
                    .map(|p| {
                        let text = caps.name(&p.group)?.as_str();
                        let value = match &p.convert {
                            Some(convert) => convert(text)?,
                            None => text.to_owned(),
                        };
                        Some((p.name.clone(), value))
                    })
                    .collect()
            }
            Kind::Regex { regex } => {
                let caps = regex.captures(path)?;
                Some(
                    regex
                        .capture_names()
                        .enumerate()
                        .skip(1)
                        .filter_map(|(i, name)| {
                            let m = caps.get(i)?;
                            let name = name.map_or_else(|| i.to_string(), str::to_owned);
                            Some((name, m.as_str().to_owned()))
                        })
                        .collect(),
                )
            }
        }
    }
}

enum ParamFilter<'a> {
    Default,
    Named(&'a str),
    Regex(&'a str),
}

/// Parses what follows a `<`: returns the name, the filter and the length up
/// to and including the closing `>`.
fn parse_param(text: &str) -> Result<(&str, ParamFilter<'_>, usize), String> {
    let name_end = text.find([':', '>']).ok_or("a `<` is not closed by `>`")?;
    let name = &text[..name_end];
    if !is_identifier(name) {
        return Err(format!(
            "invalid parameter name {name:?}: use letters, digits and `_`"
        ));
    }
    if text[name_end..].starts_with('>') {
        return Ok((name, ParamFilter::Default, name_end + 1));
    }
    let spec = &text[name_end + 1..];
    if let Some(re) = spec.strip_prefix("re:") {
        let end = regex_end(re).ok_or("a `<name:re:...>` is not closed by `>`")?;
        if end == 0 {
            return Err(format!("the parameter {name:?} has an empty regex"));
        }
        return Ok((
            name,
            ParamFilter::Regex(&re[..end]),
            name_end + 1 + 3 + end + 1,
        ));
    }
    let end = spec.find('>').ok_or("a `<` is not closed by `>`")?;
    let filter = &spec[..end];
    if !is_identifier(filter) {
        return Err(format!("invalid filter name {filter:?}"));
    }
    Ok((name, ParamFilter::Named(filter), name_end + 1 + end + 1))
}

/// The index of the `>` that ends a regex parameter: the first one outside
/// brackets and parentheses and not escaped.
fn regex_end(re: &str) -> Option<usize> {
    let (mut parens, mut brackets, mut escaped) = (0usize, 0usize, false);
    for (i, c) in re.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' => brackets += 1,
            ']' if brackets > 0 => brackets -= 1,
            '(' if brackets == 0 => parens += 1,
            ')' if brackets == 0 && parens > 0 => parens -= 1,
            '>' if brackets == 0 && parens == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(p: &str) -> PathPattern {
        PathPattern::parse(p, &Filters::default()).unwrap()
    }

    fn params(p: &PathPattern, path: &str) -> Option<Vec<(String, String)>> {
        p.matches(path)
    }

    fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            list.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn static_patterns() {
        let p = pat("/a/b");
        assert_eq!(p.static_path(), Some("/a/b"));
        assert_eq!(p.kind_name(), "static");
        assert_eq!(params(&p, "/a/b"), Some(vec![]));
        assert_eq!(params(&p, "/a/b/"), None);
        // Regex metacharacters in static parts are literal.
        let p = pat("/a.b/<x>");
        assert_eq!(params(&p, "/a.b/1"), pairs(&[("x", "1")]));
        assert_eq!(params(&p, "/aXb/1"), None);
    }

    #[test]
    fn default_params_match_one_segment() {
        let p = pat("/with/params/<id:int>/<what>");
        assert_eq!(p.kind_name(), "pattern");
        assert_eq!(
            params(&p, "/with/params/42/machWas"),
            pairs(&[("id", "42"), ("what", "machWas")])
        );
        assert_eq!(params(&p, "/with/params/x/machWas"), None);
        assert_eq!(params(&p, "/with/params/42/a/b"), None);
        assert_eq!(params(&p, "/with/params/42/"), None);
    }

    #[test]
    fn int_and_float() {
        let p = pat("/<n:int>");
        assert_eq!(params(&p, "/-007"), pairs(&[("n", "-7")]));
        assert_eq!(params(&p, "/1.5"), None);
        // Out of i64's range: no match rather than a wrong value.
        assert_eq!(params(&p, "/99999999999999999999"), None);
        // Only ASCII digits.
        assert_eq!(params(&p, "/\u{661}"), None);
        let p = pat("/<x:float>");
        assert_eq!(params(&p, "/1.50"), pairs(&[("x", "1.5")]));
        assert_eq!(params(&p, "/-3"), pairs(&[("x", "-3")]));
        assert_eq!(params(&p, "/1e5"), None);
        assert_eq!(params(&p, "/.5"), None);
    }

    #[test]
    fn word_hex_and_uuid() {
        let p = pat("/<w:word>");
        assert_eq!(params(&p, "/caf\u{e9}_1"), pairs(&[("w", "caf\u{e9}_1")]));
        assert_eq!(params(&p, "/a-b"), None);
        let p = pat("/<h:hex>");
        assert_eq!(params(&p, "/DeadBeef"), pairs(&[("h", "DeadBeef")]));
        assert_eq!(params(&p, "/xyz"), None);
        let p = pat("/<u:uuid>");
        for u in [
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "0f8FAD5b-D9cb-469F-a165-70867728950E",
        ] {
            assert_eq!(
                params(&p, &format!("/{u}")),
                pairs(&[("u", "0f8fad5b-d9cb-469f-a165-70867728950e")]),
                "{u}"
            );
        }
        assert_eq!(params(&p, "/0f8fad5b-d9cb-469f-a165-70867728950"), None);
        assert_eq!(params(&p, "/0f8fad5bd9cb469fa16570867728950e"), None);
    }

    #[test]
    fn inline_regex_params() {
        let p = pat("/<code:re:[A-Z]{2}(?:-[0-9]+)?>/<rest:re:.+>");
        assert_eq!(
            params(&p, "/AB-12/x/y"),
            pairs(&[("code", "AB-12"), ("rest", "x/y")])
        );
        assert_eq!(params(&p, "/ab/x"), None);
        // `>` inside brackets or groups does not end the regex.
        let p = pat("/<x:re:[>a]+>");
        assert_eq!(params(&p, "/a>a"), pairs(&[("x", "a>a")]));
        let p = pat("/<x:re:(?P<inner>a+)b>");
        assert_eq!(params(&p, "/aab"), pairs(&[("x", "aab")]));
        // An escaped `]` does not end a class.
        let p = pat("/<x:re:[\\]>]+>");
        assert_eq!(params(&p, "/]>"), pairs(&[("x", "]>")]));
    }

    #[test]
    fn custom_filters() {
        let mut f = Filters::default();
        f.add(
            "email",
            "[^@/]+@[^@/]+",
            Arc::new(|s: &str| Some(s.to_lowercase())),
        )
        .unwrap();
        f.add(
            "even",
            "[0-9]+",
            Arc::new(|s: &str| {
                s.parse::<u64>()
                    .ok()
                    .filter(|n| n % 2 == 0)
                    .map(|n| n.to_string())
            }),
        )
        .unwrap();
        let p = PathPattern::parse("/u/<e:email>/<n:even>", &f).unwrap();
        assert_eq!(
            params(&p, "/u/Ann@Example.org/4"),
            pairs(&[("e", "ann@example.org"), ("n", "4")])
        );
        assert_eq!(params(&p, "/u/Ann@Example.org/3"), None);
        assert_eq!(params(&p, "/u/nobody/4"), None);
        assert_eq!(f.custom().count(), 2);
        // A custom filter may replace a built-in one.
        f.add("int", "[0-9]{3}", Arc::new(|s: &str| Some(s.to_owned())))
            .unwrap();
        let p = PathPattern::parse("/<n:int>", &f).unwrap();
        assert_eq!(params(&p, "/12"), None);
        assert_eq!(params(&p, "/012"), pairs(&[("n", "012")]));

        assert!(
            f.add("re", "x", Arc::new(|s: &str| Some(s.into())))
                .is_err()
        );
        assert!(
            f.add("bad name", "x", Arc::new(|s: &str| Some(s.into())))
                .is_err()
        );
        let err = f
            .add("x", "(", Arc::new(|s: &str| Some(s.into())))
            .unwrap_err();
        assert!(err.contains("invalid regex"), "{err}");

        let mut g = Filters::default();
        g.add("x", "a", Arc::new(|s: &str| Some(s.into()))).unwrap();
        g.extend_missing(&f);
        assert_eq!(g.custom().count(), 4);
        assert_eq!(g.get("x").unwrap().regex, "a");
    }

    #[test]
    fn regex_routes() {
        let p = PathPattern::regex(r"/u/(?P<user>\w+)/(\d+)").unwrap();
        assert_eq!(p.kind_name(), "regex");
        assert_eq!(p.source(), r"/u/(?P<user>\w+)/(\d+)");
        assert_eq!(
            params(&p, "/u/ann/7"),
            pairs(&[("user", "ann"), ("2", "7")])
        );
        // Anchored at both ends, even without ^ and $.
        assert_eq!(params(&p, "/x/u/ann/7"), None);
        assert_eq!(params(&p, "/u/ann/7/"), None);
        let p = PathPattern::regex(r"^/opt(/(?P<x>\d+))?$").unwrap();
        assert_eq!(params(&p, "/opt"), Some(vec![]));
        assert_eq!(params(&p, "/opt/1"), pairs(&[("1", "/1"), ("x", "1")]));
        assert!(PathPattern::regex("(").is_err());
    }

    #[test]
    fn invalid_patterns() {
        let f = Filters::default();
        for (p, why) in [
            ("no-slash", "does not start with `/`"),
            ("/<id", "not closed"),
            ("/<id:int", "not closed"),
            ("/<:int>", "invalid parameter name"),
            ("/<1x>", "invalid parameter name"),
            ("/<a>/<a>", "appears twice"),
            ("/<a:nope>", "unknown filter"),
            ("/<a:re:>", "empty regex"),
            ("/<a:re:(>", "not closed"),
            ("/<a:re:a{2,1}>", "invalid route"),
            ("/<a:b c>", "invalid filter name"),
        ] {
            let err = PathPattern::parse(p, &f).err().unwrap_or_default();
            assert!(err.contains(why), "{p}: {err}");
        }
    }
}
