"""Float models to chip configs: quantise, validate design rules, report, export."""
