"""The core: moving bytes between buffers and iovecs. The segment walker under both faces,
BSD's ``struct uio`` with uiomove(9), Linux's ``struct iov_iter``, pages and checksums. It
knows nothing above it (no FUSE, no drivers)."""
