import { ManagementLayer } from './management-layer.js';
import { readFile } from 'node:fs/promises';
// Node's fetch takes no relative file path: the chapter's fetch('repairWorkflow.json') reads the file here.
const fetch = async (file) => ({ json: async () => JSON.parse(await readFile(new URL(file, import.meta.url), 'utf8')) });
async function startRepair(reportId) {
  const workflow = await fetch('repairWorkflow.json').then(r=>r.json());
  const result = await ManagementLayer.start(workflow, { reportId });
  console.log('Workflow Result:', result);
}
startRepair('pothole-123');
