"""The parts of bench/settle.py: paystream's drain, the naive peer's, the simulator's ceiling."""
