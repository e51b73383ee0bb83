import { canTraverse } from './embedded-postgres';

describe(canTraverse.name, () => {
  const postgres = { uid: 101, gid: 104 };
  const folders: Record<string, { uid: number; gid: number; mode: number }> = {
    '/': { uid: 0, gid: 0, mode: 0o755 },
    '/root': { uid: 0, gid: 0, mode: 0o700 },
    '/root/clone': { uid: 0, gid: 0, mode: 0o755 },
    '/work': { uid: 0, gid: 0, mode: 0o755 },
    '/work/clone': { uid: 0, gid: 104, mode: 0o750 },
    '/tmp': { uid: 0, gid: 0, mode: 0o1777 },
    '/tmp/tmp.x': { uid: 0, gid: 0, mode: 0o700 },
    '/var': { uid: 0, gid: 0, mode: 0o755 },
    '/var/lib': { uid: 0, gid: 0, mode: 0o755 },
    '/var/lib/hms': { uid: 101, gid: 104, mode: 0o700 },
  };
  const stat = (path: string) => {
    const found = folders[path];
    if (!found) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return found;
  };

  it.each([
    ['/root/clone/.hms', false, 'a clone under /root (0700)'],
    ['/tmp/tmp.x/clone/.hms', false, 'a clone in a mktemp -d folder'],
    ['/work/clone/.hms', true, 'a folder its group may search'],
    ['/var/lib/hms/postgres', true, 'a folder it owns'],
    ['/tmp/new', true, 'a folder still to be made under one it can search'],
  ])('%s → %s (%s)', (path, reachable) => {
    expect(canTraverse(path, postgres, stat)).toBe(reachable);
  });
});
