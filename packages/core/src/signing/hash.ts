import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils";

/**
 * SHA-256 of the UTF-8 bytes of `text`, as lowercase hex. Synchronous and plain JavaScript
 * (@noble/hashes: audited, no dependencies, every runtime): the bridge hashes every message text
 * and every token it is shown, and for inputs this short WebCrypto's `crypto.subtle.digest` costs
 * far more in its async round trip than the hashing itself. Not for secrets that need a slow hash.
 */
export function sha256HexSync(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}
