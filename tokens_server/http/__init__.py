"""The edge: HTTP in and out. The operation table (``routes``) and its one adapter
(``operations``), input parsing and the schemas of answers, the handlers, the OpenAPI document,
problem answers, authentication, the in-flight bound, the docs pages and the app's typed state.
Handlers call ``services``; nothing below this package knows of HTTP."""
