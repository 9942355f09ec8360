#!/usr/bin/env python
# The application.py of 15Watt_Wsgi's README.
from Wsgi_15Watt.Kernel import Kernel

kernel = None


def application(env: dict, start_response):
    global kernel

    if kernel is None:
        kernel = Kernel()

    return kernel.run(env=env, startResponse=start_response)
