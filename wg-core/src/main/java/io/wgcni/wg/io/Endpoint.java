package io.wgcni.wg.io;

import java.net.InetAddress;
import java.net.InetSocketAddress;

/** A peer's UDP address, in the form the UAPI uses: {@code 192.0.2.1:51820} or {@code [2001:db8::1]:51820}. */
public record Endpoint(InetAddress address, int port) {

    public Endpoint {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
    }

    public static Endpoint of(InetSocketAddress sa) {
        return new Endpoint(sa.getAddress(), sa.getPort());
    }

    /** Parses {@code host:port} or {@code [v6]:port}; the host must be a literal address (no DNS lookups here). */
    public static Endpoint parse(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("endpoint must be host:port: " + text);
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            throw new IllegalArgumentException("IPv6 endpoint must be written [address]:port: " + text);
        }
        int port;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("endpoint port is not a number: " + text);
        }
        return new Endpoint(InetAddresses.parse(host), port);
    }

    public InetSocketAddress toSocketAddress() {
        return new InetSocketAddress(address, port);
    }

    @Override
    public String toString() {
        String host = InetAddresses.format(address);
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
