"""Several `flask portico cron` processes: only the Redis-locked leader enqueues periodic jobs."""
from rq.cron import CronScheduler

from app.cron_leader import LEADER_KEY, LeaderCronScheduler
from app.jobs import QUEUES, ping, queue
from app.redis_conn import get_redis


def _enqueued_by(app, cls):
    """Two schedulers of `cls` each run one loop: how many ping jobs were enqueued."""
    with app.app_context():
        redis = get_redis()
        redis.delete(LEADER_KEY)
        queue().empty()
        schedulers = [cls(connection=redis) for _ in range(2)]
        for scheduler in schedulers:
            scheduler.register_birth()
            scheduler.register(ping, QUEUES[0], interval=60)
        for scheduler in schedulers:
            scheduler.enqueue_jobs()
        count = queue().count
        queue().empty()
        for scheduler in schedulers:
            scheduler.register_death()
        return count


def test_two_plain_rq_cron_schedulers_enqueue_every_job_twice(app):
    """rq's CronScheduler has no lock: two processes means each periodic job runs twice per period."""
    assert _enqueued_by(app, CronScheduler) == 2


def test_two_leader_schedulers_enqueue_once_and_a_stopped_leader_hands_over(app):
    """Only the lock holder enqueues; once it stops, the other takes over within one loop."""
    assert _enqueued_by(app, LeaderCronScheduler) == 1
    with app.app_context():
        redis = get_redis()
        first, second = LeaderCronScheduler(connection=redis), LeaderCronScheduler(connection=redis)
        first.register_birth()
        second.register_birth()
        assert first.is_leader() and not second.is_leader() and first.is_leader()
        first.register_death()
        assert second.is_leader() and not first.is_leader()
        second.register_death()
        assert redis.get(LEADER_KEY) is None
