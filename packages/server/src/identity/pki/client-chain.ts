import { X509Certificate } from "node:crypto";
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";

/**
 * The certificates a TLS client presented, leaf first. The server asks for a client
 * certificate but does not let OpenSSL reject unknown ones (EST accepts several trust
 * anchors: manufacturer CAs and Vigil's own), so chains are checked here, explicitly.
 */
export function presentedChain(socket: TLSSocket | undefined): X509Certificate[] {
  if (socket === undefined || typeof socket.getPeerCertificate !== "function") return [];
  let node = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  while (node !== undefined && node.raw !== undefined && out.length < 8) {
    const key = node.raw.toString("base64");
    if (seen.has(key)) break;
    seen.add(key);
    out.push(new X509Certificate(node.raw));
    node = node.issuerCertificate;
  }
  return out;
}

export type ChainCheck =
  | { readonly ok: true; readonly anchor: X509Certificate; readonly leaf: X509Certificate }
  | { readonly ok: false; readonly reason: "no_certificate" | "untrusted" | "expired" };

function validAt(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now < Date.parse(cert.validTo);
}

function signedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * Checks that `chain[0]` leads, through the presented intermediates, to one of `anchors`,
 * with every signature verified and every certificate (anchor included) valid at `now`.
 * Intermediates must be CAs.
 */
export function checkChain(chain: readonly X509Certificate[], anchors: readonly X509Certificate[], now: number): ChainCheck {
  const leaf = chain[0];
  if (leaf === undefined) return { ok: false, reason: "no_certificate" };
  let current = leaf;
  let expired = !validAt(leaf, now);
  for (let depth = 0; depth < 4; depth++) {
    const anchor = anchors.find((a) => signedBy(current, a));
    if (anchor !== undefined) {
      if (expired || !validAt(anchor, now)) return { ok: false, reason: "expired" };
      return { ok: true, anchor, leaf };
    }
    const next = chain.find((c) => c !== current && c.ca && signedBy(current, c));
    if (next === undefined) return { ok: false, reason: "untrusted" };
    expired ||= !validAt(next, now);
    current = next;
  }
  return { ok: false, reason: "untrusted" };
}
