"""Runnable examples: flows, and the Particeep fake API and simulator (``examples.particeep``)."""
