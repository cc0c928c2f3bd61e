"""The testing kit's fixtures (``fake_server``), loaded as a pytest plugin."""

pytest_plugins = ["maillon.connectors.testing.pytest_plugin"]
