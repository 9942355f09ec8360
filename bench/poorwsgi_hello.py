"""The PoorWSGI app of the benchmark's PoorWSGI cases: a route with a path
argument, as apps have them. GET /hello/World answers the same bytes as
bench/hello.py (`Hello, World!`, text/plain; charset=utf-8)."""

from poorwsgi import Application
from poorwsgi.response import TextResponse

app = application = Application("bench")


@app.route("/hello/<name>")
def hello(req, name):
    return TextResponse(f"Hello, {name}!")
