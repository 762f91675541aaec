"""The dry-run: plays a workflow in memory against a sample contact and injected events.

Uses the runtime's state machine with the dry service bundle, so what it shows is what a
live run would do; it writes nothing. May import the runtime and everything below it;
never the triggers.
"""

from engine.dryrun.run import DryRunError, DryRunReport, Event, dry_run, parse_events

__all__ = ["DryRunError", "DryRunReport", "Event", "dry_run", "parse_events"]
