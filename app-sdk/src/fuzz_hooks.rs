//! Entry points for the fuzz targets of `fuzz/` (and the random-input
//! tests): each runs one family of decoders on arbitrary bytes, checking
//! what must hold. Not part of the API.

#[cfg(feature = "multipart")]
pub use multipart::multipart_parse;

/// The query string and urlencoded form parsers.
pub fn query_parse(data: &[u8]) {
    crate::extract::query::exercise_decoders(data);
}

/// The session cookie decoders (signed and encrypted), and the JSON decoder
/// behind them.
#[cfg(feature = "sessions")]
pub fn session_decode(data: &[u8]) {
    crate::auth::session::exercise_decoder(data);
}

#[cfg(feature = "multipart")]
mod multipart {
    use std::io::{self, Read};

    use crate::extract::{FormError, FormLimits, InMemory, Multipart};

    /// The multipart parser: `data` is the body, with the boundary `b`; its
    /// first line is also tried as a `Content-Type`. The body is parsed whole,
    /// byte by byte, and into a form, and the results must agree.
    pub fn multipart_parse(data: &[u8]) {
        if let Some(line) = data.split(|&b| b == b'\n').next() {
            let _ = Multipart::<&[u8]>::boundary_of(&String::from_utf8_lossy(line));
        }
        let limits = FormLimits {
            fields: 16,
            header_size: 512,
            field_size: 1024,
            memory: 4096,
            ..FormLimits::default()
        };
        let whole = collect(data, limits);
        let trickled = collect(Trickle(data), limits);
        match (&whole, &trickled) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            _ => panic!("whole {whole:?} but trickled {trickled:?}"),
        }
        if let Ok(mut mp) = Multipart::new(data, "b", limits) {
            if let Ok(form) = mp.read_form(&mut InMemory) {
                let parts = whole.as_ref().map_or(0, Vec::len);
                assert!(form.fields().len() + form.files().len() <= parts);
            }
        }
    }

    type Parts = Vec<(String, Option<String>, Vec<u8>)>;

    fn collect(reader: impl Read, limits: FormLimits) -> Result<Parts, FormError> {
        let mut mp = Multipart::new(reader, "b", limits)?;
        let mut out = Vec::new();
        while let Some(mut part) = mp.next_part()? {
            let mut body = Vec::new();
            while let Some(chunk) = part.read_chunk()? {
                assert!(!chunk.is_empty());
                body.extend_from_slice(chunk);
            }
            out.push((
                part.name().to_owned(),
                part.filename().map(Into::into),
                body,
            ));
        }
        Ok(out)
    }

    /// A reader that hands out one byte at a time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(slot)) => {
                    *slot = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }
}
