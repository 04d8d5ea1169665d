"""Domain values with no I/O: models, domain errors, limits, GUIDs and names. Every other layer
may use them; they use nothing of the server's."""
