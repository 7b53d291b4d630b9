package io.wgcni.cluster;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.cluster.ipam.Cidr;
import io.wgcni.cluster.ipam.Ipam.Allocation;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Pattern;

/** Checks request fields; every failure is INVALID_ARGUMENT with a message that starts with the field's name. */
final class Validation {
    private static final Pattern NODE_NAME = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?");

    private Validation() {}

    static StatusRuntimeException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
    }

    static String nodeName(String name) {
        if (!NODE_NAME.matcher(name).matches()) {
            throw invalid("node_name: '" + name + "' is not a valid node name (lowercase letters, digits, '-' and '.',"
                    + " starting and ending with a letter or digit, at most 63 characters)");
        }
        if (name.equals(ClusterClient.SERVER_NAME) || name.equals(io.wgcni.cluster.auth.Pki.ADMIN)) {
            // The server's TLS name and the operator's CN: no node certificate may ever carry either.
            throw invalid("node_name: '" + name + "' is reserved");
        }
        return name;
    }

    /** A WireGuard public key as `wg` prints it: base64 of 32 bytes. */
    static String publicKey(String key) {
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(key);
        } catch (IllegalArgumentException e) {
            throw invalid("public_key: not base64");
        }
        if (raw.length != 32 || key.length() != 44) {
            throw invalid("public_key: must be 32 bytes in base64 (44 characters), as `wg` prints it");
        }
        return key;
    }

    /** The lowest port a node may register: below it are the well-known services of other hosts. */
    static final int MIN_ENDPOINT_PORT = 1024;

    /**
     * A node's endpoint as every other node will use it: an IP literal (nodes never resolve names), an address
     * another host can reach (not loopback, unspecified, multicast, broadcast or link-local) and an unprivileged
     * port, so that a registration cannot aim every node's handshakes at a service of some other host.
     */
    static String endpoint(String endpoint) {
        HostPort hp;
        try {
            hp = HostPort.parse("endpoint", endpoint, false);
        } catch (IllegalArgumentException e) {
            throw invalid(e.getMessage());
        }
        byte[] raw = Cidr.literal(hp.host());
        if (raw == null) {
            throw invalid("endpoint: '" + hp.host() + "' is not an IP address (nodes do not resolve names)");
        }
        InetAddress address;
        try {
            address = InetAddress.getByAddress(raw);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
        if (address.isLoopbackAddress() || address.isAnyLocalAddress() || address.isMulticastAddress()
                || address.isLinkLocalAddress() || (raw.length == 4 && (raw[0] & 0xff) == 255)) {
            throw invalid("endpoint: " + hp.host() + " is not an address other nodes can reach (loopback, unspecified,"
                    + " multicast, broadcast and link-local addresses are refused)");
        }
        if (hp.port() < MIN_ENDPOINT_PORT) {
            throw invalid("endpoint: port " + hp.port() + " is below " + MIN_ENDPOINT_PORT
                    + " (the well-known ports belong to other services)");
        }
        return hp.toString();
    }

    /** Each prefix parsed and inside one of the node's subnets; none means the whole subnets. */
    static List<String> allowedPrefixes(List<String> prefixes, Allocation a) {
        List<String> out = new ArrayList<>();
        if (prefixes.isEmpty()) {
            out.add(a.v4().toString());
            if (a.v6() != null) {
                out.add(a.v6().toString());
            }
            return out;
        }
        for (String p : prefixes) {
            Cidr c;
            try {
                c = Cidr.parse(p);
            } catch (IllegalArgumentException e) {
                throw invalid("allowed_prefixes: " + e.getMessage());
            }
            if (!a.v4().contains(c) && (a.v6() == null || !a.v6().contains(c))) {
                throw invalid("allowed_prefixes: " + c + " is outside the node's subnet " + a.v4()
                        + (a.v6() == null ? "" : " and " + a.v6()));
            }
            out.add(c.toString());
        }
        return out;
    }
}
