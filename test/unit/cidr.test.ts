import { describe, expect, it } from 'vitest';
import { containsAddress } from '../../functions/core/cidr.js';

describe('containsAddress', () => {
  it.each([
    ['0.0.0.0/0', '198.51.100.10', true],
    ['198.51.100.10/32', '198.51.100.10', true],
    ['198.51.100.0/24', '198.51.100.255', true],
    ['198.51.100.0/24', '198.51.101.0', false],
    ['10.0.0.0/16', '10.1.0.1', false],
  ])('says whether %s holds %s', (cidr, address, expected) => {
    expect(containsAddress(cidr, address)).toBe(expected);
  });

  it('is false, not an error, for what is not a CIDR block and an address', () => {
    expect(containsAddress('sg-0123456789abcdef0', '10.0.0.1')).toBe(false);
    expect(containsAddress('10.0.0.0/33', '10.0.0.1')).toBe(false);
    expect(containsAddress('10.0.0.0/16', 'not-an-ip')).toBe(false);
  });
});
