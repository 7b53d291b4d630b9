package io.wgcni.wg.device;

import io.wgcni.wg.io.InetAddresses;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Objects;

/**
 * An IP prefix (CIDR block) such as {@code 10.0.0.0/24} or {@code fd00::/64}, always canonical: the host bits
 * of {@link #address()} are zero, so two prefixes covering the same block are {@code equals}.
 *
 * <p>An IPv4-mapped IPv6 prefix ({@code ::ffff:10.0.0.0/104}) stays IPv6, as in the kernel's allowed IPs: only a
 * 4-byte address is IPv4.
 */
public record Prefix(InetAddress address, int bits) {

    public Prefix {
        Objects.requireNonNull(address, "address");
        byte[] raw = address.getAddress();
        int max = raw.length * 8;
        if (bits < 0 || bits > max) {
            throw new IllegalArgumentException(
                    "prefix length " + bits + " is out of range 0.." + max + " for " + InetAddresses.format(raw));
        }
        maskHostBits(raw, bits);
        address = InetAddresses.canonical(raw);
    }

    /**
     * Parses {@code 10.0.0.0/24}, {@code fd00::/64}, or a bare address meaning a single host ({@code /32} or
     * {@code /128}). Host bits are masked off. Only literals are accepted: this never resolves a name.
     */
    public static Prefix parse(String text) {
        Objects.requireNonNull(text, "text");
        int slash = text.indexOf('/');
        String addressText = slash < 0 ? text : text.substring(0, slash);
        byte[] raw;
        try {
            raw = InetAddresses.parse(addressText).getAddress();
        } catch (IllegalArgumentException e) {
            throw invalid(text, e.getMessage());
        }
        int bits = slash < 0 ? raw.length * 8 : parseBits(text.substring(slash + 1), raw.length * 8, text);
        return new Prefix(InetAddresses.canonical(raw), bits);
    }

    public boolean isV4() {
        return address instanceof Inet4Address;
    }

    /** Whether {@code a} is inside this block; an address of the other family never is. */
    public boolean contains(InetAddress a) {
        byte[] raw = a.getAddress();
        if (raw.length != address.getAddress().length) {
            return false;
        }
        maskHostBits(raw, bits);
        return InetAddresses.canonical(raw).equals(address);
    }

    /** The network address in network byte order: 4 or 16 bytes, a fresh copy. */
    public byte[] addressBytes() {
        return address.getAddress();
    }

    @Override
    public String toString() {
        return InetAddresses.format(address) + "/" + bits;
    }

    // ---- canonical form ----

    private static void maskHostBits(byte[] raw, int bits) {
        for (int i = 0; i < raw.length; i++) {
            int keep = Math.clamp(bits - 8L * i, 0, 8);
            raw[i] &= (byte) (0xff00 >>> keep);
        }
    }

    // ---- parsing ----

    private static int parseBits(String s, int max, String input) {
        if (s.isEmpty() || s.length() > 3 || !s.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
            throw invalid(input, "prefix length must be a number 0.." + max);
        }
        int bits = Integer.parseInt(s);
        if (bits > max) {
            throw invalid(input, "prefix length " + bits + " is above " + max);
        }
        return bits;
    }

    private static IllegalArgumentException invalid(String input, String why) {
        return new IllegalArgumentException("invalid IP prefix \"" + input + "\": " + why);
    }
}
