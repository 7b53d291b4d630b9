package io.wgcni.cluster;

import io.wgcni.cluster.ipam.Cidr;
import java.util.regex.Pattern;

/** "host:port" or "[v6]:port", host an IP literal or a DNS name; never resolved here. */
public record HostPort(String host, int port) {
    private static final Pattern DNS = Pattern.compile("(?=.{1,253}$)([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)"
            + "(\\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\\.?");

    /** Parses text; IllegalArgumentException names what is wrong, prefixed with field. */
    public static HostPort parse(String field, String text, boolean allowPortZero) {
        String host;
        String port;
        if (text.startsWith("[")) {
            int close = text.indexOf("]:");
            if (close < 0) {
                throw new IllegalArgumentException(field + ": '" + text + "' must be [v6-address]:port");
            }
            host = text.substring(1, close);
            port = text.substring(close + 2);
            byte[] raw = Cidr.literal(host);
            if (raw == null || raw.length != 16) {
                throw new IllegalArgumentException(field + ": '" + host + "' is not an IPv6 address");
            }
        } else {
            int colon = text.lastIndexOf(':');
            if (colon < 0 || text.indexOf(':') != colon) {
                throw new IllegalArgumentException(
                        field + ": '" + text + "' must be host:port (IPv6 as [address]:port)");
            }
            host = text.substring(0, colon);
            port = text.substring(colon + 1);
            if (!DNS.matcher(host).matches()) {
                throw new IllegalArgumentException(field + ": '" + host + "' is neither an IP address nor a DNS name");
            }
            if (host.matches("[0-9.]+") && Cidr.literal(host) == null) {
                throw new IllegalArgumentException(field + ": '" + host + "' is not an IPv4 address");
            }
        }
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            p = -1;
        }
        if (p < (allowPortZero ? 0 : 1) || p > 65535) {
            throw new IllegalArgumentException(
                    field + ": port must be " + (allowPortZero ? 0 : 1) + "-65535, not '" + port + "'");
        }
        return new HostPort(host, p);
    }

    @Override
    public String toString() {
        return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
    }
}
