import { describe, expect, it } from "vitest";
import {
  type AddressRange,
  formatIp,
  inRanges,
  parseAddressRange,
  parseIp,
  rateLimitKey,
  resolveClientAddress,
} from "./client-address";

const ranges = (...entries: string[]): AddressRange[] =>
  entries.map((e) => {
    const range = parseAddressRange(e);
    if (!range) throw new Error(`bad range ${e}`);
    return range;
  });

const canonical = (text: string) => {
  const bytes = parseIp(text);
  return bytes && formatIp(bytes);
};

describe("parseIp / formatIp", () => {
  it("reads IPv4, IPv6 in every spelling, and IPv4-mapped IPv6 as IPv4", () => {
    expect(canonical("192.0.2.1")).toBe("192.0.2.1");
    expect(canonical("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(canonical("::FFFF:7f00:1")).toBe("127.0.0.1");
    expect(canonical("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
    expect(canonical("2001:db8::0:1")).toBe("2001:db8::1");
    expect(canonical("::1")).toBe("::1");
    expect(canonical("::")).toBe("::");
    expect(canonical("fe80::1%eth0")).toBe("fe80::1");
    // RFC 5952: the longest zero run is shortened, the first of equals; a single zero group is not.
    expect(canonical("2001:0:0:1:0:0:0:1")).toBe("2001:0:0:1::1");
    expect(canonical("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
    expect(canonical("1:0:0:2:0:0:3:4")).toBe("1::2:0:0:3:4");
  });

  it("refuses what is not an address", () => {
    for (const text of [
      "",
      "unknown",
      "_hidden",
      "256.0.0.1",
      "1.2.3",
      "01.2.3.4",
      "1.2.3.4.5",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      ":1:2:3:4:5:6:7",
      "g::1",
      "::ffff:1.2.3.256",
    ]) {
      expect(parseIp(text), text).toBeUndefined();
    }
  });
});

describe("parseAddressRange / inRanges", () => {
  it("matches single addresses and CIDRs, IPv4 against its IPv4-mapped spelling too", () => {
    const trusted = ranges("10.0.0.0/8", "192.0.2.7", "fd00::/8", "::1", "172.16.0.0/12");
    const hit = (a: string) => inRanges(parseIp(a)!, trusted);
    expect(hit("10.255.1.2")).toBe(true);
    expect(hit("::ffff:10.1.2.3")).toBe(true);
    expect(hit("11.0.0.1")).toBe(false);
    expect(hit("192.0.2.7")).toBe(true);
    expect(hit("192.0.2.8")).toBe(false);
    expect(hit("172.31.255.255")).toBe(true);
    expect(hit("172.32.0.0")).toBe(false);
    expect(hit("fd12:3456::1")).toBe(true);
    expect(hit("fe00::1")).toBe(false);
    expect(hit("::1")).toBe(true);
    expect(hit("::2")).toBe(false);
    // An IPv4-mapped entry is the IPv4 address.
    expect(inRanges(parseIp("127.0.0.1")!, ranges("::ffff:127.0.0.1"))).toBe(true);
    expect(inRanges(parseIp("127.0.0.1")!, ranges("::ffff:0:0/96"))).toBe(true);
    expect(inRanges(parseIp("2001:db8::1")!, ranges("0.0.0.0/0"))).toBe(false);
    expect(inRanges(parseIp("2001:db8::1")!, ranges("::/0"))).toBe(true);
    // Prefixes that do not fall on a byte boundary.
    expect(inRanges(parseIp("192.0.2.129")!, ranges("192.0.2.128/25"))).toBe(true);
    expect(inRanges(parseIp("192.0.2.127")!, ranges("192.0.2.128/25"))).toBe(false);
  });

  it("refuses entries that are no IP or CIDR", () => {
    for (const entry of ["", "10.0.0.0/33", "::/129", "10.0.0.0/", "localhost", "10.0.0.0/8/8", "10.0.0.0/-1"]) {
      expect(parseAddressRange(entry), entry).toBeUndefined();
    }
  });
});

describe("resolveClientAddress", () => {
  const resolve = (peer: string | undefined, headers: Record<string, string>, trusted: string[], forwarded = false) =>
    resolveClientAddress({
      peer,
      headers: new Headers(headers),
      trustedProxies: ranges(...trusted),
      header: forwarded ? "forwarded" : "x-forwarded-for",
    });

  it("ignores forwarding headers from a peer that is not a trusted proxy", () => {
    expect(resolve("203.0.113.9", { "x-forwarded-for": "198.51.100.1" }, [])).toBe("203.0.113.9");
    expect(resolve("203.0.113.9", { "x-forwarded-for": "198.51.100.1" }, ["127.0.0.1"])).toBe("203.0.113.9");
    expect(resolve("::ffff:203.0.113.9", {}, [])).toBe("203.0.113.9");
    expect(resolve(undefined, { "x-forwarded-for": "198.51.100.1" }, ["127.0.0.1"])).toBeUndefined();
  });

  it("walks X-Forwarded-For from the right past trusted hops: the first untrusted one is the client", () => {
    const trusted = ["127.0.0.1", "10.0.0.0/8"];
    expect(resolve("::ffff:127.0.0.1", { "x-forwarded-for": "198.51.100.1" }, trusted)).toBe("198.51.100.1");
    // A client-supplied entry on the left is not believed: the proxy appended the real one.
    expect(resolve("127.0.0.1", { "x-forwarded-for": "1.1.1.1, 198.51.100.1, 10.0.0.2" }, trusted)).toBe(
      "198.51.100.1",
    );
    // Several header lines are one list.
    const split = new Headers([
      ["x-forwarded-for", "1.1.1.1"],
      ["x-forwarded-for", "198.51.100.1, 10.0.0.2"],
    ]);
    expect(
      resolveClientAddress({
        peer: "127.0.0.1",
        headers: split,
        trustedProxies: ranges(...trusted),
        header: "x-forwarded-for",
      }),
    ).toBe("198.51.100.1");
    // Ports and brackets some proxies add; IPv6 in canonical form.
    expect(resolve("127.0.0.1", { "x-forwarded-for": "198.51.100.1:5123" }, trusted)).toBe("198.51.100.1");
    expect(resolve("127.0.0.1", { "x-forwarded-for": "[2001:DB8::7]:443" }, trusted)).toBe("2001:db8::7");
    expect(resolve("127.0.0.1", { "x-forwarded-for": "2001:db8:0::7" }, trusted)).toBe("2001:db8::7");
  });

  it("stops at the trusted proxy that wrote a hop which is no address; every hop trusted: the leftmost", () => {
    const trusted = ["127.0.0.1", "10.0.0.0/8"];
    expect(resolve("127.0.0.1", { "x-forwarded-for": "198.51.100.1, garbage, 10.0.0.2" }, trusted)).toBe("10.0.0.2");
    expect(resolve("127.0.0.1", { "x-forwarded-for": "unknown" }, trusted)).toBe("127.0.0.1");
    expect(resolve("127.0.0.1", { "x-forwarded-for": "10.0.0.3, 10.0.0.2" }, trusted)).toBe("10.0.0.3");
    expect(resolve("127.0.0.1", {}, trusted)).toBe("127.0.0.1");
  });

  it("reads Forwarded (RFC 7239) when configured, and then X-Forwarded-For is not believed", () => {
    const trusted = ["127.0.0.1"];
    const headers = {
      forwarded: 'for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https;by=127.0.0.1',
      "x-forwarded-for": "9.9.9.9",
    };
    expect(resolve("127.0.0.1", headers, trusted, true)).toBe("2001:db8:cafe::17");
    expect(resolve("127.0.0.1", { forwarded: "proto=https;For=192.0.2.60" }, trusted, true)).toBe("192.0.2.60");
    expect(resolve("127.0.0.1", { forwarded: "for=_hidden" }, trusted, true)).toBe("127.0.0.1");
    expect(resolve("127.0.0.1", { forwarded: "by=10.0.0.1" }, trusted, true)).toBe("127.0.0.1");
    expect(resolve("127.0.0.1", { "x-forwarded-for": "9.9.9.9" }, trusted, true)).toBe("127.0.0.1");
    // And the other way round: a client's Forwarded header through an X-Forwarded-For proxy.
    expect(resolve("127.0.0.1", { forwarded: "for=9.9.9.9", "x-forwarded-for": "198.51.100.1" }, trusted)).toBe(
      "198.51.100.1",
    );
  });
});

describe("rateLimitKey", () => {
  it("counts IPv4 by address and IPv6 by its /64", () => {
    expect(rateLimitKey("198.51.100.1")).toBe("198.51.100.1");
    expect(rateLimitKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(rateLimitKey("2001:db8:1:2:bbbb::9")).toBe(rateLimitKey("2001:db8:1:2:aaaa::1"));
    expect(rateLimitKey("2001:db8:1:3::1")).not.toBe(rateLimitKey("2001:db8:1:2::1"));
  });
});
