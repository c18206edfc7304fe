"""Runtime plumbing of the numba kernels: code generation settings shared by the command and the
library (``codegen``), thread counts adapted to the machine's load (``threads``) and compiling
every kernel ahead of time (``warmup``)."""
