"""HTTP handlers: parse the request, call a service, answer JSON. No rules live here."""
