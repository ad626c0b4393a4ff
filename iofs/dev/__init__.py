"""The driver layer: the cdevsw-style API drivers are written against (:mod:`.driver`), the
one guarded way to call a driver (:mod:`.guard`), sleeping and signals (:mod:`.sleep`),
poll selection (:mod:`.select`), per-open state (:mod:`.cdevpriv`) and lazily paged driver
memory (:mod:`.memory`). Nothing here knows FUSE."""
