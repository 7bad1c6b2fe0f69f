/**
 * The client's address behind reverse proxies: pure functions, no runtime dependency (Web and Node
 * hosts alike). A forwarding header is believed only when the connection comes from a trusted
 * proxy, and only as far as the chain of trusted proxies reaches: walking the list from the right,
 * each trusted hop vouches for the entry to its left, and the first untrusted entry is the client
 * (what nginx's realip module does with `real_ip_recursive on`).
 */

/** An address range of trusted proxies: a single IP is a range of one (`/32`, `/128`). */
export interface AddressRange {
  /** 16 bytes: IPv4 is held as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so both spellings match. */
  bytes: Uint8Array;
  /** Prefix length over the 128 bits. */
  bits: number;
}

/** Which header the trusted proxies write. Only one is read: a client may send the other unchecked. */
export type ForwardedHeader = "x-forwarded-for" | "forwarded";

/** Parses an IPv4 or IPv6 address (a zone `%eth0` is ignored) into 16 bytes; undefined when it is none. */
export function parseIp(text: string): Uint8Array | undefined {
  const address = text.replace(/%[0-9A-Za-z._~-]+$/, "");
  if (!address.includes(":")) {
    const v4 = parseIpv4(address);
    return v4 && Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  }
  return parseIpv6(address);
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : 256));
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string | undefined): number[] | undefined => {
    if (!half) return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes(".")) {
        const v4 = parseIpv4(part);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) out.push(Number.parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<number>(missing).fill(0), ...tail];
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

const isMappedV4 = (b: Uint8Array) => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

/** One spelling per address: dotted IPv4 (also for `::ffff:a.b.c.d`), RFC 5952 IPv6. */
export function formatIp(bytes: Uint8Array): string {
  if (isMappedV4(bytes)) return Array.from(bytes.subarray(12)).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  // The longest run of two or more zero groups (the first of equals) becomes "::".
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.length).join(":")}`;
}

/**
 * Parses a trusted-proxy entry: an IP or a CIDR, IPv4 or IPv6 (`10.0.0.0/8`, `::1`, `fd00::/8`,
 * `::ffff:127.0.0.1`). An IPv4 prefix counts over the IPv4 bits. Undefined when the entry is neither.
 */
export function parseAddressRange(entry: string): AddressRange | undefined {
  const match = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry.trim());
  if (!match) return undefined;
  const bytes = parseIp(match[1]!);
  if (!bytes) return undefined;
  const v4 = !match[1]!.includes(":");
  const max = v4 ? 32 : 128;
  const prefix = match[2] === undefined ? max : Number(match[2]);
  if (prefix > max) return undefined;
  return { bytes, bits: v4 ? prefix + 96 : prefix };
}

/** Whether `bytes` (from {@link parseIp}) lies in one of the ranges. */
export function inRanges(bytes: Uint8Array, ranges: readonly AddressRange[]): boolean {
  return ranges.some((range) => {
    for (let bit = 0; bit < range.bits; bit += 8) {
      const take = Math.min(8, range.bits - bit);
      const mask = (0xff << (8 - take)) & 0xff;
      if ((bytes[bit / 8]! & mask) !== (range.bytes[bit / 8]! & mask)) return false;
    }
    return true;
  });
}

/** An address as a proxy writes it in a forwarding header: brackets, a port, quotes removed. */
function hopAddress(token: string): Uint8Array | undefined {
  let text = token.trim().replace(/^"(.*)"$/, "$1");
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1]!;
  else if (/^[^:]+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(":")); // IPv4 with a port
  return parseIp(text);
}

/** The `for=` values of a `Forwarded` header (RFC 7239), left to right; an element without one is "". */
function forwardedFor(header: string): string[] {
  return header.split(",").map((element) => {
    for (const pair of element.split(";")) {
      const [name, ...value] = pair.split("=");
      if (name?.trim().toLowerCase() === "for") return value.join("=");
    }
    return "";
  });
}

/**
 * The client's address for a request that arrived from `peer` (the socket's address, as the host
 * reports it). When `peer` is a trusted proxy, the forwarding header is walked from the right,
 * skipping trusted hops; the first untrusted hop is the client. A hop that is no IP (`unknown`, an
 * obfuscated `_name`, garbage) stops the walk at the trusted proxy that wrote it. When every hop is
 * trusted, the leftmost is the client. Undefined only when the host gave no peer address.
 */
export function resolveClientAddress(input: {
  peer: string | undefined;
  headers: Headers;
  trustedProxies: readonly AddressRange[];
  header: ForwardedHeader;
}): string | undefined {
  const peer = input.peer === undefined ? undefined : parseIp(input.peer);
  if (!peer) return input.peer;
  let current = peer;
  if (input.trustedProxies.length === 0 || !inRanges(current, input.trustedProxies)) return formatIp(current);
  const value = input.headers.get(input.header);
  const hops = value === null ? [] : input.header === "forwarded" ? forwardedFor(value) : value.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hopAddress(hops[i]!);
    if (!hop) break;
    current = hop;
    if (!inRanges(current, input.trustedProxies)) break;
  }
  return formatIp(current);
}

/**
 * The address as a rate limit counts it: an IPv6 client is counted by its /64 (one subscriber's
 * network: a host there can change its low 64 bits at will), an IPv4 client by its address.
 */
export function rateLimitKey(address: string): string {
  const bytes = parseIp(address);
  if (!bytes || isMappedV4(bytes)) return address;
  return `${formatIp(Uint8Array.from([...bytes.subarray(0, 8), ...new Uint8Array(8)]))}/64`;
}
