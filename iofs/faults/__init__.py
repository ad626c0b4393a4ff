"""Fault rules and the request trace: aim faults at any node, change them while the mount
runs, and see every request.

* :mod:`.steps`: what a faulted request does (the one step parser, shared with ``faulty``).
* :mod:`.rules`: which requests a rule fires on (the one rule parser, and the matcher).
* :mod:`.trace`: the ring of events and how it reads (JSON lines, human lines).
* :mod:`.hook`: where the filesystem's requests enter (``fs.hook``), once each.
* :mod:`.control`: the ``faults`` and ``trace`` files of the control directory.
"""
