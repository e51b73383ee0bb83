"""The HMS worker SDK: take tasks from a pool, hold, start, complete or fail them.

    from oms import Pool
    ana = Pool("hud_case_workers").login("ana.smith@gov")
    task = ana.next_task(tags=["income_check"])
    task.start()
    task.complete(result={"eligible": True})

Configured by HMS_URL and HMS_TOKEN (or Pool(name, url=..., token=...)). Standard library only.
"""

from .client import Client, HmsError, LeaseLost, token_subject
from .worker import Pool, Task, Worker

__all__ = ["Client", "HmsError", "LeaseLost", "Pool", "Task", "Worker", "token_subject"]
__version__ = "0.1.0"
