"""The runtime: runs enrollments step by step, exactly once, surviving dead workers.

``executor`` (claims and runs a step in its own transaction), ``machine`` (one step: render,
handle, decide the next), ``flow`` (a published version, cached), ``context`` (what a step
sees), ``state`` (enrollment transitions), ``scheduler`` (due waits and the sweep),
``queue`` (publishing Celery tasks), ``enrollment`` / ``bulk_enroll`` (entering contacts),
``runlog`` (the run log export) and ``tasks`` (thin Celery tasks).

May import handlers, effects, definition and language; never dry-run or triggers.
"""
