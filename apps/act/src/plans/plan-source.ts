import { parseDocument } from 'yaml';
import { DomainError, limits, type ErrorDetail } from '@hms/contracts';
import { contentHash } from '../common/canonical-json';
import { canonicalPlan } from './plan-dialects';

/**
 * The deepest run of open flow brackets (`[` `{`) in the text, counted anywhere, quotes included.
 * The YAML parser recurses per level and takes about a second to give up on a 100,000-deep
 * `[[[…`; this costs one pass. A real plan never has dozens of unclosed brackets in a row, even
 * inside a quoted string, so counting without parsing quotes refuses nothing a person writes.
 */
function flowDepth(source: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < source.length; i++) {
    const char = source.charCodeAt(i);
    if (char === 0x5b || char === 0x7b) deepest = Math.max(deepest, ++depth);
    else if ((char === 0x5d || char === 0x7d) && depth > 0) depth -= 1;
  }
  return deepest;
}

/**
 * Turns YAML source into a plain value. A YAML syntax error is a VALIDATION_FAILED with one detail
 * per error, each with its line and column (`yaml` path), so an author can find it in the file.
 */
export function parsePlanYaml(source: string): unknown {
  const { jsonDepth } = limits();
  if (flowDepth(source) > jsonDepth) {
    throw new DomainError('VALIDATION_FAILED', 'The plan YAML nests too deeply', [{ path: 'yaml', message: `nests deeper than ${jsonDepth} levels` }]);
  }
  // uniqueKeys: a repeated key is almost always a mistake, and silently keeping the last is worse.
  const document = parseDocument(source, { uniqueKeys: true, strict: true });
  if (document.errors.length > 0) {
    const details: ErrorDetail[] = document.errors.map((error) => {
      const where = error.linePos?.[0];
      const message = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      return { path: 'yaml', message: where ? `line ${where.line}, column ${where.col}: ${message}` : message };
    });
    throw new DomainError('VALIDATION_FAILED', 'The plan is not valid YAML', details);
  }
  try {
    // Aliases are capped so a small file cannot expand into a huge value ("billion laughs").
    return document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new DomainError('VALIDATION_FAILED', 'The plan YAML cannot be read', [{ path: 'yaml', message: (error as Error).message }]);
  }
}

/**
 * The canonical plan of a register command: exactly one of `definition` (JSON) or `yaml` (source
 * text), in any accepted dialect; `id` names a plan whose file has none.
 */
export function planSourceOf(command: { definition?: Record<string, unknown>; yaml?: string; id?: string }): unknown {
  const hasDefinition = command.definition !== undefined;
  const hasYaml = command.yaml !== undefined;
  if (hasDefinition === hasYaml) {
    throw new DomainError('VALIDATION_FAILED', 'Give the plan either as `definition` (JSON) or as `yaml`, not both or neither', [
      { path: hasDefinition ? 'yaml' : 'definition', message: hasDefinition ? 'must be absent when definition is given' : 'either definition or yaml is required' },
    ]);
  }
  return canonicalPlan(hasYaml ? parsePlanYaml(command.yaml!) : command.definition, { id: command.id });
}

/**
 * The canonical plan of a plan given inline with a request, named by its content
 * (`inline.<first 16 hex of its hash>`), so the same workflow sent again is the same plan version
 * and a request always refers to a stored, immutable definition. It may not carry an `id`: callers
 * allowed to create requests (services) may not register plans, and an inline plan under an
 * existing id would be a new version of someone else's plan; nor a `schedule`. Problems are
 * reported under `plan.`.
 */
export function inlinePlanOf(plan: Record<string, unknown>): Record<string, unknown> {
  if (plan.id !== undefined) {
    throw new DomainError('VALIDATION_FAILED', 'A plan given inline is named by its content', [
      { path: 'plan.id', message: 'must be absent: register the plan with POST /v1/plans to give it an id, then create the request with that id' },
    ]);
  }
  if (plan.schedule !== undefined) {
    // A schedule would go on creating requests long after this one, from a plan nobody registered.
    throw new DomainError('VALIDATION_FAILED', 'A plan given inline runs once', [
      { path: 'plan.schedule', message: 'must be absent: register the plan with POST /v1/plans to run it on a schedule' },
    ]);
  }
  try {
    const canonical = canonicalPlan(plan) as Record<string, unknown>;
    return { id: `inline.${contentHash(canonical).slice(0, 16)}`, ...canonical };
  } catch (error) {
    throw underPlan(error);
  }
}

/** A VALIDATION_FAILED of an inline plan, with its paths under `plan`. */
export function underPlan(error: unknown): unknown {
  if (!(error instanceof DomainError) || error.code !== 'VALIDATION_FAILED') return error;
  const details = (error.details ?? []).map((detail) => ({ ...detail, path: detail.path ? `plan.${detail.path}` : 'plan' }));
  return new DomainError('VALIDATION_FAILED', error.message, details);
}
