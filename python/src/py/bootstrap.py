"""What the Python bridge of mod_rustgi runs once in each process's
interpreter: where output goes, and how a WSGI script is loaded."""

import logging
import site
import sys
import types


def install_output(stdout, stderr, log):
    """Sends print() and tracebacks to Apache's error log, and makes the
    logging module's last-resort handler log there at the record's level."""
    sys.stdout = stdout
    sys.stderr = stderr

    class ErrorLogHandler(logging.Handler):
        def emit(self, record):
            try:
                message = self.format(record)
            except Exception:
                self.handleError(record)
                return
            level = record.levelno
            if level >= logging.CRITICAL:
                apache = 2
            elif level >= logging.ERROR:
                apache = 3
            elif level >= logging.WARNING:
                apache = 4
            elif level >= logging.INFO:
                apache = 6
            else:
                apache = 7
            log(apache, message)

    logging.lastResort = ErrorLogHandler(logging.WARNING)


def release_signals():
    """Python was started without signal handlers, but importing its signal
    module still turns a default SIGINT into KeyboardInterrupt: give SIGINT
    back to the process (the daemon or Apache), as it was."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)


def add_paths(paths):
    """python-path: each directory as site.addsitedir adds it (.pth files
    included), once."""
    for path in paths:
        if path not in sys.path:
            site.addsitedir(path)


def load_script(path, name):
    """Imports the WSGI script at path as module `name`: its own namespace,
    __file__ set, listed in sys.modules, tracebacks naming path. A script
    already imported (for another of its callables) is not run again."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec", dont_inherit=True)
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        if sys.modules.get(name) is module:
            del sys.modules[name]
        raise
    return module


def format_exception(error, tb):
    import traceback

    return "".join(traceback.format_exception(type(error), error, tb))


def run_exit_functions():
    import atexit

    atexit._run_exitfuncs()
