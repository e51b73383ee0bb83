import { getMetadataStorage } from 'class-validator';

type Storage = ReturnType<typeof getMetadataStorage>;
type Lookup = Storage['getTargetValidationMetadatas'];
type Metadata = ReturnType<Lookup>;

const MEMOIZED = Symbol.for('hms.class-validator.memoized');

/**
 * Memoizes class-validator's per-class constraint lookup. On every validation of every object
 * (a message and each nested one) class-validator finds a class's constraints by walking every
 * class that has any (an `instanceof` per class: the contracts declare hundreds) and groups them by
 * property: the largest single cost of validating an RPC message (a CPU profile of the transport
 * put it ahead of class-transformer). The constraints are fixed once their classes are declared,
 * so the lookup is kept per class and options; a constraint registered later (a class declared
 * after validations began) clears what was kept. Only the arguments validateSync passes without
 * groups or a schema are kept; any other call goes to class-validator unchanged. Idempotent.
 */
export function memoizeValidationMetadata(storage: Storage = getMetadataStorage()): void {
  const marked = storage as Storage & { [MEMOIZED]?: true };
  if (marked[MEMOIZED]) return;
  marked[MEMOIZED] = true;
  const lookup: Lookup = storage.getTargetValidationMetadatas.bind(storage);
  const group = storage.groupByPropertyName.bind(storage);
  const register = storage.addValidationMetadata.bind(storage);
  // By class, then by the (always, strictGroups) pair: four combinations at most.
  let kept = new Map<unknown, Array<Metadata | undefined>>();
  const grouped = new WeakMap<Metadata, ReturnType<Storage['groupByPropertyName']>>();
  storage.addValidationMetadata = (metadata) => {
    kept = new Map();
    register(metadata);
  };
  storage.getTargetValidationMetadatas = (targetConstructor, targetSchema, always, strictGroups, groups) => {
    if (targetSchema || (groups && groups.length > 0)) return lookup(targetConstructor, targetSchema, always, strictGroups, groups);
    const slot = (always ? 1 : 0) + (strictGroups ? 2 : 0);
    let byOptions = kept.get(targetConstructor);
    if (!byOptions) kept.set(targetConstructor, (byOptions = []));
    return (byOptions[slot] ??= lookup(targetConstructor, targetSchema, always, strictGroups, groups));
  };
  // class-validator groups the list it just looked up; the kept lists are grouped once. The
  // grouping is only read (whitelist and the per-property constraints), never changed.
  storage.groupByPropertyName = (metadata) => {
    let byProperty = grouped.get(metadata);
    if (!byProperty) grouped.set(metadata, (byProperty = group(metadata)));
    return byProperty;
  };
}
