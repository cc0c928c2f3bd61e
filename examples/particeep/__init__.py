"""Play Particeep locally: a fake API (:mod:`.fake_api`), realistic entities (:mod:`.entities`)
and a webhook delivery simulator (:mod:`.simulate`). Run them with ``python -m``."""
