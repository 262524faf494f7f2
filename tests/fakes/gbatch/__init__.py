"""A local Google Cloud Batch v1 REST API for the tests (see server.py)."""
