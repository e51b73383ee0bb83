# worker/pull_task.py
from oms import Pool

ana = Pool("hud_case_workers").login("ana.smith@gov")
task = ana.next_task(tags=["income_check"])

print("📝 Got", task.id, task.title)
task.start()       # starts a 2-hour lease

task.complete(result={"eligible": True})
print("✅ Task", task.id, "done!")
