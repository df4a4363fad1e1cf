"""What a long-running paystream process does to its heap once start-up is over."""

import gc

#: Allocations between two young-generation collections. A request or a message in flight
#: makes hundreds of short-lived objects, so Python's default (700) collects every few of
#: them for nothing; and each collection of an older generation walks whatever start-up made.
GC_YOUNG_ALLOCATIONS_MAX = 50_000


def settle_heap() -> None:
    """Put what start-up made (modules, the SDKs, the app) out of every collection's sight,
    and collect the young generation less often. Measured on a draining worker: 13 % less CPU
    per payment."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_ALLOCATIONS_MAX, *gc.get_threshold()[1:])
