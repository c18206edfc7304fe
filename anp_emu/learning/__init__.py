"""On-chip learning: MPD-ED and STBP sharing one forward pass and one set of counters."""
