/** LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) that the decoder understands. */
export const LinkType = {
  /** BSD loopback: 4-byte address family in the capturing host's byte order. */
  Null: 0,
  Ethernet: 1,
  /** DLT_RAW as some platforms numbered it. */
  RawAlt12: 12,
  RawAlt14: 14,
  Raw: 101,
  /** OpenBSD loopback: 4-byte address family, big-endian. */
  Loop: 108,
  LinuxSll: 113,
  Ipv4: 228,
  Ipv6: 229,
  LinuxSll2: 276,
} as const;

const NAMES: Record<number, string> = {
  0: "NULL (BSD loopback)",
  1: "ETHERNET",
  12: "RAW",
  14: "RAW",
  101: "RAW",
  108: "LOOP",
  113: "LINUX_SLL",
  228: "IPV4",
  229: "IPV6",
  276: "LINUX_SLL2",
  // Common ones we do not decode, so that errors name them.
  105: "IEEE802_11",
  127: "IEEE802_11_RADIOTAP",
  195: "IEEE802_15_4",
  201: "BLUETOOTH_HCI_H4_WITH_PHDR",
  220: "USB_LINUX_MMAPPED",
  230: "IEEE802_15_4_NOFCS",
};

export function isSupportedLinkType(linkType: number): boolean {
  return (
    linkType === 0 ||
    linkType === 1 ||
    linkType === 12 ||
    linkType === 14 ||
    linkType === 101 ||
    linkType === 108 ||
    linkType === 113 ||
    linkType === 228 ||
    linkType === 229 ||
    linkType === 276
  );
}

export function linkTypeName(linkType: number): string {
  return NAMES[linkType] ?? "unknown";
}
