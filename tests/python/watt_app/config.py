greeting = 'Hello World'
