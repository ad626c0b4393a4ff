"""Who else runs programs in the tests."""

OTHER_UID = 1000  # a user that is not root, for tests of what other users may do

__all__ = ["OTHER_UID"]
