//! A serde deserializer over [`Args`]: query strings and urlencoded forms
//! into structs ([`Args::deserialize`], [`Query`]).
//!
//! Each name is a field; a field of a sequence type gets every value of its
//! name, any other field the first. Values parse into numbers, booleans,
//! chars, strings and unit enum variants; an `Option` field is `None` when
//! its name is missing. Pure code that never panics.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::value::{SeqDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::query::{ArgError, Args};
use crate::Request;
use crate::extract::FromRequestParts;

impl Args {
    /// The pairs as a `T`: each name a field, sequence fields taking every
    /// value of their name and other fields the first. Fails with an
    /// [`ArgError`] (400) naming the field that is missing or does not
    /// parse.
    ///
    /// ```
    /// use app_sdk::extract::Args;
    ///
    /// #[derive(serde::Deserialize, Debug, PartialEq)]
    /// struct Search {
    ///     q: String,
    ///     page: Option<u32>,
    ///     #[serde(default)]
    ///     tag: Vec<String>,
    ///     exact: bool,
    /// }
    ///
    /// let args = Args::parse("q=rust+sdk&tag=web&tag=apache&exact=true");
    /// let search: Search = args.deserialize().unwrap();
    /// assert_eq!(search.q, "rust sdk");
    /// assert_eq!(search.page, None);
    /// assert_eq!(search.tag, ["web", "apache"]);
    ///
    /// let err = Args::parse("q=x&page=two&exact=no").deserialize::<Search>().unwrap_err();
    /// assert_eq!(err.name(), "page");
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ArgError> {
        let mut fields: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut order = Vec::new();
        for (name, value) in self.iter() {
            let values = fields.entry(name).or_insert_with(|| {
                order.push(name);
                Vec::new()
            });
            values.push(value);
        }
        let entries = order
            .into_iter()
            .map(|name| (name, fields.remove(name).unwrap_or_default()))
            .collect::<Vec<_>>();
        let mut current = String::new();
        T::deserialize(ArgsDeserializer {
            entries: entries.into_iter(),
            pending: None,
            current: &mut current,
        })
        .map_err(|DeError(message)| {
            // serde names a missing field in its message; other errors come
            // from the value of the field being read.
            match message
                .strip_prefix("missing field `")
                .and_then(|m| m.strip_suffix('`'))
            {
                Some(field) => ArgError::new(field, None),
                None => ArgError::new(&current, Some(message)),
            }
        })
    }
}

/// A query string deserialized into a `T` (see [`Args::deserialize`]), as a
/// handler argument; an [`ArgError`] (400) is the response when it fails.
///
/// ```
/// use app_sdk::Router;
/// use app_sdk::extract::Query;
///
/// #[derive(serde::Deserialize)]
/// struct Page {
///     #[serde(default = "first")]
///     page: u32,
/// }
/// fn first() -> u32 { 1 }
///
/// let router = Router::new().get("/items", |Query(p): Query<Page>| format!("page {}", p.page));
/// # let _ = router;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts for Query<T> {
    type Rejection = ArgError;

    fn from_request_parts(req: &mut Request) -> Result<Query<T>, ArgError> {
        req.args().deserialize().map(Query)
    }
}

impl Request {
    /// The query string deserialized into a `T` (see
    /// [`Args::deserialize`]).
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Filter { min: i32, max: i32 }
    ///
    /// let env = Environ::from_iter([("QUERY_STRING", "min=-5&max=10")]);
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// let f: Filter = req.query().unwrap();
    /// assert_eq!((f.min, f.max), (-5, 10));
    /// ```
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, ArgError> {
        self.args().deserialize()
    }
}

/// The error of the deserializer: a message.
#[derive(Debug)]
struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> DeError {
        DeError(msg.to_string())
    }
}

/// The whole of the pairs, as a map of names to their values.
struct ArgsDeserializer<'a, 'c> {
    entries: std::vec::IntoIter<(&'a str, Vec<&'a str>)>,
    pending: Option<Vec<&'a str>>,
    /// The name of the field being read, for errors.
    current: &'c mut String,
}

impl<'de> de::Deserializer<'de> for ArgsDeserializer<'de, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for ArgsDeserializer<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((name, values)) => {
                name.clone_into(self.current);
                self.pending = Some(values);
                seed.deserialize(StrDeserializer::<DeError>::new(name))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let values = self.pending.take().unwrap_or_default();
        seed.deserialize(ValuesDeserializer(values))
    }
}

/// Forwards deserializer methods to the first value.
macro_rules! forward_to_first {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                self.first().$method(visitor)
            }
        )*
    };
}

/// All values of one name.
struct ValuesDeserializer<'a>(Vec<&'a str>);

impl<'de> de::Deserializer<'de> for ValuesDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.first().deserialize_any(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(SeqDeserializer::new(
            self.0.into_iter().map(ValueDeserializer),
        ))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.first().deserialize_bool(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.first().deserialize_enum(name, variants, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_first! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_identifier
        deserialize_ignored_any
    }

    forward_to_deserialize_any! {
        unit_struct tuple_struct map struct
    }
}

impl<'a> ValuesDeserializer<'a> {
    fn first(&self) -> ValueDeserializer<'a> {
        ValueDeserializer(self.0.first().copied().unwrap_or_default())
    }
}

/// One value, parsed as what the field asks for.
struct ValueDeserializer<'a>(&'a str);

impl<'de> IntoDeserializer<'de, DeError> for ValueDeserializer<'de> {
    type Deserializer = ValueDeserializer<'de>;

    fn into_deserializer(self) -> ValueDeserializer<'de> {
        self
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident: $ty:ty,)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                match self.0.trim().parse::<$ty>() {
                    Ok(n) => visitor.$visit(n),
                    Err(e) => Err(DeError(format!("{:?} is not a {}: {e}", self.0, stringify!($ty)))),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.trim().to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" => visitor.visit_bool(true),
            "false" | "off" | "no" | "0" | "" => visitor.visit_bool(false),
            _ => Err(DeError(format!("{:?} is not a boolean", self.0))),
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
        deserialize_char => visit_char: char,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(StrDeserializer::<DeError>::new(self.0))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(SeqDeserializer::new(std::iter::once(self)))
    }

    forward_to_deserialize_any! {
        str string bytes byte_buf unit_struct tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// Deserializes `args` into a fixed struct; for the fuzz target.
pub(crate) fn exercise(args: &Args) {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Everything {
        a: Option<i64>,
        b: Option<f64>,
        c: Option<bool>,
        d: Option<Vec<u8>>,
        e: Option<char>,
        f: Option<String>,
        g: Option<Kind>,
        #[serde(default)]
        h: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    enum Kind {
        X,
        Y,
    }
    let _ = args.deserialize::<Everything>();
    let _ = args.deserialize::<std::collections::HashMap<String, String>>();
    let _ = args.deserialize::<Vec<(String, String)>>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Environ, IntoResponse, RequestBody};
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Search {
        q: String,
        page: Option<u32>,
        #[serde(default)]
        tag: Vec<String>,
        exact: bool,
        sort: Option<Sort>,
        ratio: Option<f32>,
        id: Option<Id>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Sort {
        Asc,
        Desc,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Id(u64);

    #[test]
    fn structs() {
        let s: Search =
            Args::parse("q=a&q=b&page=3&tag=x&exact=on&sort=desc&ratio=0.5&id=7&other=1")
                .deserialize()
                .unwrap();
        assert_eq!(
            s,
            Search {
                q: "a".into(),
                page: Some(3),
                tag: vec!["x".into()],
                exact: true,
                sort: Some(Sort::Desc),
                ratio: Some(0.5),
                id: Some(Id(7)),
            }
        );
        // A flag without a value is false; missing optional fields are None.
        let s: Search = Args::parse("q=&exact=").deserialize().unwrap();
        assert_eq!(
            (s.q.as_str(), s.exact, s.page, s.tag.len()),
            ("", false, None, 0)
        );
    }

    #[test]
    fn errors_name_the_field() {
        let err = Args::parse("exact=1").deserialize::<Search>().unwrap_err();
        assert!(err.is_missing());
        assert_eq!(err.name(), "q");
        assert_eq!(err.to_string(), "the argument \"q\" is missing");
        let err = Args::parse("q=x&exact=maybe")
            .deserialize::<Search>()
            .unwrap_err();
        assert_eq!(err.name(), "exact");
        assert!(err.to_string().contains("not a boolean"), "{err}");
        let err = Args::parse("q=x&exact=1&sort=up")
            .deserialize::<Search>()
            .unwrap_err();
        assert_eq!(err.name(), "sort");
        let err = Args::parse("q=x&exact=1&page=-1")
            .deserialize::<Search>()
            .unwrap_err();
        assert_eq!(err.name(), "page");
        assert!(err.to_string().contains("not a u32"), "{err}");
        assert_eq!(err.into_response().status(), 400);
    }

    #[test]
    fn maps_and_sequences() {
        let map: std::collections::HashMap<String, i32> =
            Args::parse("a=1&b=2&a=3").deserialize().unwrap();
        assert_eq!((map["a"], map["b"]), (1, 2));
        let all: std::collections::HashMap<String, Vec<i32>> =
            Args::parse("a=1&b=2&a=3").deserialize().unwrap();
        assert_eq!(all["a"], [1, 3]);
        #[derive(Deserialize)]
        struct Pair {
            p: (i32, String),
        }
        let pair: Pair = Args::parse("p=1&p=x").deserialize().unwrap();
        assert_eq!(pair.p, (1, "x".into()));
    }

    #[test]
    fn query_extraction() {
        #[derive(Debug, Deserialize)]
        struct P {
            n: u8,
        }
        let env = Environ::from_iter([("QUERY_STRING", "n=200")]);
        let mut req = Request::new(env, Config::new(), RequestBody::empty());
        assert_eq!(req.query::<P>().unwrap().n, 200);
        let Query(p) = Query::<P>::from_request_parts(&mut req).unwrap();
        assert_eq!(p.n, 200);
        let env = Environ::from_iter([("QUERY_STRING", "n=300")]);
        let mut req = Request::new(env, Config::new(), RequestBody::empty());
        let err = Query::<P>::from_request_parts(&mut req).unwrap_err();
        assert_eq!(err.name(), "n");
        assert_eq!(err.into_response().status(), 400);
    }
}
