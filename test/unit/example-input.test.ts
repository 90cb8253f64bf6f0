import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBootstrapInput } from '../../functions/core/config.js';
import { TODAY } from '../support/inputs.js';

describe('examples/bootstrap-input.json', () => {
  it('is a valid console input that uses every documented field', () => {
    const example = JSON.parse(readFileSync(new URL('../../examples/bootstrap-input.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(() => parseBootstrapInput(example, TODAY)).not.toThrow();
    for (const field of Object.keys(example)) expect(readme, `README does not document ${field}`).toContain(`\`${field}\``);
  });
});
