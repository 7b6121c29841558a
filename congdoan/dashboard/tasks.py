"""Background work of the dashboard."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from congdoan.dashboard import services


@db_periodic_task(crontab(minute="7"))
def unit_stats_daily():
    """Every hour, recount everything if some counts date from before today (local time).

    Ages move with the calendar, so the age bands must be recomputed once a day; checking every
    hour makes it happen soon after midnight in settings.TIME_ZONE whatever the worker's clock
    (Huey's crontab runs in UTC) and catches up if the worker was stopped at midnight.
    """
    if services.stats_are_stale():
        services.rebuild_unit_stats()
