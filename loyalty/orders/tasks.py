"""Celery entry points of orders (thin: each calls one service). Tasks take ids and are idempotent."""

from __future__ import annotations

from celery import shared_task

from loyalty.orders import services


@shared_task(
    name="orders.tasks.link_pending_orders", ignore_result=True, acks_late=True, soft_time_limit=540, time_limit=570
)
def link_pending_orders() -> int:
    """Every 10 minutes: link pending orders whose buyer identity now belongs to a member."""
    return services.link_pending_orders()


@shared_task(
    name="orders.tasks.link_orders_for_identities",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=120,
    time_limit=150,
)
def link_orders_for_identities(identity_ids: list[int]) -> int:
    """Right after identities are added: link the pending orders of those buyers (none left: 0)."""
    return services.link_orders_for_identities(identity_ids=identity_ids)


def queue_link(identity_ids: list[int]) -> None:
    """members.hooks callback; runs after the identities' transaction committed."""
    link_orders_for_identities.delay(list(identity_ids))


def _import_limits() -> tuple[int, int]:
    from loyalty.orders.import_jobs import ORDER_IMPORTS

    return ORDER_IMPORTS.task_time_limits()


@shared_task(name="orders.tasks.run_order_import", ignore_result=True, acks_late=True,
             soft_time_limit=_import_limits()[0], time_limit=_import_limits()[1])
def run_order_import(job_id: int) -> None:
    """Run one order import job. Safe to deliver twice: the attempt takes the job's lock and claims
    it with a conditional UPDATE; a job out of attempts is left alone."""
    from loyalty.orders import import_jobs

    import_jobs.run_job(job_id=job_id)


@shared_task(name="orders.tasks.resume_order_imports", ignore_result=True, soft_time_limit=120, time_limit=150)
def resume_order_imports() -> dict:
    """For the beat schedule: the sweeper of order imports (import_jobs.sweep)."""
    from loyalty.orders import import_jobs

    return import_jobs.sweep()
