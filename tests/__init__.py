"""factory's test suite: ``tests/unit`` (no Ray, no servers), ``tests/integration`` (real
Ray, HTTP, S3), ``tests/golden`` (the recorded hashes), ``tests/helpers`` (what the tests
share). A package, so every test imports the helpers as ``tests.helpers.<module>``."""
