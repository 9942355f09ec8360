"""The PoorWSGI app of the hostile runs (`rustgi-chaos --hostile` and
tests/e2e/solo/hostile.rs), in a daemon group through the Python bridge.

Its routes parse the body with PoorWSGI's own parsers (a form, an upload, a
JSON object) and check what they got; every other path answers the echo
app's description of the request (the same keys, the same JSON), so that
the protocol-level cases judge it as they judge the echo app.
"""

import hashlib
import json
import math

from poorwsgi import Application, state
from poorwsgi.request import Request
from poorwsgi.response import HTTPException, JSONResponse, Response

app = application = Application("hostile")


@app.error_handler(ValueError, state.METHOD_ALL)
def body_not_parsed(req, error):
    """PoorWSGI parses the body while it builds the request, and its
    multipart parser raises ValueError for a missing or invalid boundary,
    which PoorWSGI answers with a 500 unless the app handles it. It is the
    client's error: a 400, with PoorWSGI's own page. A ValueError raised by
    a route (the request was built) is a bug, and stays a 500."""
    if isinstance(req, Request):
        raise error
    raise HTTPException(state.HTTP_BAD_REQUEST, error=error)


def bad_request(why):
    """Stops the route with PoorWSGI's 400 page, holding `why`."""
    return HTTPException(state.HTTP_BAD_REQUEST, error=why)


@app.route("/form", method=state.METHOD_POST)
def form(req):
    if "name" not in req.form:
        raise bad_request("the form has no field name")
    name = req.form.getfirst("name")
    colors = req.form.getlist("color")
    # A part may itself be multipart: its value is then a list of fields.
    if not all(isinstance(v, str) for v in [name, *colors]):
        raise bad_request("a field is not text")
    return JSONResponse(name=name, colors=colors)


@app.route("/upload", method=state.METHOD_POST)
def upload(req):
    if "file" not in req.form:
        raise bad_request("the form has no field file")
    field = req.form["file"]
    if isinstance(field, list) or field.filename is None:
        raise bad_request("the field file is not one file")
    data = field.file.read()
    if isinstance(data, str):
        data = data.encode()
    return JSONResponse(filename=field.filename, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest())


def is_number(value):
    """An int of any size or a finite float (Python's JSON parser takes
    NaN and Infinity, and 1e999 as infinity); not a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, float) and math.isfinite(value))


@app.route("/json", method=state.METHOD_POST)
def numbers(req):
    got = req.json
    values = got.get("numbers") if isinstance(got, dict) else None
    if not isinstance(values, list) or not all(map(is_number, values)):
        raise bad_request("want an object with a list of finite numbers")
    return JSONResponse(total=sum(values))


def lossy(text):
    """A WSGI string (bytes as ISO-8859-1) as lossy UTF-8, as the echo app
    shows bytes."""
    return text.encode("iso-8859-1").decode("utf-8", "replace")


@app.default(state.METHOD_ALL)
def describe(req):
    env = req.environ
    body = req.data
    if body is None:
        # PoorWSGI keeps a body of up to its data_size; a larger one, or a
        # chunked one (no Content-Length), is still in wsgi.input.
        body = env["wsgi.input"].read()
    headers = {}
    for key, value in env.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = lossy(value)
    description = {
        "method": env["REQUEST_METHOD"],
        "script_name": lossy(env.get("SCRIPT_NAME", "")),
        "path_info": lossy(env.get("PATH_INFO", "")),
        "query_string": lossy(env.get("QUERY_STRING", "")),
        "headers": headers,
        "body_len": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    text = json.dumps(description, ensure_ascii=False, separators=(",", ":"))
    return Response(text, content_type="application/json")
