"""What runs beside the requests for as long as the server does: the change-stream feed that
fans events out to live readers and keeps memory exact, and the writer of noted token uses."""
