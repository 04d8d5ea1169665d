"""The load test is a script run on purpose (``python -m tests.load.run_load``), never collected."""

collect_ignore = ["run_load.py"]
