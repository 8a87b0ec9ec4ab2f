"""The one way Portico runs rq: a non-forking worker that recycles itself, and a cron leader.

`SimpleWorker` runs jobs in its own process (warm templates, catalogs and database pool: no fork
and cold start per job). So that a slow leak cannot grow forever, the worker stops after
WORKER_MAX_JOBS jobs or once its resident memory passes WORKER_MAX_MEMORY_MB, and `run_worker`
re-executes the same command in the same process (fresh memory, same pid for the supervisor).
The memory read is the current resident size, not getrusage's peak: Linux carries the peak over
fork and execve, so a worker started by a large parent (or re-executed after a recycle) would
otherwise stop after every job.
rq's scheduler runs in one worker at a time (rq takes a lock per queue); `flask portico cron`
holds a Redis lease so that only one of several cron processes enqueues the periodic jobs.
"""
import os
import resource
import sys

from rq import SimpleWorker
from rq.exceptions import StopRequested



class RecyclingWorker(SimpleWorker):
    """A SimpleWorker that stops once its resident memory passes `max_memory_mb`."""

    max_memory_mb = 0
    too_large = False  # set when memory stopped the loop (a signal's stop must not re-execute)
    signalled = False
    jobs_run = 0  # rq keeps its job counts in Redis only

    def request_stop(self, signum, frame):
        """A warm shutdown asked by a signal: remembered so that it is not mistaken for a recycle."""
        self.signalled = True
        super().request_stop(signum, frame)

    def execute_job(self, job, queue):
        """Run the job in-process, then stop the loop when the process grew too large."""
        super().execute_job(job, queue)
        self.jobs_run += 1
        size_mb = resident_mb()
        if self.max_memory_mb and size_mb > self.max_memory_mb:
            self.log.info("worker memory %.0f MB > %d MB: recycling", size_mb, self.max_memory_mb)
            self.too_large = self._stop_requested = True


def resident_mb():
    """This process's resident memory now, in MB (/proc on Linux; elsewhere getrusage's peak)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def restart_command():
    """The command line this process was started with (`python -m flask ...` stays a module run:
    sys.argv[0] would be the module's file, which cannot run as a script)."""
    return [sys.executable, *sys.orig_argv[1:]]


def run_worker(queues, connection, burst=False, max_jobs=None, max_memory_mb=0):
    """Work the queues (with rq's scheduler); when a job or memory limit stopped the worker, replace
    this process by a fresh copy of the same command. A burst worker has no limits: it stops once
    the queues are empty, never with jobs left."""
    if burst:
        max_jobs = max_memory_mb = 0
    worker = RecyclingWorker(queues, connection=connection)
    worker.max_memory_mb = max_memory_mb
    try:
        worker.work(burst=burst, with_scheduler=True, max_jobs=max_jobs or None)
    except StopRequested:  # a signal while the loop was already ending (rq raises it outside a job)
        return
    recycled = worker.too_large or (max_jobs and worker.jobs_run >= max_jobs)
    if recycled and not worker.signalled:
        sys.stdout.flush()  # execv drops what the pipes' buffers still hold
        sys.stderr.flush()
        os.execv(sys.executable, restart_command())
