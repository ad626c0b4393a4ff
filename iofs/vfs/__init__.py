"""The filesystem: the namespace behind one interface (:mod:`.namespace`; the in-memory tree
:mod:`.memory` is its first backend), regular files in memory (:mod:`.regular`, :mod:`.pool`,
:mod:`.xattr`), open files and the read/write path (:mod:`.openfile`, :mod:`.io`), the config
(:mod:`.config`), the assembly of a mount (:mod:`.assembly`), and the one module that speaks
FUSE (:mod:`.fuse`)."""
