"""A PoorWSGI app as it would be deployed under mod_wsgi, unchanged."""

import hashlib

from poorwsgi import Application, state
from poorwsgi.response import GeneratorResponse, JSONResponse, TextResponse
from poorwsgi.session import PoorSession

app = application = Application("poorwsgi_test")
app.secret_key = "a test secret key for PoorSession's cookie"


@app.route("/hello/<name>")
def hello(req, name):
    return f"Hello, {name}!"


@app.route("/form", method=state.METHOD_POST)
def form(req):
    return JSONResponse(name=req.form.getfirst("name"),
                        colors=req.form.getlist("color"))


@app.route("/upload", method=state.METHOD_POST)
def upload(req):
    field = req.form["file"]
    data = field.file.read()
    return JSONResponse(filename=field.filename, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(),
                        note=req.form.getfirst("note"))


@app.route("/json", method=state.METHOD_POST)
def echo_json(req):
    got = req.json
    return JSONResponse(got=got, total=sum(got["numbers"]))


@app.route("/stream")
def stream(req):
    lines = (f"line {i}\n".encode() for i in range(5))
    return GeneratorResponse(lines, content_type="text/plain")


@app.route("/session")
def count(req):
    session = PoorSession(app.secret_key)
    session.load(req.cookies)
    n = session.data.get("n", 0) + 1
    session.data["n"] = n
    response = TextResponse(str(n))
    session.header(response)
    return response
