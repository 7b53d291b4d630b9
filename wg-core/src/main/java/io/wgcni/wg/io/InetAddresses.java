package io.wgcni.wg.io;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * IP address literals as WireGuard configurations write them: parsed strictly (never DNS, no shortened IPv4
 * forms) and printed canonically (dotted IPv4, RFC 5952 IPv6).
 */
public final class InetAddresses {
    private InetAddresses() {}

    /** Parses an IPv4 or IPv6 literal; {@link IllegalArgumentException} names the problem. */
    public static InetAddress parse(String text) {
        return canonical(parseAddress(text, text));
    }

    /** The canonical text of an address: dotted IPv4 or compressed IPv6, without a zone. */
    public static String format(InetAddress address) {
        return format(address.getAddress());
    }

    /**
     * Rebuilds the address from its bytes alone, which drops any host name and scope id, and keeps 16 bytes as
     * IPv6 (InetAddress.getByAddress would turn an IPv4-mapped address into an Inet4Address).
     */
    public static InetAddress canonical(byte[] raw) {
        try {
            return raw.length == 4 ? InetAddress.getByAddress(raw) : Inet6Address.getByAddress(null, raw, -1);
        } catch (UnknownHostException e) {
            throw new AssertionError("a 4- or 16-byte address is always valid", e);
        }
    }

    static byte[] parseAddress(String s, String input) {
        if (s.indexOf(':') >= 0) {
            return parseV6(s, input);
        }
        if (s.isEmpty() || !s.chars().allMatch(ch -> ch == '.' || (ch >= '0' && ch <= '9'))) {
            throw invalid(input, "not an IP address literal");
        }
        return parseV4(s, input);
    }

    /**
     * Strict dotted quad, as inet_pton reads it: exactly four decimal octets without leading zeros. The JDK's
     * parser also takes "10.1" and "10", which are too easy to write by mistake in a configuration.
     */
    private static byte[] parseV4(String s, String input) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            throw invalid(input, "an IPv4 address has four octets");
        }
        byte[] raw = new byte[4];
        for (int i = 0; i < 4; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')) {
                throw invalid(input, "bad IPv4 octet '" + p + "'");
            }
            int v = Integer.parseInt(p);
            if (v > 255) {
                throw invalid(input, "IPv4 octet " + v + " is above 255");
            }
            raw[i] = (byte) v;
        }
        return raw;
    }

    private static byte[] parseV6(String s, String input) {
        // A zone (%eth0) means nothing in a routing table, and brackets belong to endpoints, not prefixes.
        if (s.indexOf('%') >= 0 || s.indexOf('[') >= 0 || s.indexOf(']') >= 0) {
            throw invalid(input, "an IPv6 prefix takes neither a zone nor brackets");
        }
        InetAddress a;
        try {
            a = Inet6Address.ofLiteral(s);
        } catch (IllegalArgumentException e) {
            throw invalid(input, "not an IPv6 address literal");
        }
        return a instanceof Inet4Address ? mapped(a.getAddress()) : a.getAddress();
    }

    /** ofLiteral returns ::ffff:a.b.c.d as an Inet4Address; the text was IPv6, so the prefix stays IPv6. */
    private static byte[] mapped(byte[] v4) {
        byte[] raw = new byte[16];
        raw[10] = (byte) 0xff;
        raw[11] = (byte) 0xff;
        System.arraycopy(v4, 0, raw, 12, 4);
        return raw;
    }

    private static IllegalArgumentException invalid(String input, String why) {
        return new IllegalArgumentException("invalid IP address \"" + input + "\": " + why);
    }

    public static String format(byte[] raw) {
        return raw.length == 4 ? canonical(raw).getHostAddress() : formatV6(raw);
    }

    /**
     * RFC 5952 text: lower-case hex groups without leading zeros, the longest run of two or more zero groups
     * (the first one on a tie) written as "::". The JDK's getHostAddress never compresses.
     */
    private static String formatV6(byte[] raw) {
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = (raw[2 * i] & 0xff) << 8 | (raw[2 * i + 1] & 0xff);
        }
        int[] run = longestZeroRun(groups);
        StringBuilder sb = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == run[0]) {
                sb.append("::");
                i += run[1] - 1;
                continue;
            }
            if (!sb.isEmpty() && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(groups[i]));
        }
        return sb.toString();
    }

    /** {start, length} of the longest run of at least two zero groups, or {-1, 0}. */
    private static int[] longestZeroRun(int[] groups) {
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < groups.length; ) {
            int j = i;
            while (j < groups.length && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = Math.max(j, i + 1);
        }
        return bestStart < 0 ? new int[] {-1, 0} : new int[] {bestStart, bestLength};
    }
}
