package io.wgcni.node.attach;

import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.InetAddresses;
import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Objects;

/**
 * What the node is, fixed while node-manager runs: its subnets (an IPv4 one, and optionally an IPv6 one), its own
 * address in each (the first, on wg0), and the MTU containers get unless the caller asks for another.
 *
 * <p>Containers are numbered by a <em>slot</em>: slot {@code n} is the n-th address of the IPv4 subnet and, when
 * there is an IPv6 subnet, the n-th address of that one too, so a container's two addresses always pair up
 * ({@code 10.100.3.7} and {@code fd00:100:0:3::7}). Slot 0 is the network address, slot 1 the node's own, the last
 * IPv4 slot the broadcast address: {@link #firstSlot()} to {@link #lastSlot()} are the containers'.
 */
public record NodeNetwork(Prefix subnetV4, Prefix subnetV6, InetAddress gatewayV4, InetAddress gatewayV6,
        int containerMtu) {

    /** The smallest MTU an IPv6 interface may have (RFC 8200); IPv4 alone could go lower, no container needs to. */
    static final int MIN_MTU = 1280;

    public NodeNetwork {
        Objects.requireNonNull(subnetV4, "subnetV4");
        Objects.requireNonNull(gatewayV4, "gatewayV4");
        if (!subnetV4.isV4()) {
            throw new IllegalArgumentException("subnetV4: " + subnetV4 + " is not an IPv4 prefix");
        }
        if (subnetV4.bits() > 30) {
            throw new IllegalArgumentException("subnetV4: " + subnetV4 + " leaves no address for a container");
        }
        if (!gatewayV4.equals(nth(subnetV4, 1))) {
            throw new IllegalArgumentException("gatewayV4: " + InetAddresses.format(gatewayV4)
                    + " is not the first address of " + subnetV4);
        }
        if ((subnetV6 == null) != (gatewayV6 == null)) {
            throw new IllegalArgumentException("subnetV6 and gatewayV6 go together: both or neither");
        }
        if (subnetV6 != null) {
            if (subnetV6.isV4()) {
                throw new IllegalArgumentException("subnetV6: " + subnetV6 + " is not an IPv6 prefix");
            }
            if (128 - subnetV6.bits() < 32 - subnetV4.bits()) {
                throw new IllegalArgumentException("subnetV6: " + subnetV6 + " is smaller than " + subnetV4
                        + ": every container needs one address of each");
            }
            if (!gatewayV6.equals(nth(subnetV6, 1))) {
                throw new IllegalArgumentException("gatewayV6: " + InetAddresses.format(gatewayV6)
                        + " is not the first address of " + subnetV6);
            }
        }
        if (containerMtu < MIN_MTU || containerMtu > 65535) {
            throw new IllegalArgumentException("containerMtu: " + containerMtu + " is outside " + MIN_MTU + "..65535");
        }
    }

    /** The node's network from its subnets alone; the gateways are their first addresses. */
    public static NodeNetwork of(Prefix subnetV4, Prefix subnetV6, int containerMtu) {
        return new NodeNetwork(subnetV4, subnetV6, nth(subnetV4, 1), subnetV6 == null ? null : nth(subnetV6, 1),
                containerMtu);
    }

    public int firstSlot() {
        return 2;
    }

    /** The last container slot: the one before the IPv4 broadcast address. */
    public int lastSlot() {
        return (1 << (32 - subnetV4.bits())) - 2;
    }

    public Inet4Address addressV4(int slot) {
        return (Inet4Address) nth(subnetV4, slot);
    }

    /** Null when the node has no IPv6 subnet. */
    public InetAddress addressV6(int slot) {
        return subnetV6 == null ? null : nth(subnetV6, slot);
    }

    /** The {@code n}-th address of {@code prefix} (0 is the network address). */
    static InetAddress nth(Prefix prefix, long n) {
        byte[] base = prefix.addressBytes();
        byte[] sum = new BigInteger(1, base).add(BigInteger.valueOf(n)).toByteArray();
        byte[] out = new byte[base.length];
        int copy = Math.min(sum.length, out.length);
        System.arraycopy(sum, sum.length - copy, out, out.length - copy, copy);
        return InetAddresses.canonical(out);
    }
}
