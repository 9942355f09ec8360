//! Request bodies: forms, uploads, JSON, and streams in and out of `/yield`.

use std::fmt::Write as _;
use std::io::{self, Read as _};

use app_sdk::extract::{FormError, TempFiles};
use app_sdk::prelude::*;
use serde_json::Value;

use crate::Simple;
use crate::html::{page, table};

/// The most bytes `POST /yield` reads.
pub const MAX_STREAM: u64 = 64 << 20;

/// `GET` and `POST /test/form`: the query arguments and the form fields
/// (urlencoded or multipart; an empty form for a `GET`), as simple.py's
/// `test_form` shows them.
pub fn form(args: Args, mut req: Request) -> Result<Html<String>, FormError> {
    let form = req.form()?;
    let body = format!(
        "<h2>Get form</h2>\n\
         <form method=\"get\"><input name=\"gname\" value=\"Ondřej\">\
         <input name=\"gx\" value=\"1\"><input name=\"gx\" value=\"2\">\
         <input type=\"submit\" value=\"Send\"></form>\n\
         <h2>Post form</h2>\n\
         <form method=\"post\"><input name=\"pname\" value=\"Ondřej\">\
         <input name=\"px\" value=\"8\"><input name=\"px\" value=\"7\">\
         <input type=\"submit\" value=\"Send\"></form>\n\
         <h2>Form fields</h2>\n{}<h2>Query arguments</h2>\n{}",
        fields_table(form.fields()),
        fields_table(&args),
    );
    Ok(page(req.script_name(), "HTTP form test", &body))
}

/// Each name once, with all its values: `px | 8, 7, 6`.
fn fields_table(args: &Args) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in args.iter() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    table(
        names
            .iter()
            .map(|name| (*name, args.get_all(name).join(", "))),
    )
}

/// `GET /test/upload`: the upload form.
pub fn upload_form(req: Request) -> Html<String> {
    let body = "<form method=\"post\" enctype=\"multipart/form-data\">\n\
                <input type=\"file\" name=\"file_0\"><br>\n\
                <input type=\"file\" name=\"file_1\"><br>\n\
                <input type=\"submit\" value=\"Upload\">\n</form>\n";
    page(req.script_name(), "HTTP file upload test", body)
}

/// `POST /test/upload`: a multipart form whose files go to temporary files
/// (deleted when the form is dropped), under the app's form limits; the
/// answer names each file and its size. A malformed body is a 400, one
/// over the limits a 413.
pub fn upload(app: &Simple, mut req: Request) -> Result<String, FormError> {
    let form = req.form_with(app.form_limits(), &mut TempFiles::new())?;
    if form.files().is_empty() {
        return Ok("no files\n".to_owned());
    }
    let mut answer = String::new();
    for file in form.files() {
        let info = file.info();
        let _ = writeln!(
            answer,
            "{}: {} ({}), {} bytes",
            info.name(),
            info.safe_filename(),
            info.content_type().unwrap_or("no type"),
            info.size()
        );
    }
    Ok(answer)
}

/// `POST /test/json`: the JSON body, echoed. A body that is not JSON is a
/// 400, one that is not `application/json` a 415.
pub fn json_echo(Json(value): Json<Value>) -> Json<Value> {
    Json(value)
}

/// `GET /yield`: ten lines, each sent to the client as soon as it is made
/// (simple.py's generator response).
pub fn yield_lines() -> Bytes {
    let lines = (0..10).map(|i| format!("line {i}\n"));
    Bytes::new("text/plain; charset=utf-8", ResponseBody::chunks(lines))
}

/// `POST /yield`: reads the body as it arrives (chunked or not; the host
/// de-chunks it), never more than a buffer of it in memory, and says how
/// many bytes came.
pub fn read_stream(req: Request) -> Result<String, HttpError> {
    let mut body = req.into_body().take(MAX_STREAM + 1);
    let received = io::copy(&mut body, &mut io::sink())
        .map_err(|e| HttpError::bad_request(format!("reading the body failed: {e}")))?;
    if received > MAX_STREAM {
        return Err(HttpError::from(StatusCode::PAYLOAD_TOO_LARGE));
    }
    Ok(format!("received {received} bytes\n"))
}
