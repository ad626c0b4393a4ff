"""The machine: /proc, the mount table, the state directory, whether FUSE can mount, sizes.
Nothing here knows iofs's layers above."""
