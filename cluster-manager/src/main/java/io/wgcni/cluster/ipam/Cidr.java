package io.wgcni.cluster.ipam;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/** An IPv4 or IPv6 prefix with no host bits set, e.g. 10.100.3.0/24 or fd00:100:0:3::/64. */
public record Cidr(BigInteger address, int bits, int length) {
    private static final Pattern V4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Pattern V6 = Pattern.compile("[0-9a-fA-F:.]+");

    public Cidr {
        if (bits != 32 && bits != 128) {
            throw new IllegalArgumentException("an address has 32 or 128 bits");
        }
        if (length < 0 || length > bits) {
            throw new IllegalArgumentException("prefix length must be 0.." + bits);
        }
        if (address.signum() < 0 || address.bitLength() > bits || !address.equals(mask(address, bits, length))) {
            throw new IllegalArgumentException("address has bits set after the prefix length");
        }
    }

    /** Parses "a.b.c.d/n" or "v6/n"; never resolves names. IllegalArgumentException says what is wrong. */
    public static Cidr parse(String text) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("'" + text + "' is not a prefix (address/length)");
        }
        String host = text.substring(0, slash);
        byte[] raw = literal(host);
        if (raw == null) {
            throw new IllegalArgumentException("'" + host + "' is not an IP address");
        }
        int len;
        try {
            len = Integer.parseInt(text.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' has no numeric prefix length");
        }
        int bits = raw.length * 8;
        if (len < 0 || len > bits) {
            throw new IllegalArgumentException("'" + text + "': prefix length must be 0.." + bits);
        }
        BigInteger address = new BigInteger(1, raw);
        if (!address.equals(mask(address, bits, len))) {
            throw new IllegalArgumentException("'" + text + "' has host bits set; did you mean "
                    + format(mask(address, bits, len), bits) + "/" + len + "?");
        }
        return new Cidr(address, bits, len);
    }

    /** The bytes of an IPv4 or IPv6 literal, or null when text is not one (no DNS lookup ever happens). */
    public static byte[] literal(String text) {
        boolean v4 = V4.matcher(text).matches();
        if (!v4 && !(text.contains(":") && V6.matcher(text).matches())) {
            return null;
        }
        try {
            byte[] raw = InetAddress.getByName(text).getAddress();
            return v4 == (raw.length == 4) ? raw : null;
        } catch (UnknownHostException e) {
            return null;
        }
    }

    public boolean isV4() {
        return bits == 32;
    }

    /** How many subnets of the given length this prefix holds, capped at Integer.MAX_VALUE. */
    public int count(int subnetLength) {
        int extra = subnetLength - length;
        return extra >= 31 ? Integer.MAX_VALUE : 1 << extra;
    }

    /** The index-th subnet of the given length inside this prefix. */
    public Cidr subnet(int index, int subnetLength) {
        if (subnetLength < length || subnetLength > bits || index < 0 || index >= count(subnetLength)) {
            throw new IllegalArgumentException("no subnet " + index + " of length " + subnetLength + " in " + this);
        }
        return new Cidr(address.add(BigInteger.valueOf(index).shiftLeft(bits - subnetLength)), bits, subnetLength);
    }

    public boolean contains(Cidr other) {
        return other.bits == bits && other.length >= length && mask(other.address, bits, length).equals(address);
    }

    @Override
    public String toString() {
        return format(address, bits) + "/" + length;
    }

    private static BigInteger mask(BigInteger address, int bits, int length) {
        return address.shiftRight(bits - length).shiftLeft(bits - length);
    }

    /** Dotted quad, or RFC 5952 text for IPv6 (lowercase, longest run of zero groups compressed). */
    static String format(BigInteger address, int bits) {
        if (bits == 32) {
            long v = address.longValue();
            return (v >>> 24 & 255) + "." + (v >>> 16 & 255) + "." + (v >>> 8 & 255) + "." + (v & 255);
        }
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = address.shiftRight(112 - 16 * i).intValue() & 0xffff;
        }
        int bestStart = -1, bestLen = 0;
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLen && j - i >= 2) {
                bestStart = i;
                bestLen = j - i;
            }
            i = Math.max(j, i + 1);
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (!sb.isEmpty() && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(groups[i]));
        }
        return sb.toString();
    }
}
