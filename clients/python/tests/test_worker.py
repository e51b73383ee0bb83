import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from oms import Client, HmsError, LeaseLost, Pool
from oms.worker import _seconds_until

from conftest import POOL, WORKER

REPO = Path(__file__).resolve().parents[3]


def test_the_chapter_snippet_pulls_starts_and_completes_a_voucher_task(manager, scene):
    _register_yaml(manager, REPO / "examples/plans/disaster-voucher.plan.yaml")
    request = scene.request("disaster_voucher", {"citizenId": 9988})
    env = {**os.environ, "PYTHONPATH": str(REPO / "clients/python")}
    run = subprocess.run([sys.executable, str(REPO / "examples/seeds/pull_task.py")], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    view = scene.wait_for_status(request["id"], statuses=("running",))
    step = view["steps"][0]
    assert run.stdout.splitlines() == [f"📝 Got {step['taskId']} Verify household income", f"✅ Task {step['taskId']} done!"]
    for _ in range(100):
        step = scene.request_view(request["id"])["steps"][0]
        if step["status"] == "done":
            break
        time.sleep(0.1)
    assert step["status"] == "done"
    assert step["output"] == {"eligible": True}


def _register_yaml(manager, path):
    """Registers a YAML plan file as written (the SDK's calls send JSON)."""
    request = urllib.request.Request(
        manager.url + "/v1/plans", data=path.read_bytes(), method="POST",
        headers={"content-type": "application/yaml", "authorization": f"Bearer {manager.token}"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status in (200, 201)


def test_next_task_long_polls_until_a_task_is_queued(scene):
    plan = scene.plan()
    worker = Pool(POOL).login(WORKER)
    got = {}
    waiting = threading.Thread(target=lambda: got.setdefault("task", worker.next_task(tags=[scene.tag], timeout=60)))
    waiting.start()
    request = scene.request(plan, {"n": 1})
    waiting.join()
    task = got["task"]
    assert (task.request_id, task.step_id, task.payload, task.attempt) == (request["id"], "work", {"n": 1}, 1)
    assert task.input == {"payload": {"n": 1}, "steps": {}}
    task.complete(result={"ok": True})
    assert scene.wait_for_status(request["id"])["status"] == "completed"


def test_next_task_answers_none_when_nothing_comes_in_time(scene):
    assert Pool(POOL).login(WORKER).next_task(tags=[scene.tag], timeout=0) is None


def test_start_extends_the_lease_to_the_steps_full_length(scene):
    plan = scene.plan(leaseSeconds=7200)
    scene.request(plan)
    task = Pool(POOL).login(WORKER).next_task(tags=[scene.tag], timeout=30, claim_seconds=60)
    assert task.lease_seconds == 7200
    assert _seconds_until(task.lease_expires_at) <= 60
    task.start()
    assert 7000 < _seconds_until(task.lease_expires_at) <= 7200
    # The heartbeats keep the full length from then on, not the claim's.
    assert _seconds_until(task.heartbeat()) > 7000
    task.release()


def test_heartbeats_keep_a_held_task_past_its_lease(scene):
    plan = scene.plan(leaseSeconds=2)
    request = scene.request(plan)
    task = Pool(POOL).login(WORKER).next_task(tags=[scene.tag], timeout=30)
    deadlines = {task.lease_expires_at}
    # Two heartbeats at least a second apart: the 2-second lease granted first has run out by then.
    while len(deadlines) < 3:
        time.sleep(0.05)
        deadlines.add(task.lease_expires_at)
    task.complete(result={"held": True})
    assert scene.wait_for_status(request["id"])["status"] == "completed"


def test_fail_retries_then_gives_up(scene):
    plan = scene.plan(retry={"attempts": 2, "backoffSeconds": 0})
    request = scene.request(plan)
    worker = Pool(POOL).login(WORKER)
    first = worker.next_task(tags=[scene.tag], timeout=30)
    first.fail(ValueError("scan unreadable"), code="UNREADABLE")
    second = worker.next_task(tags=[scene.tag], timeout=30)
    assert (second.id, second.attempt) == (first.id, 2)
    second.fail("still unreadable")
    assert scene.wait_for_status(request["id"])["status"] == "failed"
    with pytest.raises(LeaseLost):
        second.heartbeat()


def test_run_completes_with_the_handlers_result_and_fails_with_its_exception(scene):
    plan = scene.plan(retry={"attempts": 3})
    requests = [scene.request(plan, {"n": n}) for n in (1, 2, 3)]

    class Refused(Exception):
        retryable = False

    def handler(task):
        if task.payload["n"] == 2:
            raise Refused("two is refused")
        return {"double": task.payload["n"] * 2}

    summary = Pool(POOL).login(WORKER).run(handler, tags=[scene.tag], max_tasks=3, wait_seconds=10)
    assert summary == {"completed": 2, "failed": 1, "released": 0, "lost": 0}
    views = [scene.wait_for_status(r["id"]) for r in requests]
    assert [v["status"] for v in views] == ["completed", "failed", "completed"]
    assert views[0]["steps"][0]["output"] == {"double": 2}


def _wait_until_queued(scene, request_ids):
    for _ in range(200):
        tasks = [task for rid in request_ids for task in scene.manager.call("GET", "/v1/tasks", query={"requestId": rid})["items"]]
        if len(tasks) == len(request_ids) and all(task["status"] == "queued" for task in tasks):
            return
        time.sleep(0.1)
    raise AssertionError(f"the tasks of {request_ids} were not all queued")


class CountingClient(Client):
    """The real gateway, with the paths of the calls made."""

    def __init__(self):
        super().__init__()
        self.paths = []

    def call(self, method, path, body=None, query=None, timeout=None):
        self.paths.append(path)
        return super().call(method, path, body, query, timeout)


def test_run_takes_each_next_task_in_the_answer_of_the_complete_before_it(scene):
    plan = scene.plan()
    requests = [scene.request(plan, {"n": n}) for n in (1, 2, 3)]
    _wait_until_queued(scene, [r["id"] for r in requests])
    client = CountingClient()
    seen = []
    summary = Pool(POOL, client=client).login(WORKER).run(lambda task: seen.append(task.payload["n"]), tags=[scene.tag], max_tasks=3, wait_seconds=10)
    assert summary == {"completed": 3, "failed": 0, "released": 0, "lost": 0}
    assert sorted(seen) == [1, 2, 3]
    calls = [path.rsplit("/", 1)[-1] for path in client.paths if not path.endswith("/heartbeat")]
    assert calls == ["lease", "complete", "complete", "complete"]
    assert [scene.wait_for_status(r["id"])["status"] for r in requests] == ["completed"] * 3


def test_run_fails_a_task_whose_handler_returns_no_dict_and_counts_a_task_the_handler_released(scene):
    plan = scene.plan(retry={"attempts": 1})
    requests = [scene.request(plan, {"n": n}) for n in (1, 2)]

    def handler(task):
        if task.payload["n"] == 1:
            return "done"
        task.release()

    worker = Pool(POOL).login(WORKER)
    first = worker.run(handler, tags=[scene.tag], max_tasks=1, wait_seconds=10)
    assert first == {"completed": 0, "failed": 1, "released": 0, "lost": 0}
    assert scene.wait_for_status(requests[0]["id"])["status"] == "failed"
    assert worker.run(handler, tags=[scene.tag], max_tasks=1, wait_seconds=10) == {"completed": 0, "failed": 0, "released": 1, "lost": 0}


def test_run_stops_when_asked():
    stop = threading.Event()
    stop.set()
    assert Pool(POOL).login(WORKER).run(lambda task: None, stop=stop) == {"completed": 0, "failed": 0, "released": 0, "lost": 0}


def test_login_must_be_the_tokens_subject():
    with pytest.raises(ValueError, match="ana.smith@gov"):
        Pool(POOL).login("someone.else@gov")


def test_a_pool_outside_the_token_is_forbidden(scene):
    with pytest.raises(HmsError) as refused:
        Pool("payments").login(WORKER).next_task(timeout=0)
    assert (refused.value.status, refused.value.code, refused.value.retryable) == (403, "FORBIDDEN", False)


def test_an_unreachable_gateway_is_unavailable():
    with pytest.raises(HmsError) as refused:
        Pool(POOL, url="http://127.0.0.1:9").login(WORKER).next_task(timeout=0)
    assert (refused.value.status, refused.value.code, refused.value.retryable) == (0, "UNAVAILABLE", True)
