"""One cron leader among several `flask portico cron` processes: a Redis lock decides who enqueues.

rq's CronScheduler has no lock of its own, so two cron processes would each enqueue every periodic
job. Every process keeps its schedule moving; only the holder of `portico:cron-leader` enqueues.
The lock expires when its holder stops renewing it (killed), and another process takes over.
"""
import uuid

from rq.cron import CronScheduler, now

LEADER_KEY = "portico:cron-leader"
# Renew-or-take, atomically: the lock is ours if it is free or already holds our token.
_HOLD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LeaderCronScheduler(CronScheduler):
    """A CronScheduler that enqueues only while it holds the leader lock."""

    def __init__(self, *args, lock_seconds=90, **kwargs):
        super().__init__(*args, **kwargs)
        self.token = uuid.uuid4().hex
        self.lock_ms = int(lock_seconds * 1000)  # longer than the longest sleep between two loops (60 s)

    def is_leader(self):
        """Take or renew the lock; True while this process holds it."""
        return bool(self.connection.eval(_HOLD, 1, LEADER_KEY, self.token, self.lock_ms))

    def enqueue_jobs(self):
        """As rq's, on the leader; a follower only advances its schedule so a take-over starts in step."""
        if self.is_leader():
            return super().enqueue_jobs()
        moment = now()
        for job in self.get_jobs():
            if job.should_run():
                job.set_enqueue_time(moment)
        return []

    def register_death(self, *args, **kwargs):
        """Hand the lock back on a clean stop so another process takes over at once."""
        self.connection.eval(_RELEASE, 1, LEADER_KEY, self.token)
        return super().register_death(*args, **kwargs)
