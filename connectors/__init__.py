"""Maillon connectors: the SDK, its testing kit, the registry, and one package per app.

Connector authors import from :mod:`maillon.connectors.sdk` (the one public surface) and test
with :mod:`maillon.connectors.testing`. A connector module exposes a module-level ``connector``
object (a :class:`~maillon.connectors.sdk.Connector`) and is registered under the
``maillon.connectors`` entry-point group (:mod:`maillon.connectors.registry`), so a third-party
package adds an app without touching this repository.

Nothing is re-exported here: the SDK has one public module, and one list of names (its
``__all__``) that connector authors can rely on.
"""
