import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireProblem } from './package-lib';

const libraries = new Map([
  ['@hms/client', { published: true, version: '0.1.0' }],
  ['@hms/contracts', { published: false, version: '0.1.0' }],
]);

describe('requireProblem', () => {
  it('lets a published package require Node built-ins, its dependencies and our published packages at their version', () => {
    const manifest = { dependencies: { '@hms/client': '0.1.0', commander: '^14.0.3' } };
    expect(requireProblem('node:fs', manifest, libraries)).toBeUndefined();
    expect(requireProblem('commander', manifest, libraries)).toBeUndefined();
    expect(requireProblem('@hms/client', manifest, libraries)).toBeUndefined();
  });

  it('refuses a private workspace library, even when listed', () => {
    expect(requireProblem('@hms/contracts', { dependencies: { '@hms/contracts': '0.1.0' } }, libraries)).toBe('requires the private workspace library @hms/contracts');
  });

  it('refuses a package missing from dependencies', () => {
    expect(requireProblem('commander', {}, libraries)).toBe('requires commander, which is not in "dependencies"');
    expect(requireProblem('@hms/client', { dependencies: {} }, libraries)).toBe('requires @hms/client, which is not in "dependencies"');
  });

  it('refuses our published package at a range or another version than the workspace has', () => {
    expect(requireProblem('@hms/client', { dependencies: { '@hms/client': '^0.1.0' } }, libraries)).toBe("requires @hms/client ^0.1.0, not the workspace's version 0.1.0");
    expect(requireProblem('@hms/client', { dependencies: { '@hms/client': '0.0.9' } }, libraries)).toBe("requires @hms/client 0.0.9, not the workspace's version 0.1.0");
  });
});

interface PublishedManifest {
  name: string;
  private?: boolean;
  types?: string;
  exports?: Record<string, unknown>;
  scripts?: Record<string, string>;
}

describe('the published workspace libraries', () => {
  const libs = join(__dirname, '..', '..', 'libs');
  const published = readdirSync(libs)
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(libs, dir, 'package.json'), 'utf8')) as PublishedManifest }))
    .filter(({ manifest }) => manifest.private !== true);

  it('are the SDK and the four seed packages', () => {
    expect(published.map(({ manifest }) => manifest.name).sort()).toEqual(['@hms-act/client', '@hms-oms/client', '@hms-oms/queue', '@hms-ops/client', '@hms/client']);
  });

  it.each(published.map(({ dir, manifest }) => [manifest.name, dir, manifest] as const))('%s maps import and require to the layout of package-lib, with types', (_name, dir, manifest) => {
    const types = `./dist/types/${dir}/src/index.d.ts`;
    expect(manifest.types).toBe(types);
    expect(manifest.exports?.['.']).toEqual({
      import: { types: './dist/esm/index.d.mts', default: './dist/esm/index.mjs' },
      require: { types, default: './dist/cjs/index.js' },
    });
    expect(manifest.scripts?.prepack).toBe('node ../../dist/tools/package-lib/package-lib.js . --declarations');
  });
});
