"""The one way Portico runs rq: a non-forking worker that recycles itself, and a cron leader.

`SimpleWorker` runs jobs in its own process (warm templates, catalogs and database pool: no fork
and cold start per job). So that a slow leak cannot grow forever, the worker stops after
WORKER_MAX_JOBS jobs or once its peak memory passes WORKER_MAX_MEMORY_MB, and `run_worker`
re-executes the same command in the same process (fresh memory, same pid for the supervisor).
rq's scheduler runs in one worker at a time (rq takes a lock per queue); `flask portico cron`
holds a Redis lease so that only one of several cron processes enqueues the periodic jobs.
"""
import os
import resource
import sys

from rq import SimpleWorker



class RecyclingWorker(SimpleWorker):
    """A SimpleWorker that stops once its peak memory passes `max_memory_mb`."""

    max_memory_mb = 0

    def execute_job(self, job, queue):
        """Run the job in-process, then stop the loop when the process grew too large."""
        super().execute_job(job, queue)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        if self.max_memory_mb and peak_mb > self.max_memory_mb:
            self.log.info("worker peak memory %.0f MB > %d MB: recycling", peak_mb, self.max_memory_mb)
            self._stop_requested = True


def run_worker(queues, connection, burst=False, max_jobs=None, max_memory_mb=0):
    """Work the queues (with rq's scheduler); when a job or memory limit stopped the worker (and not
    in burst mode), replace this process by a fresh copy of the same command."""
    worker = RecyclingWorker(queues, connection=connection)
    worker.max_memory_mb = max_memory_mb
    worker.work(burst=burst, with_scheduler=True, max_jobs=max_jobs or None)
    recycled = (max_jobs and worker.successful_job_count + worker.failed_job_count >= max_jobs) or \
        worker._stop_requested and max_memory_mb
    if recycled and not burst:
        os.execv(sys.executable, [sys.executable, *sys.argv])
