package io.wgcni.cluster.ipam;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The cluster's prefixes and the size of each node's subnet. Node i gets the i-th subnet of the IPv4 prefix
 * and, when there is one, the i-th subnet of the IPv6 prefix. Fixed when the cluster is created.
 */
public record IpamSettings(Cidr v4, int v4Length, Cidr v6, int v6Length) {
    public static final String DEFAULT_V4 = "10.100.0.0/16";
    public static final int DEFAULT_V4_LENGTH = 24;
    public static final int DEFAULT_V6_LENGTH = 64;

    public IpamSettings {
        if (!v4.isV4()) {
            throw new IllegalArgumentException("--cluster-cidr must be an IPv4 prefix, not " + v4);
        }
        if (v4Length <= v4.length() || v4Length > 30) {
            throw new IllegalArgumentException("--node-prefix-length must be longer than the cluster prefix /"
                    + v4.length() + " and at most 30, not " + v4Length);
        }
        if (v6 != null) {
            if (v6.isV4()) {
                throw new IllegalArgumentException("--cluster-cidr-v6 must be an IPv6 prefix, not " + v6);
            }
            if (v6Length <= v6.length() || v6Length > 126) {
                throw new IllegalArgumentException("--node-prefix-length-v6 must be longer than the cluster prefix /"
                        + v6.length() + " and at most 126, not " + v6Length);
            }
        }
    }

    /** How many nodes the cluster can hold: the smaller of the two families' subnet counts. */
    public int capacity() {
        int n = v4.count(v4Length);
        return v6 == null ? n : Math.min(n, v6.count(v6Length));
    }

    public Cidr v4Subnet(int index) {
        return v4.subnet(index, v4Length);
    }

    /** The node's IPv6 subnet, or null in an IPv4-only cluster. */
    public Cidr v6Subnet(int index) {
        return v6 == null ? null : v6.subnet(index, v6Length);
    }

    /** Lists each setting in other that differs from this one, as the flag and both values. */
    public List<String> differences(IpamSettings other) {
        List<String> d = new ArrayList<>();
        if (!v4.equals(other.v4)) {
            d.add("--cluster-cidr " + v4 + " (given " + other.v4 + ")");
        }
        if (v4Length != other.v4Length) {
            d.add("--node-prefix-length " + v4Length + " (given " + other.v4Length + ")");
        }
        if (v6 == null ? other.v6 != null : !v6.equals(other.v6)) {
            d.add("--cluster-cidr-v6 '" + (v6 == null ? "" : v6) + "' (given '"
                    + (other.v6 == null ? "" : other.v6) + "')");
        } else if (v6 != null && v6Length != other.v6Length) {
            d.add("--node-prefix-length-v6 " + v6Length + " (given " + other.v6Length + ")");
        }
        return d;
    }

    byte[] encode() {
        return (v4 + " " + v4Length + " " + (v6 == null ? "-" : v6.toString()) + " " + v6Length)
                .getBytes(StandardCharsets.UTF_8);
    }

    static IpamSettings decode(byte[] bytes) {
        String[] f = new String(bytes, StandardCharsets.UTF_8).split(" ");
        return new IpamSettings(Cidr.parse(f[0]), Integer.parseInt(f[1]), f[2].equals("-") ? null : Cidr.parse(f[2]),
                Integer.parseInt(f[3]));
    }
}
