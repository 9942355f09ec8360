"""Serves the files beside it through wsgi.file_wrapper, as a download view
does: /NAME answers the file NAME, with its length and the serving pid."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def application(environ, start_response):
    name = os.path.basename(environ.get("PATH_INFO", ""))
    path = os.path.join(HERE, name)
    if not name or not os.path.isfile(path):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such file\n"]
    f = open(path, "rb")
    size = os.fstat(f.fileno()).st_size
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(size)),
                              ("X-Pid", str(os.getpid()))])
    return environ["wsgi.file_wrapper"](f, 65536)
