"""How a long-running Portico process (web worker, job worker) sets up Python's garbage collector."""
import gc

# Container allocations between young collections (CPython's default is 700, 10, 10). A staff page
# allocates ~100,000 objects: at the defaults it ran young collections dozens of times a request and
# a full one every eight requests (+15-25 ms at 100,000 clients); here a full one is rare.
THRESHOLDS = (20_000, 20, 20)


def settle():
    """Freeze the objects built so far (the app: every full collection would walk them) into the
    permanent generation, and collect less often."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
