"""The real stack, as `npm test` starts it (test/e2e/python-sdk.e2e-spec.ts): its gateway at
HMS_URL, a worker token in HMS_TOKEN (subject `ana.smith@gov`, pools `hud_case_workers` and
`py_sdk`) and a manager token in HMS_MANAGER_TOKEN to set the scene with."""

import os
import time
import uuid

import pytest

from oms import Client, token_subject

WORKER = "ana.smith@gov"
POOL = "py_sdk"


def _required(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run these tests through `npm test` (test/e2e/python-sdk.e2e-spec.ts), which starts the stack")
    return value


@pytest.fixture(scope="session")
def manager():
    _required("HMS_URL")
    if token_subject(_required("HMS_TOKEN")) != WORKER:
        raise RuntimeError(f"HMS_TOKEN must be a worker token of {WORKER}")
    return Client(token=_required("HMS_MANAGER_TOKEN"))


class Scene:
    """Plans and requests made with the manager token, each plan's tasks tagged for one test only."""

    def __init__(self, manager):
        self.manager = manager
        self.tag = f"t{uuid.uuid4().hex[:12]}"

    def plan(self, **step):
        plan_id = f"py_{self.tag}"
        self.manager.call("POST", "/v1/plans", {"id": plan_id, "steps": [{"id": "work", "pool": POOL, "tags": [self.tag], **step}]})
        return plan_id

    def request(self, plan, payload=None):
        return self.manager.call("POST", "/v1/requests", {"plan": plan, "payload": payload or {}})

    def request_view(self, request_id):
        return self.manager.call("GET", f"/v1/requests/{request_id}")

    def wait_for_status(self, request_id, statuses=("completed", "failed", "rejected", "cancelled")):
        """The request once it reaches one of `statuses` (ACT moves it when OMS's event arrives)."""
        for _ in range(200):
            view = self.request_view(request_id)
            if view["status"] in statuses:
                return view
            time.sleep(0.1)
        raise AssertionError(f"request {request_id} stayed {view['status']}")


@pytest.fixture
def scene(manager):
    return Scene(manager)
