//! A login session, as PoorWSGI's session documentation does it: `POST
//! /login` with the right password stores `login` in a signed session
//! cookie, `/private` wants it, `/logout` removes it.

use std::time::SystemTime;

use app_sdk::prelude::*;

use crate::Simple;
use crate::html::{escape, page};

/// The password of PoorWSGI's example.
pub const PASSWORD: &str = "SecretPasswds";

/// `GET /login`: the login form.
pub fn login_form(req: Request) -> Html<String> {
    login_page(&req, None)
}

fn login_page(req: &Request, problem: Option<&str>) -> Html<String> {
    let problem = problem
        .map(|p| format!("<p><b>{}</b></p>\n", escape(p)))
        .unwrap_or_default();
    let body = format!(
        "{problem}<form method=\"post\">\n\
         <label>Password: <input type=\"password\" name=\"passwd\"></label>\n\
         <input type=\"submit\" value=\"Log in\">\n</form>\n\
         <p><em>The password is {PASSWORD}.</em></p>\n"
    );
    page(req.script_name(), "Login", &body)
}

/// `POST /login`: with the right `passwd`, a session with `login` set and
/// a redirect to `/private`; with a wrong one, the form again (403).
///
/// Errors of every kind go through `?` into [`AnyError`]: a form that does
/// not parse answers as [`FormError`](app_sdk::extract::FormError) does (400, 413,
/// 415), a session that cannot be saved is a 500.
pub fn login(app: &Simple, mut req: Request) -> Result<Response, AnyError> {
    let form = req.form()?;
    if form.get("passwd") != Some(PASSWORD) {
        log::info!("login refused: bad password");
        let page = login_page(&req, Some("Bad password"));
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    let mut session = app.sessions().load(&req);
    session.insert("login", true)?;
    let mut res = Redirect::to(&format!("{}/private", req.script_name())).into_response();
    app.sessions().save(&session, res.headers_mut())?;
    Ok(res)
}

/// The session of a logged-in user, or the redirect to the login form:
/// a missing, expired or tampered-with cookie gives an empty session.
fn logged_in(app: &Simple, req: &Request) -> Result<Session, Redirect> {
    let session = app.sessions().load(req);
    if session.get::<bool>("login") == Some(true) {
        Ok(session)
    } else {
        log::info!("login required for {}", req.path_info());
        Err(Redirect::found(&format!("{}/login", req.script_name())))
    }
}

/// `GET /private`: only with a login session.
pub fn private(app: &Simple, req: Request) -> Result<Html<String>, Redirect> {
    let session = logged_in(app, &req)?;
    let minutes_left = session
        .expires()
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .map_or(0, |left| left.as_secs() / 60);
    let body = format!(
        "<p>Some private data.</p>\n<p>Your session lasts {minutes_left} more minutes.</p>\n\
         <p><a href=\"{}/logout\">Log out</a></p>\n",
        escape(req.script_name()),
    );
    Ok(page(req.script_name(), "Private", &body))
}

/// `GET /logout`: removes the session cookie and goes back to the index.
pub fn logout(app: &Simple, req: Request) -> Result<Response, HttpError> {
    let mut res = Redirect::found(&format!("{}/", req.script_name())).into_response();
    app.sessions().remove(res.headers_mut())?;
    Ok(res)
}
