package io.wgcni.node.attach;

import io.wgcni.node.attach.AttachmentStore.Attachment;
import io.wgcni.tun.LinuxTun;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import io.wgcni.tun.TunPoller;
import io.wgcni.wg.device.Hop;
import io.wgcni.wg.time.SystemClock;
import java.io.IOException;
import java.util.List;

/**
 * One container interface's tunnel while it runs: the container's WireGuard {@link Device} (its TUN is the
 * container's interface) as a spoke of an in-process {@link Hop} whose hub is the node's wg0, and the peer on wg0
 * that answers it. No socket and no thread of its own: the node's {@link TunPoller} reads the TUN and takes each
 * batch through the container's device into wg0 on its thread, and wg0's threads bring packets back the same way.
 *
 * <p>The device has exactly one peer, wg0, with allowed IPs {@code 0.0.0.0/0} and {@code ::/0}: everything the
 * container sends goes to its node. wg0's peer for the container allows only the container's own addresses, so a
 * container cannot send with another's source address. The container's end keeps the session alive with a
 * persistent keepalive, whose first one starts the handshake as soon as the device is up.
 *
 * <p>wg0's end is given no endpoint: it learns the spoke's from that first initiation. Were it given one, traffic
 * for the container arriving before the handshake (the other end of a connection that survived a restart, say) would
 * make wg0 initiate too, and two crossing initiations overwrite each other's handshake state on both sides: neither
 * response is accepted, and the tunnel stays down for REKEY_TIMEOUT (5 s) until a retry. With one initiator there
 * is no such race.
 */
final class ContainerTunnel implements AutoCloseable {
    static final int KEEPALIVE_SECONDS = 25;

    final Attachment attachment;
    final LinuxTun tun;
    final Device device;
    final Key publicKey;
    private final Device hub;
    private final TunPoller poller;

    private ContainerTunnel(Attachment attachment, LinuxTun tun, Device device, Key publicKey, Device hub,
            TunPoller poller) {
        this.attachment = attachment;
        this.tun = tun;
        this.device = device;
        this.publicKey = publicKey;
        this.hub = hub;
        this.poller = poller;
    }

    /**
     * Starts the tunnel over {@code tun}: the device with the attachment's key as a spoke of the hub's hop, read by
     * {@code poller}, and its peer on the hub. The attachment returned by {@link #attachment} carries the spoke's
     * number as its port. On failure the TUN is closed, and removed too when {@code removeOnFailure} (else a
     * persistent one stays for a later attempt).
     */
    static ContainerTunnel start(Attachment a, LinuxTun tun, Device hub, TunPoller poller,
            List<Prefix> containerPrefixes, boolean removeOnFailure) throws IOException {
        Hop.Hub hop = hub.hop();
        if (hub.identity() == null || hop == null) {
            throw new IOException("the node's interface " + hub.name() + " has no key or no in-process hop");
        }
        Key privateKey = Key.fromBase64(a.privateKeyBase64()); // the device zeroes its copy when it closes
        Key publicKey = X25519.publicKey(privateKey);
        Device device = Device.withoutThreads(deviceName(a), tun, hop.newSpoke(), SystemClock.INSTANCE);
        Peer hubPeer = null;
        try {
            device.setPrivateKey(privateKey);
            addHubPeer(device, hub.identity().publicKey());

            // The hub must know the container before the first initiation arrives, or it would wait out a retry.
            hubPeer = hub.addPeer(publicKey);
            for (Prefix p : containerPrefixes) {
                hub.addAllowedIp(hubPeer, p);
            }
            device.up();
            poller.add(tun, device::drainTun);
            return new ContainerTunnel(a.withPort(device.listenPort()), tun, device, publicKey, hub, poller);
        } catch (IOException | RuntimeException e) {
            poller.remove(tun);
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

    /** The device's one peer: the hub, for everything; on an up device its first keepalive starts the handshake. */
    private static void addHubPeer(Device device, Key hubKey) {
        Peer toHub = device.addPeer(hubKey);
        toHub.setEndpoint(Hop.HUB);
        device.addAllowedIp(toHub, Prefix.parse("0.0.0.0/0"));
        device.addAllowedIp(toHub, Prefix.parse("::/0"));
        toHub.setPersistentKeepaliveInterval(KEEPALIVE_SECONDS);
    }

    /**
     * The same tunnel under {@code rotated}'s key; this object is spent. wg0's peer for the container moves to the
     * new public key, allowed IPs first (a packet for the container never finds no peer), then the device takes the
     * new private key and its peer for the hub is made afresh: its first keepalive starts the new handshake at once
     * (else a container that only receives would wait for its next keepalive, up to 25 s). The container is the
     * only initiator, as at the start, so no initiations cross. The interface, its addresses and its sockets stay.
     */
    ContainerTunnel rotate(Attachment rotated) {
        Key privateKey = Key.fromBase64(rotated.privateKeyBase64());
        Key next = X25519.publicKey(privateKey);
        Peer old = hub.peer(publicKey);
        Peer peer = hub.addPeer(next);
        for (Prefix p : old == null ? List.<Prefix>of() : old.allowedIps()) {
            hub.addAllowedIp(peer, p); // moves the prefix from the old peer to this one
        }
        hub.removePeer(publicKey);
        Key hubKey = hub.identity().publicKey();
        device.setPrivateKey(privateKey); // keeps a copy of its own
        privateKey.destroy();
        device.removePeer(hubKey);
        addHubPeer(device, hubKey);
        return new ContainerTunnel(rotated, tun, device, next, hub, poller);
    }

    /**
     * Makes the device's peer the hub's current key, after the node's key rotated: the old one is removed and the
     * new one's first keepalive starts the handshake at once. Nothing happens when the peer already has that key.
     */
    void followHub() {
        Key hubKey = hub.identity().publicKey();
        Peer current = nodePeer();
        if (current != null && current.publicKey().equals(hubKey)) {
            return;
        }
        if (current != null) {
            device.removePeer(current.publicKey());
        }
        addHubPeer(device, hubKey);
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
        poller.remove(tun);
        hub.removePeer(publicKey);
        Sandbox.remove(tun); // first: the device's close would otherwise only close the descriptor
        device.close();
    }

    /** Stops the tunnel but leaves the persistent interface in the container, for the next node-manager. */
    @Override
    public void close() {
        poller.remove(tun);
        hub.removePeer(publicKey);
        device.close();
    }

    private static String deviceName(Attachment a) {
        String id = a.containerId();
        return "c-" + (id.length() > 12 ? id.substring(0, 12) : id) + "-" + a.ifname();
    }
}
