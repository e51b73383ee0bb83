import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
const APPS = ['act', 'oms', 'ops', 'api-gateway'];
const LIBS = readdirSync(join(root, 'libs')).filter((name) => statSync(join(root, 'libs', name)).isDirectory());
/** The packages the seed guides import: thin layers over the SDK. */
const SEED_PACKAGES = ['act-client', 'oms-client', 'ops-client', 'oms-queue'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|require\(|import\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
}

/** Where an import lands, as `apps/<name>` or `libs/<name>` (or null for packages). */
function targetOf(file: string, specifier: string): string | null {
  const lib = /^@hms\/([\w-]+)/.exec(specifier);
  if (lib) return `libs/${lib[1]}`;
  if (!specifier.startsWith('.')) return null;
  const target = relative(root, resolve(file, '..', specifier)).split('/');
  return target.length >= 2 && (target[0] === 'apps' || target[0] === 'libs') ? `${target[0]}/${target[1]}` : null;
}

describe('Module boundaries', () => {
  it.each(APPS)('does not let app %s import another app', (app) => {
    const offenders = sourceFiles(join(root, 'apps', app, 'src')).flatMap((file) =>
      importsOf(file)
        .map((specifier) => targetOf(file, specifier))
        .filter((target): target is string => !!target && target.startsWith('apps/') && target !== `apps/${app}`)
        .map((target) => `${relative(root, file)} -> ${target}`),
    );
    expect(offenders).toEqual([]);
  });

  it('keeps libs/contracts free of any of our code, Nest and TypeORM', () => {
    const offenders = sourceFiles(join(root, 'libs', 'contracts', 'src')).flatMap((file) =>
      importsOf(file)
        .filter((specifier) => specifier.startsWith('@hms/') || specifier.startsWith('@nestjs/') || specifier === 'typeorm' || specifier.startsWith('../'))
        .map((specifier) => `${relative(root, file)} -> ${specifier}`),
    );
    expect(offenders).toEqual([]);
  });

  it('keeps libs free of app imports', () => {
    const offenders = LIBS.flatMap((lib) =>
      sourceFiles(join(root, 'libs', lib, 'src')).flatMap((file) =>
        importsOf(file)
          .map((specifier) => targetOf(file, specifier))
          .filter((target): target is string => !!target && target.startsWith('apps/'))
          .map((target) => `${relative(root, file)} -> ${target}`),
      ),
    );
    expect(offenders).toEqual([]);
  });

  it('keeps the seed packages thin layers over @hms/client', () => {
    expect(LIBS).toEqual(expect.arrayContaining(SEED_PACKAGES));
    const offenders = SEED_PACKAGES.flatMap((lib) =>
      sourceFiles(join(root, 'libs', lib, 'src'))
        .filter((file) => !file.endsWith('.spec.ts'))
        .flatMap((file) =>
          importsOf(file)
            .filter((specifier) => !['@hms/client', '@hms/contracts'].includes(specifier) && !specifier.startsWith('./'))
            .map((specifier) => `${relative(root, file)} -> ${specifier}`),
        ),
    );
    expect(offenders).toEqual([]);
  });

  it('declares the app/lib tags Nx uses for each project', () => {
    for (const app of APPS) expect(JSON.parse(readFileSync(join(root, 'apps', app, 'project.json'), 'utf8')).tags).toContain('type:app');
    for (const lib of LIBS) {
      expect(JSON.parse(readFileSync(join(root, 'libs', lib, 'project.json'), 'utf8')).tags).toContain('type:lib');
    }
  });
});
