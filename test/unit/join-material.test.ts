import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CERTIFICATE_KEY_FORMAT, TOKEN_FORMAT, mintJoinMaterial } from '../../functions/core/join-material.js';

describe('mintJoinMaterial', () => {
  it('mints a kubeadm-shaped bootstrap token and a 32-byte hex certificate key for a control-plane join', () => {
    const material = mintJoinMaterial('control-plane', randomBytes);
    expect(material.token).toMatch(TOKEN_FORMAT);
    expect(material.certificateKey).toMatch(CERTIFICATE_KEY_FORMAT);
  });

  it('mints a token and no certificate key at all for a worker join', () => {
    const material = mintJoinMaterial('worker', randomBytes);
    expect(material.token).toMatch(TOKEN_FORMAT);
    expect(Object.keys(material)).toEqual(['token']);
    expect(JSON.stringify(material)).not.toMatch(/certificateKey|[a-f0-9]{64}/);
  });

  it('never mints the same material twice in a thousand draws', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => mintJoinMaterial('worker', randomBytes).token));
    expect(tokens.size).toBe(1000);
  });

  it('drops random bytes that would bias the alphabet instead of folding them in', () => {
    // Prepare: bytes 252..255 would map onto a..d a second time; the minter must skip them.
    const biased = [252, 253, 254, 255, 0, 1, 2, 3, 4, 5];
    let offset = 0;
    const random = (count: number) => {
      const bytes = Buffer.alloc(count);
      for (let index = 0; index < count; index += 1) bytes[index] = biased[(offset + index) % biased.length]!;
      offset += count;
      return bytes;
    };

    // Act
    const { token } = mintJoinMaterial('worker', random);

    // Assess
    expect(token.slice(0, 6)).toBe('abcdef');
  });
});
