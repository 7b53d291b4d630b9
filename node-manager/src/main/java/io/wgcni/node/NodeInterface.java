package io.wgcni.node;

import io.wgcni.tun.Links;
import io.wgcni.tun.LinuxTun;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Hop;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.InetAddresses;
import io.wgcni.tun.UdpBind;
import io.wgcni.wg.time.SystemClock;
import io.wgcni.wg.uapi.UapiServer;
import java.io.IOException;
import java.net.InetAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's WireGuard interface ({@code wg0}): a TUN device carried by a jwg {@link Device} in this process, with
 * its UAPI socket so that {@code wg show} works, as {@code jwg} runs it. It holds the first address of the node's
 * subnet with the subnet's prefix length, so the kernel routes the whole subnet (every container here) into it;
 * other nodes' subnets get routes added by {@link PeerSync}.
 */
final class NodeInterface implements AutoCloseable {
    /**
     * How packets cross the node (node-manager's settings, README): {@code sealHop} keeps the in-process hop
     * between wg0 and the containers' devices sealed ({@link Hop}: it protects nothing, and costs a cipher pass each
     * way); {@code kernelForwarding} sends every packet from one peer to another through the kernel, for netfilter's
     * FORWARD rules to see, instead of straight from peer to peer inside wg0.
     */
    record DataPath(boolean sealHop, boolean kernelForwarding) {
        static final DataPath DEFAULT = new DataPath(false, false);
    }

    private static final Logger log = LoggerFactory.getLogger(NodeInterface.class);

    private final LinuxTun tun;
    private final Device device;
    private final UapiServer uapi;
    private final InetAddress gatewayV4;
    private final InetAddress gatewayV6;

    private NodeInterface(LinuxTun tun, Device device, UapiServer uapi, InetAddress gatewayV4, InetAddress gatewayV6) {
        this.tun = tun;
        this.device = device;
        this.uapi = uapi;
        this.gatewayV4 = gatewayV4;
        this.gatewayV6 = gatewayV6;
    }

    /** Creates the interface, configured and up; everything made so far is undone when a step fails. */
    static NodeInterface create(String name, Key privateKey, int listenPort, int mtu, Prefix subnetV4,
            Prefix subnetV6, DataPath dataPath) throws IOException {
        if (Links.host().exists(name)) {
            throw new IOException("interface " + name + " already exists: is another node-manager running?"
                    + " (otherwise delete it: ip link del " + name + ")");
        }
        LinuxTun tun = LinuxTun.create(name, mtu);
        Device device = new Device(tun.name(), tun, new Hop.Hub(new UdpBind(), dataPath.sealHop()),
                SystemClock.INSTANCE);
        device.setForwarding(!dataPath.kernelForwarding());
        // The device zeroes its key when closed: give it a copy of its own.
        UapiServer uapi = null;
        try {
            device.setPrivateKey(Key.of(privateKey.bytes()));
            device.setListenPort(listenPort);
            device.up();
            uapi = UapiServer.start(device, UapiServer.DEFAULT_DIRECTORY);
            InetAddress v4 = firstAddress(subnetV4);
            Links.host().addAddress(name, InetAddresses.format(v4) + "/" + subnetV4.bits());
            InetAddress v6 = null;
            if (subnetV6 != null) {
                v6 = firstAddress(subnetV6);
                Links.host().ip("address", "add", InetAddresses.format(v6) + "/" + subnetV6.bits(), "dev", name,
                        "nodad");
            }
            Links.host().setUp(name);
            return new NodeInterface(tun, device, uapi, v4, v6);
        } catch (IOException | RuntimeException e) {
            if (uapi != null) {
                uapi.close();
            }
            device.close(); // closes the TUN too, which removes the interface
            throw e;
        }
    }

    /** The subnet's first address, the node's own (and the containers' gateway). */
    static InetAddress firstAddress(Prefix subnet) {
        byte[] raw = subnet.addressBytes();
        for (int i = raw.length - 1; i >= 0 && ++raw[i] == 0; i--) {
            // carry
        }
        InetAddress first = InetAddresses.canonical(raw);
        if (!subnet.contains(first)) {
            throw new IllegalArgumentException("subnet " + subnet + " has no host addresses");
        }
        return first;
    }

    String name() {
        return tun.name();
    }

    Device device() {
        return device;
    }

    Key publicKey() {
        return device.identity().publicKey();
    }

    int listenPort() {
        return device.listenPort();
    }

    int mtu() {
        return tun.mtu();
    }

    InetAddress gatewayV4() {
        return gatewayV4;
    }

    /** Null when the cluster has no IPv6 prefix. */
    InetAddress gatewayV6() {
        return gatewayV6;
    }

    boolean isUp() {
        return device.isUp() && !tun.isClosed();
    }

    /** Routes {@code prefix} into this interface; idempotent. */
    void addRoute(Prefix prefix) throws IOException {
        Links.host().ip("route", "replace", prefix.toString(), "dev", name());
    }

    /** Removes the route; a route that is not there is not an error. */
    void deleteRoute(Prefix prefix) {
        try {
            Links.host().deleteRoute(prefix.toString(), name());
        } catch (IOException e) {
            log.debug("{}: route {} was not there: {}", name(), prefix, e.getMessage());
        }
    }

    /** Removes the UAPI socket and the interface (its routes go with it). */
    @Override
    public void close() {
        uapi.close();
        device.close();
    }
}
