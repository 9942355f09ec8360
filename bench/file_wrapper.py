"""The download of the benchmark's file cases: the file `big.bin` beside
this script, through wsgi.file_wrapper, with its Content-Length."""

import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "big.bin")


def application(environ, start_response):
    if environ.get("QUERY_STRING") == "ready":
        # The benchmark's check that the group serves, without the download.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ready"]
    f = open(PATH, "rb")
    size = os.fstat(f.fileno()).st_size
    start_response("200 OK", [
        ("Content-Type", "application/octet-stream"),
        ("Content-Length", str(size)),
    ])
    return environ["wsgi.file_wrapper"](f)
