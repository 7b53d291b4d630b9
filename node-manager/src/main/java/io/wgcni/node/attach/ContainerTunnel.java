package io.wgcni.node.attach;

import io.wgcni.node.attach.AttachmentStore.Attachment;
import io.wgcni.tun.LinuxTun;
import io.wgcni.tun.Netns;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.tun.UdpBind;
import io.wgcni.wg.time.SystemClock;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One container interface's tunnel while it runs: the container's WireGuard {@link Device} (its TUN is the
 * container's interface, its UDP socket is in the node's namespace) and the peer on the node's wg0 that answers it.
 *
 * <p>The device has exactly one peer, wg0, with allowed IPs {@code 0.0.0.0/0} and {@code ::/0}: everything the
 * container sends goes to its node. wg0's peer for the container allows only the container's own addresses, so a
 * container cannot send with another's source address. The container's end knows wg0's endpoint (127.0.0.1) and
 * keeps the session alive with a persistent keepalive, whose first one starts the handshake as soon as the device is
 * up.
 *
 * <p>wg0's end is given no endpoint: it learns it from that first initiation. Were it given one, traffic for the
 * container arriving before the handshake (the other end of a connection that survived a restart, say) would make
 * wg0 initiate too, and two crossing initiations overwrite each other's handshake state on both sides: neither
 * response is accepted, and the tunnel stays down for REKEY_TIMEOUT (5 s) until a retry. With one initiator
 * there is no such race.
 */
final class ContainerTunnel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ContainerTunnel.class);
    static final int KEEPALIVE_SECONDS = 25;
    /** One handshake worker each: a node runs hundreds of these. */
    static final int WORKERS = 1;
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    final Attachment attachment;
    final LinuxTun tun;
    final Device device;
    final Key publicKey;
    private final Device hub;

    private ContainerTunnel(Attachment attachment, LinuxTun tun, Device device, Key publicKey, Device hub) {
        this.attachment = attachment;
        this.tun = tun;
        this.device = device;
        this.publicKey = publicKey;
        this.hub = hub;
    }

    /**
     * Starts the tunnel over {@code tun}: the device with the attachment's key, bound to the attachment's port (a
     * new one when that is 0 or taken), in {@code nodeNetns} (null: this thread's namespace), and its peer on the
     * hub. The attachment returned by {@link #attachment} carries the port actually bound. On failure the TUN is
     * closed, and removed too when {@code removeOnFailure} (else a persistent one stays for a later attempt).
     */
    static ContainerTunnel start(Attachment a, LinuxTun tun, Device hub, List<Prefix> containerPrefixes,
            String nodeNetns, boolean removeOnFailure) throws IOException {
        Key privateKey = Key.fromBase64(a.privateKeyBase64()); // the device zeroes its copy when it closes
        Key publicKey = X25519.publicKey(privateKey);
        int hubPort = hub.listenPort();
        if (hub.identity() == null || hubPort == 0) {
            throw new IOException("the node's interface " + hub.name() + " has no key or is not listening");
        }
        Device device = new Device(deviceName(a), tun, new UdpBind(),
                SystemClock.INSTANCE, WORKERS);
        Peer hubPeer = null;
        try {
            device.setPrivateKey(privateKey);
            Peer toHub = device.addPeer(hub.identity().publicKey());
            toHub.setEndpoint(new Endpoint(LOOPBACK, hubPort));
            device.addAllowedIp(toHub, Prefix.parse("0.0.0.0/0"));
            device.addAllowedIp(toHub, Prefix.parse("::/0"));
            toHub.setPersistentKeepaliveInterval(KEEPALIVE_SECONDS);

            // The hub must know the container before the first initiation arrives, or it would wait out a retry.
            hubPeer = hub.addPeer(publicKey);
            for (Prefix p : containerPrefixes) {
                hub.addAllowedIp(hubPeer, p);
            }
            int port = up(device, a.port(), nodeNetns);
            return new ContainerTunnel(a.withPort(port), tun, device, publicKey, hub);
        } catch (IOException | RuntimeException e) {
            if (hubPeer != null) {
                hub.removePeer(publicKey);
            }
            if (removeOnFailure) {
                Sandbox.remove(tun);
            }
            device.close(); // closes the TUN too
            throw e;
        }
    }

    /** Brings the device up in the node's namespace on {@code port}, or on any port if that one is taken. */
    private static int up(Device device, int port, String nodeNetns) throws IOException {
        Netns.ThrowingRunnable up = () -> {
            try {
                device.setListenPort(port);
                device.up();
            } catch (BindException e) {
                log.warn("{}: UDP port {} is taken now, binding another", device.name(), port);
                device.setListenPort(0);
                device.up();
            }
        };
        if (nodeNetns == null) {
            try {
                up.run();
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
        } else {
            Netns.runIn(nodeNetns, up);
        }
        return device.listenPort();
    }

    /** The peer on the node's wg0 for this container, or null once closed. */
    Peer hubPeer() {
        return hub.peer(publicKey);
    }

    /** The device's peer: the node's wg0. */
    Peer nodePeer() {
        return device.peers().stream().findFirst().orElse(null);
    }

    /** Stops the tunnel and removes the container's interface with its addresses and routes. */
    void destroy() {
        hub.removePeer(publicKey);
        Sandbox.remove(tun); // first: the device's close would otherwise only close the descriptor
        device.close();
    }

    /** Stops the tunnel but leaves the persistent interface in the container, for the next node-manager. */
    @Override
    public void close() {
        hub.removePeer(publicKey);
        device.close();
    }

    private static String deviceName(Attachment a) {
        String id = a.containerId();
        return "c-" + (id.length() > 12 ? id.substring(0, 12) : id) + "-" + a.ifname();
    }
}
