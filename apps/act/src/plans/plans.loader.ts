import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DomainError, systemActor } from '@hms/contracts';
import { LOGGER } from '@hms/platform';
import type { Logger } from 'pino';
import { ActConfig } from '../act.config';
import { canonicalPlan } from './plan-dialects';
import { parsePlanYaml } from './plan-source';
import { PlansService } from './plans.service';

const PLAN_FILE = /\.plan\.(ya?ml|json)$/;

/** The plan files of a folder, in name order. */
export async function planFilesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((name) => PLAN_FILE.test(name)).sort();
}

/** The canonical plan of one plan file (YAML or JSON by its extension, in any accepted dialect). */
export async function readPlanFile(path: string): Promise<unknown> {
  return canonicalPlan(await parsePlanFile(path));
}

async function parsePlanFile(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  if (!path.endsWith('.json')) return parsePlanYaml(text);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DomainError('VALIDATION_FAILED', 'The plan is not valid JSON', [{ path: 'json', message: (error as Error).message }]);
  }
}

/**
 * Registers the plans of `HMS_PLANS_DIR` at start-up. Unchanged files keep their version, so every
 * replica can do this on every start. A file that does not validate stops the start with its
 * problems listed: a deployment with a broken plan should not come up half-configured.
 */
@Injectable()
export class PlansLoader implements OnModuleInit {
  constructor(
    private readonly config: ActConfig,
    private readonly plans: PlansService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    const dir = this.config.HMS_PLANS_DIR;
    if (!dir) return;
    const failures: string[] = [];
    for (const name of await planFilesIn(dir)) {
      try {
        const result = await this.plans.register(await readPlanFile(join(dir, name)), systemActor('act').id);
        this.logger.info({ file: name, plan: result.id, version: result.version, created: result.created }, 'plan loaded');
      } catch (error) {
        const details = error instanceof DomainError ? (error.details ?? []).map((d) => `${d.path ? `${d.path}: ` : ''}${d.message}`) : [];
        failures.push([`${name}: ${(error as Error).message}`, ...details.map((d) => `    ${d}`)].join('\n'));
      }
    }
    if (failures.length > 0) throw new Error(`Plans in HMS_PLANS_DIR (${dir}) are not valid:\n  ${failures.join('\n  ')}`);
  }
}
