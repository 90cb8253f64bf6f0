import { describe, expect, it } from 'vitest';
import { type EncryptionKeys, parseEncryptionKeys, providerOrder, rotationMove, withInitialKey } from '../../functions/core/encryption.js';

const key = (name: string, fill = 1) => ({ name, secret: Buffer.alloc(32, fill).toString('base64') });
const names = (keys: EncryptionKeys | undefined) => keys?.keys.map((entry) => entry.name);

describe('rotationMove', () => {
  const start: EncryptionKeys = { keys: [key('key-old')] };
  const mint = () => key('key-r1', 2);

  it('adds the new key second, so no API server writes with it before all can read it', () => {
    expect(names(rotationMove(start, 'add', 'key-r1', mint))).toEqual(['key-old', 'key-r1']);
  });

  it('keeps every key of an interrupted earlier rotation and the current writer first', () => {
    // Prepare: an earlier rotation stopped after promoting key-b; key-a may still encrypt some Secrets.
    const interrupted: EncryptionKeys = { keys: [key('key-b'), key('key-a')] };

    // Act + Assess
    expect(names(rotationMove(interrupted, 'add', 'key-r1', mint))).toEqual(['key-b', 'key-r1', 'key-a']);
  });

  it('moves the new key first and keeps the rest for reading, then keeps only it', () => {
    const added = rotationMove(start, 'add', 'key-r1', mint)!;
    const promoted = rotationMove(added, 'promote', 'key-r1', mint)!;
    expect(names(promoted)).toEqual(['key-r1', 'key-old']);
    expect(names(rotationMove(promoted, 'retire', 'key-r1', mint))).toEqual(['key-r1']);
  });

  it('changes nothing when a move is repeated (resuming a rotation)', () => {
    const added = rotationMove(start, 'add', 'key-r1', mint)!;
    expect(rotationMove(added, 'add', 'key-r1', mint)).toBeUndefined();
    const promoted = rotationMove(added, 'promote', 'key-r1', mint)!;
    expect(rotationMove(promoted, 'promote', 'key-r1', mint)).toBeUndefined();
    const retired = rotationMove(promoted, 'retire', 'key-r1', mint)!;
    expect(rotationMove(retired, 'retire', 'key-r1', mint)).toBeUndefined();
    expect(rotationMove(retired, 'add', 'key-r1', mint)).toBeUndefined();
  });

  it('refuses moves out of order, naming the key', () => {
    expect(() => rotationMove(start, 'promote', 'key-r1', mint)).toThrow(/key-r1 is not among the encryption keys/);
    const added = rotationMove(start, 'add', 'key-r1', mint)!;
    expect(() => rotationMove(added, 'retire', 'key-r1', mint)).toThrow(/key-r1 does not encrypt yet/);
    expect(() => rotationMove({ keys: [] }, 'add', 'key-r1', mint)).toThrow(/no encryption key to rotate from/);
  });
});

describe('the key list', () => {
  it('gets a first key only when it has none', () => {
    expect(names(withInitialKey({ keys: [] }, () => key('key-first')))).toEqual(['key-first']);
    expect(withInitialKey({ keys: [key('key-old')] }, () => key('key-first'))).toBeUndefined();
  });

  it('ends in identity, so data written before encryption stays readable', () => {
    expect(providerOrder({ keys: [key('key-a'), key('key-b')] })).toEqual(['key-a', 'key-b', 'identity']);
  });

  it('rejects a malformed secret naming where, without quoting the value', () => {
    const short = '{"keys":[{"name":"key-a","secret":"c2hvcnQ="}]}';
    expect(() => parseEncryptionKeys(short)).toThrow(/keys\.0\.secret/);
    expect(() => parseEncryptionKeys(short)).not.toThrow(/c2hvcnQ/);
    expect(() => parseEncryptionKeys('not json')).toThrow(/does not hold JSON/);
  });
});
