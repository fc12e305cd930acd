import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * One version-range policy across the workspace (docs: DEVELOPERS.md "Dependencies"):
 * - a registry dependency is pinned to one exact version (`1.2.3`, or a pre-release such as
 *   `16.14.0-beta.17`) — the lockfile is the record, and a range in one package.json only hides
 *   which version runs;
 * - a dependency used by several packages has the same version in each;
 * - an internal package (`@billing/…`) is `*` (npm workspaces link it);
 * - a vendored tarball is `file:../../vendor/…` (vendor/README.md says why);
 * - a peer dependency (what a host application brings, e.g. @billing/client's `postgres`) states the
 *   range it works with: it is what the host installs, not what we pin.
 */

const root = new URL('../', import.meta.url);
const SECTIONS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;
const EXACT = /^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/;

interface Manifest {
  name: string;
  file: string;
  deps: { section: string; name: string; range: string }[];
}

function manifests(): Manifest[] {
  const files = ['package.json'];
  for (const dir of ['apps', 'packages']) {
    for (const entry of readdirSync(new URL(`${dir}/`, root), { withFileTypes: true })) {
      if (entry.isDirectory()) files.push(`${dir}/${entry.name}/package.json`);
    }
  }
  return files.map((file) => {
    const json = JSON.parse(readFileSync(new URL(file, root), 'utf8')) as Record<string, unknown>;
    const deps = SECTIONS.flatMap((section) =>
      Object.entries((json[section] ?? {}) as Record<string, string>).map(([name, range]) => ({ section, name, range })),
    );
    return { name: json.name as string, file, deps };
  });
}

function problems(list: Manifest[]): string[] {
  const found: string[] = [];
  const versions = new Map<string, Map<string, string[]>>();
  for (const manifest of list) {
    for (const { section, name, range } of manifest.deps) {
      const where = `${manifest.file} ${section} ${name}@${range}`;
      if (section === 'peerDependencies') continue;
      if (name.startsWith('@billing/')) {
        if (range !== '*') found.push(`${where}: internal packages are "*"`);
        continue;
      }
      if (range.startsWith('file:')) {
        if (!range.startsWith('file:../../vendor/') && !range.startsWith('file:vendor/')) found.push(`${where}: file: only from vendor/`);
      } else if (!EXACT.test(range)) {
        found.push(`${where}: pin an exact version`);
      }
      const byRange = versions.get(name) ?? new Map<string, string[]>();
      byRange.set(range, [...(byRange.get(range) ?? []), manifest.file]);
      versions.set(name, byRange);
    }
  }
  for (const [name, byRange] of versions) {
    if (byRange.size > 1) {
      found.push(
        `${name} has ${byRange.size} versions: ${[...byRange].map(([range, files]) => `${range} (${files.join(', ')})`).join('; ')}`,
      );
    }
  }
  return found;
}

describe('version policy', () => {
  it('pins every registry dependency exactly, the same version everywhere', () => {
    expect(problems(manifests())).toEqual([]);
  });

  it('names what breaks it', () => {
    const broken: Manifest[] = [
      { name: 'a', file: 'a/package.json', deps: [{ section: 'dependencies', name: 'zod', range: '^4.6.7' }] },
      { name: 'b', file: 'b/package.json', deps: [{ section: 'dependencies', name: 'zod', range: '4.6.7' }] },
      { name: 'c', file: 'c/package.json', deps: [{ section: 'dependencies', name: '@billing/db', range: '0.0.0' }] },
    ];
    expect(problems(broken)).toEqual([
      'a/package.json dependencies zod@^4.6.7: pin an exact version',
      'c/package.json dependencies @billing/db@0.0.0: internal packages are "*"',
      'zod has 2 versions: ^4.6.7 (a/package.json); 4.6.7 (b/package.json)',
    ]);
  });
});
