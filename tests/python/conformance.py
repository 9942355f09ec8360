"""A WSGI app that exercises what PEP 3333 asks of a server, for mod_rustgi's
end-to-end tests. `application` is wrapped in wsgiref.validate.validator,
which fails the request on any breach by either side; `raw_application` is
the same app unwrapped (for wsgi.file_wrapper's fast path and for the
errors the validator would catch first)."""

import ctypes
import decimal
import hashlib
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from wsgiref.validate import validator

# Threads the app starts keep running between requests.
TICKS = [0]


def _tick():
    while True:
        TICKS[0] += 1
        time.sleep(0.02)


threading.Thread(target=_tick, daemon=True).start()

CLOSED = {"count": 0}
MARKER_DIR = os.path.dirname(os.path.abspath(__file__))


def _json(start_response, value, status="200 OK"):
    body = json.dumps(value, sort_keys=True).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def _text(start_response, text, status="200 OK"):
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain")])
    return [body]


class Closing:
    """An iterable that counts its close() calls."""

    def __init__(self, pieces):
        self.pieces = pieces

    def __iter__(self):
        return iter(self.pieces)

    def close(self):
        CLOSED["count"] += 1


def _endless():
    try:
        while True:
            yield b"x" * 65536
    finally:
        CLOSED["count"] += 1


def _streamed(marker):
    yield b"first\n"
    # Waits for the test to have read the first piece: a server that
    # buffered the response would never let it.
    deadline = time.time() + 10
    while not os.path.exists(marker) and time.time() < deadline:
        time.sleep(0.02)
    yield b"second\n" if os.path.exists(marker) else b"timeout\n"


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    if path.startswith("/env"):
        keys = ["wsgi.version", "wsgi.url_scheme", "wsgi.multithread",
                "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated",
                "mod_wsgi.process_group", "mod_wsgi.application_group",
                "mod_wsgi.script_name", "SCRIPT_NAME", "PATH_INFO",
                "QUERY_STRING", "REQUEST_METHOD", "SERVER_PROTOCOL",
                "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_X_TEST", "SCRIPT_FILENAME"]
        value = {k: environ.get(k) for k in keys}
        value["wsgi.version"] = list(environ["wsgi.version"])
        value["__file__"] = __file__
        value["__name__"] = __name__
        value["in_sys_modules"] = sys.modules.get(__name__) is not None
        value["argv"] = sys.argv
        value["pid"] = os.getpid()
        value["executable_prefix"] = sys.prefix
        value["sigint"] = repr(signal.getsignal(signal.SIGINT))
        value["types"] = {k: type(v).__name__ for k, v in environ.items()
                          if not k.startswith("wsgi.")}
        return _json(start_response, value)
    if path == "/read":
        # read(n) in pieces, with a checksum: bounded memory for any size.
        digest = hashlib.sha256()
        total = 0
        size = int(query) if query else 65536
        while True:
            piece = environ["wsgi.input"].read(size)
            if not piece:
                break
            digest.update(piece)
            total += len(piece)
        return _json(start_response, {"length": total, "sha256": digest.hexdigest()})
    if path == "/readall":
        data = environ["wsgi.input"].read()
        return _json(start_response, {"length": len(data),
                                      "sha256": hashlib.sha256(data).hexdigest()})
    if path == "/swallow":
        # Takes a body that cannot be read for an empty one, as frameworks
        # often do with a failed read.
        try:
            data = environ["wsgi.input"].read()
        except OSError:
            data = b""
        return _json(start_response, {"length": len(data)})
    if path == "/lines":
        stream = environ["wsgi.input"]
        first = stream.readline()
        limited = stream.readline(3)
        rest_of_line = stream.readline()
        hinted = stream.readlines(1)
        iterated = [line for line in stream]
        return _json(start_response, {
            "first": first.decode(), "limited": limited.decode(),
            "rest_of_line": rest_of_line.decode(),
            "hinted": [l.decode() for l in hinted],
            "iterated": [l.decode() for l in iterated]})
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _streamed(os.path.join(MARKER_DIR, query))
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"directly, ")
        return Closing([b"then returned"])
    if path == "/close":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"a", b"b"])
    if path == "/closed":
        return _json(start_response, dict(CLOSED))
    if path == "/endless":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _endless()
    if path == "/raise-in-iterable":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield b"partial"
            raise RuntimeError("failed while streaming")
        return Closing(gen())
    if path == "/exc_info":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("replaced before output")
        except ValueError:
            start_response("503 Service Unavailable",
                           [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced"]
    if path == "/exc_info-late":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"started ")
        try:
            raise ValueError("too late")
        except ValueError:
            try:
                start_response("500 Oops", [("Content-Type", "text/plain")],
                               sys.exc_info())
                outcome = b"not re-raised"
            except ValueError as e:
                outcome = b"re-raised: " + str(e).encode()
        return [outcome]
    if path == "/length":
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", "5")])
        return [b"12345", b"67890"]
    if path == "/file":
        f = open(os.path.join(MARKER_DIR, "data.bin"), "rb")
        f.seek(10)
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", query or "20")])
        return environ["wsgi.file_wrapper"](f, 4096)
    if path == "/log":
        print("print() from the app")
        environ["wsgi.errors"].write("wsgi.errors from the app\n")
        environ["wsgi.errors"].flush()
        sys.stderr.write("stderr from the app\n")
        logging.getLogger("conformance").warning("logging.warning from the app")
        return _text(start_response, "logged")
    if path == "/threads":
        return _json(start_response, {"ticks": TICKS[0],
                                      "threads": threading.active_count()})
    if path == "/extensions":
        db = sqlite3.connect(":memory:")
        db.execute("create table t (x)")
        db.execute("insert into t values (42)")
        value = {"sqlite3": db.execute("select x from t").fetchone()[0],
                 "decimal": str(decimal.Decimal("1.1") + decimal.Decimal("2.2")),
                 "ctypes": ctypes.sizeof(ctypes.c_int)}
        return _json(start_response, value)
    if path == "/error":
        raise RuntimeError("the conformance app failed on purpose")
    if path == "/bad-status":
        start_response("20 OK", [("Content-Type", "text/plain")])
        return [b"never"]
    if path == "/crlf":
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("X-Injected", "a\r\nSet-Cookie: evil=1")])
        return [b"never"]
    if path == "/str-body":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["a str, not bytes"]
    if path == "/sleep":
        time.sleep(float(query or "1"))
        return _text(start_response, "slept")
    if path == "/exit":
        os._exit(3)
    if path == "/pid":
        return _json(start_response, {"pid": os.getpid()})
    return _text(start_response, "not found: " + path, "404 Not Found")


raw_application = app
application = validator(app)
