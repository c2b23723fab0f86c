"""What FileWallBall does with its data, one module per concern.

Every function takes a ``Session`` and never commits: the caller (a request, a CLI
command) owns the transaction. Functions raise the errors of ``filewallball.errors``.
"""
