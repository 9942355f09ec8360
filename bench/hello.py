"""The hello app of the benchmark's mod_wsgi cases: the same bytes as
examples/hello (`Hello, World!`, text/plain; charset=utf-8)."""

BODY = b"Hello, World!"
HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", str(len(BODY))),
]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
