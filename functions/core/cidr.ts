// IPv4 CIDR arithmetic for preflight checks. Pure, no dependencies.

export interface Ipv4Range {
  readonly cidr: string;
  readonly first: number;
  readonly last: number;
}

const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Returns the reason a string is not a canonical IPv4 CIDR, or undefined when it is one. */
export function cidrProblem(value: string): string | undefined {
  const match = IPV4_CIDR.exec(value);
  if (!match) return 'must be an IPv4 CIDR such as 192.168.0.0/16';
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((octet) => octet > 255)) return 'has an octet above 255';
  if (prefix > 32) return 'has a prefix length above 32';
  const address = toNumber(octets);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((address & mask) >>> 0 !== address) {
    return `has host bits set (did you mean ${fromNumber((address & mask) >>> 0)}/${prefix}?)`;
  }
  return undefined;
}

export function parseCidr(value: string): Ipv4Range {
  const problem = cidrProblem(value);
  if (problem) throw new RangeError(`${value} ${problem}`);
  const [address, prefix] = value.split('/') as [string, string];
  const first = toNumber(address.split('.').map(Number));
  const size = 2 ** (32 - Number(prefix));
  return { cidr: value, first, last: first + size - 1 };
}

export function overlaps(a: Ipv4Range, b: Ipv4Range): boolean {
  return a.first <= b.last && b.first <= a.last;
}

/** True when the IPv4 address lies in the CIDR block; false for anything that is not both (a group id, a malformed range). */
export function containsAddress(cidr: string, address: string): boolean {
  if (!cidr.includes('/') || cidrProblem(cidr) || !isIpv4(address)) return false;
  const range = parseCidr(cidr);
  const ip = parseCidr(`${address}/32`);
  return range.first <= ip.first && ip.last <= range.last;
}

export function isIpv4(value: string): boolean {
  const octets = value.split('.');
  return octets.length === 4 && octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255);
}

export function prefixLength(range: Ipv4Range): number {
  return 32 - Math.log2(range.last - range.first + 1);
}

function toNumber(octets: number[]): number {
  return octets.reduce((sum, octet) => sum * 256 + octet, 0);
}

function fromNumber(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}
