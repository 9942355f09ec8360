from Wsgi_15Watt.Route import Route, HttpMethods

routes = [
    Route(
        path='/',
        nameController='Controllers.ExampleController.ExampleController',
        nameMethod='getAction',
        httpMethod=HttpMethods.GET
    ),
    Route(
        path='/with/params/{id}/{what}',
        nameController='Controllers.ExampleController.ExampleController',
        nameMethod='withParamsAction',
        httpMethod=HttpMethods.GET,
        paramsDef={
            'id': 'int',
            'what': 'str'
        }
    ),
]
