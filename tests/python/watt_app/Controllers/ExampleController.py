import os

from Wsgi_15Watt.BaseController import BaseController
from Wsgi_15Watt.Request import Request
from Wsgi_15Watt.Response import Response


class ExampleController(BaseController):

    def __init__(self, config: dict):
        super().__init__(config=config)

    def getAction(self, request: Request, response: Response):
        response.stringContent = f"{self._config['greeting']} from pid {os.getpid()}"
        response.contentType = 'text/plain'
        response.returnCode = 200

    def withParamsAction(self, request: Request, response: Response):
        response.stringContent = f'Hello World, id = {request.get("id")} what = "{request.get("what")}"'
        response.contentType = 'text/plain'
        response.returnCode = 200
