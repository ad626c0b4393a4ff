"""The fault plane: aim faults at any request, change them while the mount runs, and see
every request. Entered from the request path through one hook (:mod:`.hook`).

* :mod:`.ops`: the requests a rule can name (the filesystem's handlers are declared by them).
* :mod:`.actions`: what a faulted request does, one class per action, and the one function
  that applies an action to a request.
* :mod:`.glob`: the path matcher (linear time, whatever the glob).
* :mod:`.rules`: the one rule parser and a rule's own counters; :mod:`.ruleset`: the active
  rules of a mount, indexed by op and path.
* :mod:`.trace`: the ring of events and how it reads.
* :mod:`.hook`: where the filesystem's requests enter, once each.
* :mod:`.control`: the ``faults`` and ``trace`` files of the control directory.
"""
