"""The tree ``iofs mount`` serves without ``--config``: the README's tour."""

DEFAULT_TREE = """
[options]
max_memory = "1G"

[[device]]
path = "null"
driver = "null"

[[device]]
path = "zero"
driver = "zero"

[[device]]
path = "full"
driver = "full"

[[device]]
path = "mem0"
driver = "mem"
size = "64M"

[[device]]
path = "pipe0"
driver = "pipe"

[[device]]
path = "random"
driver = "random"

[[device]]
path = "status"
driver = "status"
mode = "0444"

[[dir]]
path = "tmp"
mode = "1777"
"""

__all__ = ["DEFAULT_TREE"]
