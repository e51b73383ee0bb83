import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * Lays out a publishable library of the workspace (one whose package.json is not private) in its
 * own `dist/`, from the workspace build (`npm run build` compiles every library into the root
 * `dist/`):
 *
 * - `dist/cjs/`: the CommonJS build, the library's compiled files without tests and test helpers;
 * - `dist/esm/index.mjs`: an ES module re-exporting the CommonJS build by name. One implementation
 *   for both, so `instanceof HmsApiError` holds whichever way a program loaded the package (Node's
 *   "ESM wrapper" for dual packages);
 * - with `--declarations`, `dist/types/`: type declarations. Types the library takes from private
 *   workspace libraries (`@hms/contracts`) are emitted beside them and imported relatively, since
 *   those libraries are not published; published workspace packages stay imports.
 *
 * `npm run build` runs it without declarations (they take a type-check); `npm pack` runs it with
 * them (the package's `prepack` script). Usage: `node dist/tools/package-lib/package-lib.js <dir>... [--declarations]`
 * (libraries in dependency order: a library's ESM wrapper loads the ones it depends on).
 * The library is a folder of `libs/`; its entry is `src/index.ts`, so its declarations are at
 * `dist/types/<folder>/src/index.d.ts` (its package.json's `types`). A library that imports another
 * published one (a seed package over `@hms/client`) depends on it by its exact version and its
 * declarations import that package's; they are laid out first when they are missing.
 */
const ROOT = resolve(__dirname, '..', '..', '..');
const SKIPPED = /(\.spec|\.int-spec|\.e2e-spec)\.js$|\.map$/;

export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  types?: string;
  dependencies?: Record<string, string>;
}

export interface Library {
  dir: string;
  published: boolean;
  version: string;
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** The workspace libraries by package name, with whether they are published. */
function workspaceLibraries(): Map<string, Library> {
  const libraries = new Map<string, Library>();
  for (const name of readdirSync(join(ROOT, 'libs'))) {
    const dir = join(ROOT, 'libs', name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const manifest = readManifest(dir);
    libraries.set(manifest.name, { dir, published: manifest.private !== true, version: manifest.version });
  }
  return libraries;
}

function copyCompiled(from: string, to: string): void {
  for (const entry of readdirSync(from)) {
    const source = join(from, entry);
    if (statSync(source).isDirectory()) {
      // Test helpers (fake fetch, harnesses) are not part of the package.
      if (entry !== 'testing') copyCompiled(source, join(to, entry));
    } else if (!SKIPPED.test(entry)) {
      mkdirSync(to, { recursive: true });
      cpSync(source, join(to, entry));
    }
  }
}

/** Why the published package cannot `require(name)` once installed, or undefined when it can. */
export function requireProblem(name: string, manifest: Pick<Manifest, 'dependencies'>, libraries: ReadonlyMap<string, Omit<Library, 'dir'>>): string | undefined {
  if (name.startsWith('node:')) return undefined;
  const library = libraries.get(name);
  if (library && !library.published) return `requires the private workspace library ${name}`;
  const wanted = manifest.dependencies?.[name];
  if (!wanted) return `requires ${name}, which is not in "dependencies"`;
  // Both come from this workspace at one version: a range would let npm pair them with another release.
  if (library && wanted !== library.version) return `requires ${name} ${wanted}, not the workspace's version ${library.version}`;
  return undefined;
}

/** Fails when the build needs, at run time, a package the published one cannot install. */
function assertInstallable(cjs: string, manifest: Manifest, libraries: Map<string, Library>): void {
  const problems: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        visit(path);
        continue;
      }
      // Module imports compile to require("x"); a deliberate lazy require('x') is the code's own business.
      for (const [, name] of readFileSync(path, 'utf8').matchAll(/require\("((?:@[^/"]+\/)?[^/".][^/"]*)/g)) {
        const problem = requireProblem(name, manifest, libraries);
        if (problem) problems.push(`${relative(cjs, path)} ${problem}`);
      }
    }
  };
  visit(cjs);
  if (problems.length) throw new Error(`${manifest.name} cannot be published as built:\n- ${problems.join('\n- ')}`);
}

function writeEsmWrapper(packageDir: string, manifest: Manifest): void {
  const entry = join(packageDir, 'dist', 'cjs', 'index.js');
  const names = Object.keys(require(entry) as object)
    .filter((name) => name !== '__esModule' && name !== 'default')
    .sort();
  const esm = join(packageDir, 'dist', 'esm');
  mkdirSync(esm, { recursive: true });
  writeFileSync(
    join(esm, 'index.mjs'),
    `// ${manifest.name} as an ES module: the names of the CommonJS build, re-exported (one implementation for both).\n` +
      `import library from '../cjs/index.js';\n\nexport const { ${names.join(', ')} } = library;\n`,
  );
}

function emitDeclarations(packageDir: string, libraries: Map<string, Library>): void {
  const typesDir = join(packageDir, 'dist', 'types');
  const base = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.base.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const sourceDir = join(packageDir, 'src');
  // Published workspace packages are imported, not inlined: their own declarations come with them.
  const isOtherPublished = (name: string): boolean => {
    const library = libraries.get(name);
    return library !== undefined && library.published && resolve(library.dir) !== resolve(packageDir);
  };
  const paths = Object.fromEntries(Object.entries(base.options.paths ?? {}).filter(([name]) => !isOtherPublished(name)));
  const options: ts.CompilerOptions = {
    ...base.options,
    paths,
    declaration: true,
    emitDeclarationOnly: true,
    sourceMap: false,
    declarationMap: false,
    noEmit: false,
    outDir: typesDir,
    rootDir: join(ROOT, 'libs'),
    types: ['node'],
  };
  const program = ts.createProgram([join(sourceDir, 'index.ts')], options);
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length) throw new Error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' }));
  // Imports of inlined libraries become relative paths to their emitted declarations.
  const rewrite = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        rewrite(path);
        continue;
      }
      const text = readFileSync(path, 'utf8')
        // A side-effect import (contracts load reflect-metadata for their decorators) declares no type.
        .replace(/^import '[^.][^']*';\n/gm, '')
        .replace(/(from |import\()'(@[^/']+\/[^/']+)'/g, (whole, prefix: string, name: string) => {
          const library = libraries.get(name);
          if (!library || library.published) return whole;
          const target = join(typesDir, relative(join(ROOT, 'libs'), library.dir), 'src', 'index');
          const specifier = relative(dirname(path), target);
          return `${prefix}'${specifier.startsWith('.') ? specifier : `./${specifier}`}'`;
        });
      writeFileSync(path, text);
    }
  };
  rewrite(typesDir);
  const entryTypes = join(typesDir, relative(join(ROOT, 'libs'), packageDir), 'src', 'index');
  writeFileSync(join(packageDir, 'dist', 'esm', 'index.d.mts'), `export * from '${relative(join(packageDir, 'dist', 'esm'), entryTypes)}.js';\n`);
}

function layOut(packageDir: string, declarations: boolean, libraries: Map<string, Library>): void {
  const manifest = readManifest(packageDir);
  if (manifest.private) throw new Error(`${manifest.name} is private`);
  const compiled = join(ROOT, 'dist', relative(ROOT, packageDir), 'src');
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run \`npm run build\` first`);
  if (declarations) {
    // The declarations import those of the published libraries this one depends on.
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      const library = libraries.get(name);
      if (library?.published && !existsSync(join(library.dir, readManifest(library.dir).types ?? 'index.d.ts'))) layOut(library.dir, true, libraries);
    }
  }
  rmSync(join(packageDir, 'dist'), { recursive: true, force: true });
  copyCompiled(compiled, join(packageDir, 'dist', 'cjs'));
  assertInstallable(join(packageDir, 'dist', 'cjs'), manifest, libraries);
  writeEsmWrapper(packageDir, manifest);
  if (declarations) emitDeclarations(packageDir, libraries);
}

function main(argv: string[]): void {
  const dirs = argv.filter((argument) => !argument.startsWith('--'));
  if (!dirs.length) throw new Error('usage: package-lib <library dir>... [--declarations]');
  const libraries = workspaceLibraries();
  for (const dir of dirs) layOut(resolve(dir), argv.includes('--declarations'), libraries);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
