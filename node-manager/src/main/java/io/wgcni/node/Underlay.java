package io.wgcni.node;

import io.wgcni.tun.Links;
import io.wgcni.wg.io.InetAddresses;
import java.io.IOException;
import java.net.InetAddress;

/**
 * The network the node's WireGuard packets travel on: the interface of the default route (or the one that
 * reaches an explicitly given endpoint address), its address and its MTU, read from the kernel with {@code ip}.
 */
record Underlay(String device, InetAddress address, int mtu) {

    /** The interface of the default route, IPv4 first, and its first global address. */
    static Underlay ofDefaultRoute() throws IOException {
        for (String family : new String[] {"-4", "-6"}) {
            String route = Links.host().ip("-o", family, "route", "show", "default").strip();
            String dev = word(route, "dev");
            if (dev == null) {
                continue;
            }
            String addr = Links.host().ip("-o", family, "address", "show", "dev", dev, "scope", "global").strip();
            String cidr = word(addr, family.equals("-4") ? "inet" : "inet6");
            if (cidr == null) {
                throw new IOException(
                        "the default route's interface " + dev + " has no global address: pass --endpoint");
            }
            InetAddress address = InetAddresses.parse(cidr.substring(0, cidr.indexOf('/')));
            return new Underlay(dev, address, Links.host().mtu(dev));
        }
        throw new IOException("no default route to take the endpoint address from: pass --endpoint");
    }

    /**
     * The underlay for an endpoint given on the command line: the interface holding that address, or (an address
     * behind NAT, not on any interface here) the default route's interface, for its MTU.
     */
    static Underlay forEndpoint(InetAddress address) throws IOException {
        String text = InetAddresses.format(address);
        String line = Links.host().ip("-o", "address", "show", "to", text).strip();
        if (!line.isEmpty()) {
            String dev = line.split("\\s+")[1].replaceFirst("@.*", "");
            return new Underlay(dev, address, Links.host().mtu(dev));
        }
        Underlay route = ofDefaultRoute();
        return new Underlay(route.device(), address, route.mtu());
    }

    /** The word after {@code key} in iproute2's one-line output, or null. */
    private static String word(String line, String key) {
        String[] words = line.split("\\s+");
        for (int i = 0; i + 1 < words.length; i++) {
            if (words[i].equals(key)) {
                return words[i + 1];
            }
        }
        return null;
    }
}
