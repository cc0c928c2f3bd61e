"""Local stand-ins for Slack and Google: watch a flow deliver without a workspace or an account.

Each is the testing kit's :class:`~maillon.connectors.testing.FakeServer` on a known port,
answering as the real API does where Maillon's connectors depend on it, and printing what it
receives. ``python -m examples.stand_ins.slack`` and ``python -m examples.stand_ins.google``
start them and print the connection settings that point Maillon at them.
"""
