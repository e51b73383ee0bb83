import { getMetadataStorage, IsInt, IsString, MetadataStorage, validateSync } from 'class-validator';
import { memoizeValidationMetadata } from './validation-metadata';
import { validateMessage } from './rpc';
import { LeaseTasksCommand } from '@hms/contracts';

describe(memoizeValidationMetadata.name, () => {
  // `validateMessage` comes from ./rpc, whose import installs the memo on the global storage.
  it('looks a class up once for the same options, and again for other options', () => {
    const storage = new MetadataStorage();
    class Named {
      name!: string;
    }
    const lookups: unknown[] = [];
    const lookup = storage.getTargetValidationMetadatas.bind(storage);
    storage.getTargetValidationMetadatas = (...args) => (lookups.push(args[0]), lookup(...args));
    memoizeValidationMetadata(storage);
    const first = storage.getTargetValidationMetadatas(Named, '', false, false);
    expect(storage.getTargetValidationMetadatas(Named, '', false, false)).toBe(first);
    expect(storage.groupByPropertyName(first)).toBe(storage.groupByPropertyName(first));
    storage.getTargetValidationMetadatas(Named, '', true, false);
    storage.getTargetValidationMetadatas(Named, '', false, false, ['admin']);
    expect(lookups).toHaveLength(3);
  });

  it('sees constraints declared after validations began (a subclass declared later keeps its parent\'s)', () => {
    memoizeValidationMetadata();
    class Parent {
      @IsString()
      name!: unknown;
    }
    const parent = Object.assign(new Parent(), { name: 1 });
    expect(validateSync(parent).map((error) => error.property)).toEqual(['name']);
    class Child extends Parent {
      @IsInt()
      age!: unknown;
    }
    const child = Object.assign(new Child(), { name: 1, age: 'old' });
    expect(validateSync(child).map((error) => error.property).sort()).toEqual(['age', 'name']);
    expect(validateSync(Object.assign(new Child(), { name: 'ana', age: 3 }))).toEqual([]);
  });

  it('is installed for every message the RPC layer validates, which still refuses what it refused', () => {
    // Without the memo each lookup filters into a new list.
    const storage = getMetadataStorage();
    expect(storage.getTargetValidationMetadatas(LeaseTasksCommand, '', false, false)).toBe(storage.getTargetValidationMetadatas(LeaseTasksCommand, '', false, false));
    expect(() => validateMessage(LeaseTasksCommand, { pool: 'payments', worker: 'bot-1', max: 0 })).toThrow('The request is not valid');
    expect(validateMessage(LeaseTasksCommand, { pool: 'payments', worker: 'bot-1', max: 2 })).toBeInstanceOf(LeaseTasksCommand);
  });
});
