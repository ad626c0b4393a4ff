"""Tools for testing programs with iofs: one :class:`~.mount.Mount`, the control client
(:mod:`.client`), ``iofs sweep`` (:mod:`.sweep`) and the pytest plugin (:mod:`.pytest_plugin`)."""
