"""iofs: a FUSE filesystem in which every file is a device driver."""
