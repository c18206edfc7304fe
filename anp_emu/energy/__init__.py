"""Energy and cycle model: counters x per-operation energies at an operating point."""
