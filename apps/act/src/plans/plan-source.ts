import { parseDocument } from 'yaml';
import { DomainError, type ErrorDetail } from '@hms/contracts';

/**
 * Turns YAML source into a plain value. A YAML syntax error is a VALIDATION_FAILED with one detail
 * per error, each with its line and column (`yaml` path), so an author can find it in the file.
 */
export function parsePlanYaml(source: string): unknown {
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

/** The plan of a register command: exactly one of `definition` (JSON) or `yaml` (source text). */
export function planSourceOf(command: { definition?: Record<string, unknown>; yaml?: string }): unknown {
  const hasDefinition = command.definition !== undefined;
  const hasYaml = command.yaml !== undefined;
  if (hasDefinition === hasYaml) {
    throw new DomainError('VALIDATION_FAILED', 'Give the plan either as `definition` (JSON) or as `yaml`, not both or neither', [
      { path: hasDefinition ? 'yaml' : 'definition', message: hasDefinition ? 'must be absent when definition is given' : 'either definition or yaml is required' },
    ]);
  }
  return hasYaml ? parsePlanYaml(command.yaml!) : command.definition;
}
