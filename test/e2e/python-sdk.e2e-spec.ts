import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@hms/testing';
import { startE2eStack } from './support/e2e-stack';
import { runScript } from './support/scripts';

const python = process.env.HMS_PYTHON ?? 'python3';
const sdk = join(repoRoot(), 'clients', 'python');

/**
 * The Python worker SDK (`clients/python`, importable as `oms`) against the real stack: its pytest
 * suite, chapter 000's pull_task.py included, runs with HMS_URL and HMS_TOKEN pointing here.
 */
describe('Python worker SDK', () => {
  let env: Awaited<ReturnType<typeof startE2eStack>>;

  beforeAll(async () => {
    env = await startE2eStack('e2e_python_sdk');
  });

  afterAll(async () => {
    await env?.dispose();
  });

  it('passes its pytest suite against the stack', async () => {
    const { stack } = env;
    const output = await runScript(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
      cwd: sdk,
      env: {
        HMS_URL: stack.gatewayUrl,
        // A worker logs in as the subject of its token.
        HMS_TOKEN: await stack.workerToken(['hud_case_workers', 'py_sdk'], 'ana.smith@gov'),
        HMS_MANAGER_TOKEN: stack.managerToken,
        PYTHONPATH: sdk,
        PYTHONDONTWRITEBYTECODE: '1',
      },
    });
    expect(output.join('\n')).toMatch(/^\d+ passed in /m);
    expect(output.join('\n')).not.toMatch(/failed|error|skipped/i);
  });

  it('installs with pip install --no-build-isolation and imports as oms', async () => {
    const target = await mkdtemp(join(tmpdir(), 'hms-oms-'));
    try {
      await runScript(python, ['-m', 'pip', 'install', '-q', '--no-build-isolation', '--no-deps', '--no-index', '--target', target, sdk], { cwd: tmpdir(), env: {} });
      const output = await runScript(python, ['-c', 'import oms; print(oms.__version__, oms.Pool.__name__, oms.__file__)'], { cwd: tmpdir(), env: { PYTHONPATH: target } });
      expect(output).toEqual([`0.1.0 Pool ${join(target, 'oms', '__init__.py')}`]);
    } finally {
      await rm(target, { recursive: true, force: true });
    }
  });
});
