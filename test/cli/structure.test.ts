// How cli/ is put together: no module imports itself back through others, and the backend
// interface sits above both backends.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support.js';

/** Every module under cli/ with the cli/ modules it imports, statically or with import(). */
function cliImports(): Map<string, string[]> {
  const files = readdirSync(join(ROOT, 'cli'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  return new Map(
    files.map((file) => {
      const source = readFileSync(join(ROOT, 'cli', file), 'utf8');
      const targets = [...source.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)\.js'/g)]
        .map((match) => normalize(relative(join(ROOT, 'cli'), join(ROOT, 'cli', dirname(file), `${match[1]}.ts`))))
        .filter((target) => !target.startsWith('..'));
      return [file, targets];
    }),
  );
}

describe('the modules of cli/', () => {
  it('import no module that imports them back', () => {
    // Prepare
    const imports = cliImports();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      for (const target of imports.get(file) ?? []) {
        if (path.includes(target)) cycles.push([...path.slice(path.indexOf(target)), target].join(' -> '));
        else visit(target, [...path, target]);
      }
    };

    // Act
    for (const file of imports.keys()) visit(file, [file]);

    // Assess
    expect(cycles).toEqual([]);
  });

  it('keep the backend interface above both backends: it imports neither, neither imports the other', () => {
    const imports = cliImports();
    expect(imports.get('backend.ts')?.filter((target) => /backend/.test(target))).toEqual([]);
    expect(imports.get('aws-backend.ts')).not.toContain('simulated-backend.ts');
    expect(imports.get('simulated-backend.ts')).not.toContain('aws-backend.ts');
    expect(imports.get('open-backend.ts')).toEqual(expect.arrayContaining(['aws-backend.ts', 'simulated-backend.ts']));
  });
});
