import type { PlanStep } from '@hms/contracts';

/** What the graph needs of a step. */
export type GraphStep = Pick<PlanStep, 'id' | 'after'>;

/**
 * The dependencies of every step: its `after` list, or the previous step when `after` is absent
 * (so a plain list of steps runs in order), or none for `after: []`. Ids in `after` that name no
 * step are kept: the validator reports them, the graph functions ignore them.
 */
export function dependenciesOf(steps: readonly GraphStep[]): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  steps.forEach((step, index) => {
    if (deps.has(step.id)) return;
    const after = step.after ?? (index === 0 ? [] : [steps[index - 1].id]);
    deps.set(step.id, [...after]);
  });
  return deps;
}

/**
 * Every distinct cycle, each as the step ids in the order they would run (`[a, b]`: b waits for
 * a, and a waits for b), starting from the smallest id. A step depending on itself is a cycle of one.
 */
export function findCycles(deps: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const seen = new Set<string>();
  const cycles: string[][] = [];

  const visit = (id: string): void => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of deps.get(id) ?? []) {
      if (!deps.has(dep)) continue;
      if (state.get(dep) === 'visiting') {
        // The stack runs against the dependencies; reversed, it reads in running order.
        const cycle = stack.slice(stack.indexOf(dep)).reverse();
        // One cycle can be entered from any of its steps; rotate to its smallest id to report it once.
        const start = cycle.indexOf([...cycle].sort()[0]);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        const key = rotated.join('\u0000');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(rotated);
        }
      } else if (!state.has(dep)) {
        visit(dep);
      }
    }
    stack.pop();
    state.set(id, 'done');
  };

  for (const id of deps.keys()) if (!state.has(id)) visit(id);
  return cycles;
}

/** The steps that must be settled before `id` may start, directly or through others. */
export function ancestorsOf(deps: ReadonlyMap<string, readonly string[]>, id: string): Set<string> {
  const found = new Set<string>();
  const pending = [...(deps.get(id) ?? [])];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (found.has(next) || !deps.has(next)) continue;
    found.add(next);
    pending.push(...(deps.get(next) ?? []));
  }
  return found;
}
