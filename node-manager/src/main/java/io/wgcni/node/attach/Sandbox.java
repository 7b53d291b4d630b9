package io.wgcni.node.attach;

import io.wgcni.tun.CommandException;
import io.wgcni.tun.Links;
import io.wgcni.tun.LinuxTun;
import io.wgcni.tun.Netns;
import io.wgcni.wg.io.InetAddresses;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The container's side in the kernel: its TUN interface inside its network namespace, the interface's addresses,
 * and the default routes through it. Everything runs on one thread that enters the namespace (tun-linux's {@link
 * Netns}): the TUN is created there, and the one {@code ip -batch} forked from that thread configures it there.
 *
 * <p>The routes name the node's address as gateway ({@code default via 10.100.3.1 dev eth0}): on a point-to-point
 * TUN no neighbour is ever resolved, so it means the same as a plain device route, and it matches the CNI result,
 * whose gateway is the node's address.
 */
final class Sandbox {
    /** The interface's addresses ({@code 10.100.3.7/24}, the subnet's prefix length) and their gateways, in order. */
    record Addressing(List<String> addresses, List<InetAddress> gateways) {
        boolean hasIpv6() {
            return gateways.stream().anyMatch(g -> !(g instanceof Inet4Address));
        }
    }

    /** The namespace has a default route already, and the caller did not ask to replace it. */
    static final class DefaultRouteExists extends IOException {
        DefaultRouteExists(String message) {
            super(message);
        }
    }

    /**
     * How long the work inside one container's namespace may take. Every attachment call is serialised: one hung
     * command must not hold up every CNI call on the node for the commands' own 30 s timeouts, one after another.
     */
    static final java.time.Duration DEADLINE = java.time.Duration.ofSeconds(20);

    private Sandbox() {
    }

    /**
     * Creates the persistent TUN {@code ifname} in {@code netns} with the addresses, MTU and default routes.
     * Nothing is left behind on failure. {@link java.nio.file.FileAlreadyExistsException} when the name is taken.
     */
    static LinuxTun create(String netns, String ifname, int mtu, Addressing addressing, boolean replaceDefaultRoute)
            throws IOException {
        return Netns.inNamespace(netns, DEADLINE, () -> {
            LinuxTun tun = LinuxTun.createPersistentIn(null, ifname, mtu);
            try {
                configure(ifname, addressing, replaceDefaultRoute);
                return tun;
            } catch (IOException | RuntimeException e) {
                remove(tun);
                throw e;
            }
        }, Sandbox::remove); // made after the caller gave up: nobody will ever use it
    }

    /** Runs on the namespace's thread: {@code ip} forked here acts on the namespace. */
    private static void configure(String ifname, Addressing addressing, boolean replaceDefaultRoute)
            throws IOException {
        if (!addressing.hasIpv6()) {
            // No IPv6 subnet: no link-local address, no router solicitations into a tunnel that drops them.
            Files.writeString(Path.of("/proc/sys/net/ipv6/conf", ifname, "disable_ipv6"), "1");
        }
        if (replaceDefaultRoute) {
            Links.host().ip("-4", "route", "flush", "exact", "0.0.0.0/0");
            if (addressing.hasIpv6()) {
                Links.host().ip("-6", "route", "flush", "exact", "::/0");
            }
        }
        List<String> batch = new ArrayList<>();
        for (String address : addressing.addresses()) {
            // nodad: nobody else is on this link, and DAD would hold the address back for a second.
            batch.add("address add " + address + " dev " + ifname + (address.contains(":") ? " nodad" : ""));
        }
        batch.add("link set dev " + ifname + " up");
        for (InetAddress gateway : addressing.gateways()) {
            String any = gateway instanceof Inet4Address ? "0.0.0.0/0" : "::/0";
            batch.add("route add " + any + " via " + InetAddresses.format(gateway) + " dev " + ifname);
        }
        Path file = Files.createTempFile("wgcni-attach-", ".ip");
        try {
            Files.write(file, batch);
            Links.host().ip("-batch", file.toString());
        } catch (CommandException e) {
            if (e.stderr().contains("File exists") && !replaceDefaultRoute) {
                throw new DefaultRouteExists("the namespace already has a default route (set"
                        + " replace_default_route to move it to " + ifname + ")");
            }
            throw e;
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Makes the TUN non-persistent and closes it: the interface goes, with its addresses and routes. */
    static void remove(LinuxTun tun) {
        try {
            tun.setPersistent(false);
        } catch (IOException e) {
            // already removed (the namespace went away, or someone deleted the link): closing is all there is
        }
        tun.close();
    }

    /**
     * What is wrong with the interface, or null when it has the addresses and the default routes: the precise
     * message for a failed CNI CHECK.
     */
    static String problem(String netns, String ifname, Addressing addressing) throws IOException {
        if (!Netns.isNetworkNamespace(netns)) {
            return "netns " + netns + " is not a network namespace (any more)";
        }
        return Netns.inNamespace(netns, DEADLINE, () -> {
            Links here = Links.host();
            if (!here.exists(ifname)) {
                return "interface " + ifname + " is missing from netns " + netns;
            }
            String shown = here.ip("-o", "address", "show", "dev", ifname);
            for (String address : addressing.addresses()) {
                if (!List.of(shown.split("\\s+")).contains(address)) {
                    return "address " + address + " is missing from " + ifname;
                }
            }
            for (InetAddress gateway : addressing.gateways()) {
                boolean v4 = gateway instanceof Inet4Address;
                String routes = here.ip(v4 ? "-4" : "-6", "route", "show", "exact", v4 ? "0.0.0.0/0" : "::/0");
                String expected = "via " + InetAddresses.format(gateway) + " dev " + ifname + " ";
                if (routes.lines().noneMatch(l -> (l + " ").contains(expected))) {
                    return "default route via " + InetAddresses.format(gateway) + " dev " + ifname + " is missing"
                            + (routes.isBlank() ? "" : " (found: " + routes.strip().replace('\n', ';') + ")");
                }
            }
            return null;
        }, late -> {});
    }
}
