// management-layer.js — the chapter's own module (its "./management-layer.js"), over the HMS SDK:
// start() runs a workflow given inline (no registration) and follows it to its end.
import { clientFromEnvironment } from '@hms/client';

const TERMINAL = ['completed', 'rejected', 'failed', 'cancelled'];
const POLL_MS = 500;

export const ManagementLayer = {
  async start(workflow, payload) {
    const { client } = clientFromEnvironment();
    const created = await client.requests.create({ plan: workflow, payload });
    const said = new Set();
    const say = (key, line) => { if (!said.has(key)) { said.add(key); console.log(line); } };
    for (;;) {
      const request = await client.requests.get(created.id);
      request.steps.forEach((step, index) => {
        if (step.status === 'ready') say(`${step.stepId}:ready`, `[Orchestrator] Waiting ${step.stepId}...`);
        if (step.status === 'done') say(`${step.stepId}:done`, `[Orchestrator] Step ${index + 1} passed: ${step.stepId}`);
      });
      for (const escalation of request.escalations) say(`${escalation.at}:${escalation.reason}`, `[Escalator] ALERT: ${escalation.reason} at ${escalation.at}`);
      if (TERMINAL.includes(request.status)) {
        return { status: request.escalations.length > 0 ? 'escalated' : request.status, details: { id: request.id, plan: request.plan, outcome: request.status, steps: request.steps.map((s) => s.stepId) } };
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  },
};
