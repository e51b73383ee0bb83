"""Pools, workers and tasks: lease a task, hold it (heartbeats), start, complete or fail it."""

import threading
import time
import urllib.parse
from datetime import datetime

from .client import Client, HmsError, LeaseLost, token_subject

# The gateway answers a long-poll after at most this long (API.md: waitSeconds 0..30).
MAX_WAIT_SECONDS = 30
# Heartbeat bounds: often enough to keep a short lease, rarely enough not to flood a long one.
MIN_HEARTBEAT_SECONDS = 1.0
MAX_HEARTBEAT_SECONDS = 300.0
# How `Worker.run` counts a task by the way it ended.
OUTCOME_COUNTS = {"complete": "completed", "fail": "failed", "release": "released", "lost": "lost"}


def _seg(value):
    return urllib.parse.quote(value, safe="")


def _seconds_until(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() - time.time()


class Task:
    """A task leased by a worker. While it is held, a background thread heartbeats its lease."""

    def __init__(self, client, leased):
        self._client = client
        self.id = leased["id"]
        self.request_id = leased["requestId"]
        self.step_id = leased["stepId"]
        self.title = leased["title"]
        self.pool = leased.get("pool")
        self.tags = leased.get("tags") or []
        self.payload = leased.get("payload") or {}
        #: What the step gives the task to work on: its ``input:``, else the payload and the outputs of the steps before it.
        self.input = leased.get("input") or {}
        self.attempt = leased["attempt"]
        self.lease_token = leased["leaseToken"]
        self.lease_expires_at = leased["leaseExpiresAt"]
        #: The task's full lease length in seconds (the step's, else the pool's).
        self.lease_seconds = leased.get("leaseSeconds")
        # What each heartbeat asks for: the granted length until start(), the full one after.
        self._extend_seconds = None
        #: How the task ended here: "complete", "fail", "release", or "lost" (the lease was); None while held.
        self.outcome = None
        self._released = threading.Event()
        self._heartbeats = threading.Thread(target=self._heartbeat_loop, name=f"oms-heartbeat-{self.id}", daemon=True)
        self._heartbeats.start()

    @property
    def held(self):
        """True until the task is completed, failed or released here, or its lease was lost."""
        return not self._released.is_set()

    def start(self):
        """Extends the lease to the step's (or pool's) full length from now, e.g. a 2-hour one,
        also when the task was only claimed briefly (`next_task(claim_seconds=...)`); the
        heartbeats keep it at that length from then on."""
        self._extend_seconds = self.lease_seconds
        return self.heartbeat()

    def heartbeat(self, extend_seconds=None):
        """Extends the lease from now by `extend_seconds`, else by the full length once started
        (by the length it was granted for before); returns the new deadline."""
        extend_seconds = extend_seconds if extend_seconds is not None else self._extend_seconds
        body = {"leaseToken": self.lease_token}
        if extend_seconds is not None:
            body["extendSeconds"] = int(extend_seconds)
        try:
            answer = self._client.call("POST", f"/v1/tasks/{_seg(self.id)}/heartbeat", body)
        except LeaseLost:
            self._end_here("lost")
            raise
        self.lease_expires_at = answer["leaseExpiresAt"]
        return self.lease_expires_at

    def complete(self, result=None, next=None):
        """Finishes the task with `result` (a dict) as its output; a repeat is a no-op on the server.

        With `next` (a lease call's body without ``waitSeconds``, e.g. ``{"pool": "scanning",
        "max": 1}``), the answer's ``next["tasks"]`` are leased to this worker in the same call,
        once the completion is committed; none means the queue was empty (long-poll then)."""
        body = {"leaseToken": self.lease_token, "output": result or {}}
        if next is not None:
            body["next"] = next
        return self._end("complete", body)

    def fail(self, error, code=None, retryable=True):
        """Fails this attempt: retried by the step's policy unless `retryable` is false."""
        failure = {"message": (str(error) or type(error).__name__)[:4000]}
        code = code if code is not None else getattr(error, "code", None)
        if isinstance(code, str) and code:
            failure["code"] = code
        return self._end("fail", {"leaseToken": self.lease_token, "error": failure, "retryable": bool(retryable)})

    def release(self):
        """Gives the task back to its queue at once; the attempt is not counted."""
        return self._end("release", {"leaseToken": self.lease_token})

    def _end(self, action, body):
        # Heartbeats stop first, so none races the ending call.
        self._end_here(action)
        try:
            return self._client.call("POST", f"/v1/tasks/{_seg(self.id)}/{action}", body)
        except LeaseLost:
            self.outcome = "lost"
            raise

    def _end_here(self, outcome):
        if self.outcome is None:
            self.outcome = outcome
        self._released.set()

    def _heartbeat_loop(self):
        while True:
            left = _seconds_until(self.lease_expires_at)
            delay = min(MAX_HEARTBEAT_SECONDS, max(MIN_HEARTBEAT_SECONDS, left / 3))
            if self._released.wait(delay):
                return
            try:
                self.heartbeat()
            except LeaseLost:
                return
            except HmsError:
                # A gateway hiccup: try again at the next beat while the lease lasts.
                continue

    def __repr__(self):
        return f"Task(id={self.id!r}, title={self.title!r}, pool={self.pool!r}, attempt={self.attempt})"


class Worker:
    """A worker logged in to a pool: takes its tasks as `name` (the subject of its token)."""

    def __init__(self, client, pool, name, tags=None):
        self._client = client
        self.pool = pool
        self.name = name
        self.tags = tags

    def next_task(self, tags=None, timeout=None, wait_seconds=20, claim_seconds=None):
        """The next task of the pool whose tags are all among `tags`, leased to this worker.

        Long-polls (the gateway answers as soon as a task is there, no busy polling) until a
        task comes or `timeout` seconds have passed (None: wait as long as it takes); None then.
        The lease is the step's full length, or only `claim_seconds` until `task.start()` (so a
        task taken and left unstarted goes back to the queue soon); heartbeats keep it meanwhile.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = min(MAX_WAIT_SECONDS, wait_seconds)
            if deadline is not None:
                wait = max(0, min(wait, int(deadline - time.monotonic())))
            body = {**self._asked(tags), "waitSeconds": wait}
            if claim_seconds is not None:
                body["leaseSeconds"] = int(claim_seconds)
            answer = self._client.call("POST", f"/v1/pools/{_seg(self.pool)}/lease", body, timeout=self._client.timeout + wait)
            tasks = (answer or {}).get("tasks") or []
            if tasks:
                return Task(self._client, tasks[0])
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def run(self, handler, stop=None, tags=None, max_tasks=None, wait_seconds=20, on_error=None):
        """Takes tasks one after another and hands each to `handler(task)`.

        The handler's return value (a dict, or None for `{}`) completes the task; an exception
        fails it, retried unless the exception has `retryable = False`. A handler may also end the
        task itself. Each complete also leases the next task (`next`), so while tasks are queued
        the loop makes one call per task; it long-polls when a complete brings none. Returns how
        many tasks were completed, failed, released and lost (a lease
        that ran out or moved on; the handler's result is then dropped). Stops when the `stop` event is set (between tasks and long-polls) or after
        `max_tasks` handled. Errors the loop survives (a lost lease, a gateway that did not
        answer) go to `on_error(error, task)`; 401/403 are raised.
        """
        summary = {"completed": 0, "failed": 0, "released": 0, "lost": 0}
        stop = stop or threading.Event()
        report = on_error or (lambda error, task: None)
        backoff = 0.5
        handled = 0
        # Leased in the answer of the last complete: while tasks are queued, one call per task.
        carried = None
        while not stop.is_set() and (max_tasks is None or handled < max_tasks):
            try:
                task = carried if carried is not None else self.next_task(tags=tags, timeout=wait_seconds, wait_seconds=wait_seconds)
                carried = None
            except HmsError as error:
                if not error.retryable:
                    raise
                report(error, None)
                stop.wait(backoff)
                backoff = min(30.0, backoff * 2)
                continue
            backoff = 0.5
            if task is None:
                continue
            handled += 1
            try:
                result = handler(task)
                if result is not None and not isinstance(result, dict):
                    raise TypeError(f"the handler returned {type(result).__name__}; a task's result is a dict (or None)")
            except Exception as error:  # the handler's failure is the task's
                if task.held:
                    self._end(report, task, task.fail, error, retryable=getattr(error, "retryable", True) is not False)
            else:
                if task.held:
                    wants_more = not stop.is_set() and (max_tasks is None or handled < max_tasks)
                    answer = self._end(report, task, task.complete, result, next={"pool": self.pool, **self._asked(tags)} if wants_more else None)
                    leased = ((answer or {}).get("next") or {}).get("tasks") or []
                    carried = Task(self._client, leased[0]) if leased else None
            summary[OUTCOME_COUNTS.get(task.outcome, "lost")] += 1
        if carried is not None:
            # Leased as the run was stopped: back to the queue at once.
            self._end(report, carried, carried.release)
            summary[OUTCOME_COUNTS.get(carried.outcome, "lost")] += 1
        return summary

    def _asked(self, tags):
        """What this worker's leases ask for (one task), in a lease call or as the `next` of a complete."""
        tags = tags if tags is not None else self.tags
        body = {"worker": self.name, "max": 1}
        if tags is not None:
            body["tags"] = list(tags)
        return body

    @staticmethod
    def _end(report, task, action, *args, **kwargs):
        """Ends the task; an error doing so (a lost lease, a gateway that did not answer) goes to `report`."""
        try:
            return action(*args, **kwargs)
        except HmsError as error:
            # Whether the call took effect is unknown: the lease runs out and the task is retried.
            task.outcome = "lost"
            report(error, task)


class Pool:
    """A pool (lane) of the gateway at `url` (else `HMS_URL`), called with `token` (else `HMS_TOKEN`)."""

    def __init__(self, name, url=None, token=None, client=None):
        self.name = name
        self._client = client or Client(url=url, token=token)

    def login(self, worker, tags=None):
        """Works this pool as `worker`, which must be the subject of the token (the gateway checks)."""
        subject = token_subject(self._client.token)
        if subject is not None and subject != worker:
            raise ValueError(f"login as {worker!r}, but the token is {subject!r}'s: a worker can only take tasks as itself")
        return Worker(self._client, self.name, worker, tags=tags)
