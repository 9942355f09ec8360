"""A Flask app as it would be deployed under mod_wsgi, unchanged."""

import hashlib

from flask import Flask, Response, jsonify, request, session

app = Flask(__name__)
app.secret_key = "a test secret key for Flask's signed session cookie"


@app.get("/hello/<name>")
def hello(name):
    return f"Hello, {name}!"


@app.post("/form")
def form():
    return jsonify(name=request.form["name"], colors=request.form.getlist("color"))


@app.post("/upload")
def upload():
    f = request.files["file"]
    data = f.read()
    return jsonify(filename=f.filename, size=len(data),
                   sha256=hashlib.sha256(data).hexdigest(),
                   note=request.form.get("note"))


@app.post("/json")
def echo_json():
    got = request.get_json()
    return jsonify(got=got, total=sum(got["numbers"]))


@app.get("/stream")
def stream():
    def lines():
        for i in range(5):
            yield f"line {i}\n"
    return Response(lines(), mimetype="text/plain")


@app.get("/session")
def count():
    session["n"] = session.get("n", 0) + 1
    return str(session["n"])


@app.get("/speedups")
def speedups():
    # MarkupSafe's C extension, from the venv: it needs libpython's symbols.
    from markupsafe import _speedups
    return _speedups.__file__


application = app
