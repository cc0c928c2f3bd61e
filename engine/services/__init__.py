"""Engine services: every operation the API, the CLI and the UI perform, with its side effects.

A caller (a REST controller, a CLI command, a UI page) parses its input, calls one service
method, and renders the result. Whatever else the operation implies happens inside the service,
so that no caller can forget it: waking the workers when runs are queued, forgetting cached
connections when one changes, registering an app's webhooks when a flow is switched on.

Conventions shared by every service:

- Methods are coroutines. Database work runs in a worker thread (:meth:`Service.sync`), calls to
  remote apps are awaited; the CLI bridges to them once, at its edge.
- Errors are the ones of :mod:`maillon.engine.errors`: ``NotFound``, ``Conflict``, ``Invalid``
  (with every problem listed), so that each transport maps them to its own words once.
- Services receive what they need explicitly (the database, the registry, other services);
  :class:`maillon.engine.runtime.Runtime` builds them once per process.
"""
