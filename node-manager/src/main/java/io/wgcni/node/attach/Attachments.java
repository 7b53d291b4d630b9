package io.wgcni.node.attach;

import io.wgcni.api.node.Names;
import io.wgcni.node.attach.AttachmentException.Kind;
import io.wgcni.node.attach.AttachmentStore.Attachment;
import io.wgcni.node.attach.Sandbox.Addressing;
import io.wgcni.tun.LinuxTun;
import io.wgcni.tun.Netns;
import io.wgcni.tun.TunPoller;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.InetAddresses;
import io.wgcni.wg.io.Packet;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The containers' side of the node: gives a container interface (container id, ifname, netns) an address from the
 * node's subnet, a TUN inside its namespace and a WireGuard tunnel to the node's wg0, and takes them back.
 *
 * <p>State is durable ({@link AttachmentStore}) before a call answers, and the container's TUN is persistent: a
 * node-manager that dies, even by SIGKILL, leaves every container's interface, addresses and routes in place, and
 * the next one {@link #reconcile reconciles}: it attaches to the interfaces again and rebuilds each tunnel with the
 * same key, so the containers' connections carry on after a pause.
 *
 * <p>Calls are serialised (one attach is a few milliseconds of kernel work, and the CNI calls them one at a time
 * per container anyway). Calls take and return plain values and fail with an {@link AttachmentException} of a
 * kind: the node's API turns them into its messages and statuses, at its edge.
 */
public final class Attachments implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Attachments.class);
    /** Check fails when the tunnel's last handshake is older: a live tunnel rekeys every 2 minutes. */
    static final long HANDSHAKE_MAX_AGE_SECONDS = 180;
    /** Tunnels restored at once by {@link #reconcile}. */
    static final int RESTORE_THREADS = 4;

    /** Buffers the poller lends each drain: a batch of superpackets, for every container together. */
    static final int POLLER_BUFFERS = 32;

    private final NodeNetwork network;
    private final Device hub;
    private final AttachmentStore store;
    /** Reads every container's TUN, on one thread. */
    private final TunPoller poller;
    /** The running tunnels by owner ({@code container:ID/IFNAME}). */
    private final Map<String, ContainerTunnel> tunnels = new HashMap<>();
    private boolean closed;

    /**
     * Opens (creating) {@code dataDir/attachments.db}. {@code hub} is the node's wg0, already up, whose bind is the
     * hub of the containers' in-process hops ({@link io.wgcni.wg.device.Hop.Hub}).
     */
    public Attachments(Path dataDir, NodeNetwork network, Device hub) throws IOException {
        if (hub.hop() == null) {
            throw new IllegalArgumentException(hub.name() + " is not the hub of an in-process hop");
        }
        this.network = network;
        this.hub = hub;
        this.store = new AttachmentStore(dataDir, network.firstSlot(), network.lastSlot());
        this.poller = new TunPoller("containers", POLLER_BUFFERS, Packet.SUPER_CAPACITY);
    }

    // ---- start-up ----

    /**
     * Re-creates every stored attachment whose namespace and persistent TUN still exist, and drops (releasing its
     * address) every one whose namespace or interface is gone. Call once, after construction. Returns how many
     * tunnels were restored.
     */
    public synchronized int reconcile() {
        List<Attachment> all;
        try {
            all = store.attachments();
            dropAllocationsWithoutAttachment(all);
        } catch (IOException e) {
            log.error("cannot read the stored attachments: {}", e.getMessage());
            return 0;
        }
        List<Callable<Restore>> work = new ArrayList<>();
        for (Attachment a : all) {
            if (!tunnels.containsKey(a.owner())) {
                work.add(() -> restore(a));
            }
        }
        // Each restore waits on threads entering namespaces and on a socket bind: a few in parallel bring a node's
        // containers back sooner. The database is touched only here, on this thread.
        int restored = 0;
        try (ExecutorService pool = Executors.newFixedThreadPool(RESTORE_THREADS)) {
            for (Future<Restore> f : pool.invokeAll(work)) {
                Restore r = f.get();
                Attachment a = r.stored();
                try {
                    switch (r) {
                        case Restored(_, ContainerTunnel tunnel) -> {
                            tunnels.put(a.owner(), tunnel);
                            if (tunnel.attachment.port() != a.port()) {
                                store.save(tunnel.attachment);
                            }
                            restored++;
                        }
                        case Gone(_, String why) -> {
                            log.info("{}/{}: {}, releasing {}", a.containerId(), a.ifname(), why,
                                    addressing(a.slot()).addresses());
                            store.remove(a.containerId(), a.ifname());
                        }
                        // Kept: a later Detach (or GarbageCollect) still knows what to remove.
                        case Failed(_, Exception failure) -> log.error("{}/{}: cannot restore the tunnel: {}",
                                a.containerId(), a.ifname(), failure.getMessage());
                    }
                } catch (IOException e) {
                    log.error("{}/{}: recording its restore: {}", a.containerId(), a.ifname(), e.getMessage());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException("a restore failed outside its own error handling", e.getCause());
        }
        log.info("restored {} of {} container tunnels", restored, all.size());
        return restored;
    }

    /**
     * Detaches every attachment whose namespace is gone, or whose interface was removed from it: what a DEL that
     * never reached node-manager (it was down, or the runtime gave up) left behind. Start-up's {@link #reconcile}
     * does the same once; the node calls this periodically. Returns those released.
     */
    public synchronized List<Ref> sweep() {
        List<Ref> released = new ArrayList<>();
        if (closed) {
            return released;
        }
        List<Attachment> all;
        try {
            all = store.attachments();
        } catch (IOException e) {
            log.error("sweep: cannot read the stored attachments: {}", e.getMessage());
            return released;
        }
        for (Attachment a : all) {
            ContainerTunnel t = tunnels.get(a.owner());
            String gone = !Netns.isNetworkNamespace(a.netns()) ? "netns " + a.netns() + " is gone"
                    : t != null && t.tun.isRemoved() ? "its interface was removed" : null;
            if (gone == null) {
                continue;
            }
            try {
                log.info("{}/{}: {}, releasing {}", a.containerId(), a.ifname(), gone,
                        addressing(a.slot()).addresses());
                tearDown(a.containerId(), a.ifname());
                released.add(new Ref(a.containerId(), a.ifname()));
            } catch (IOException | RuntimeException e) {
                log.warn("{}/{}: sweep could not detach it: {}", a.containerId(), a.ifname(), e.getMessage());
            }
        }
        return released;
    }

    /** One container interface: what garbage collection is told to keep, and what it and sweeps release. */
    public record Ref(String containerId, String ifname) {}

    /** What became of one stored attachment. */
    private sealed interface Restore {
        Attachment stored();
    }

    /** Its tunnel runs again. */
    private record Restored(Attachment stored, ContainerTunnel tunnel) implements Restore {}

    /** Its namespace or interface is gone, and the attachment with it. */
    private record Gone(Attachment stored, String why) implements Restore {}

    /** Its tunnel could not be started. */
    private record Failed(Attachment stored, Exception failure) implements Restore {}

    private Restore restore(Attachment a) {
        try {
            if (!Netns.isNetworkNamespace(a.netns())) {
                return new Gone(a, "netns " + a.netns() + " is gone");
            }
            LinuxTun tun;
            try {
                tun = LinuxTun.openPersistentIn(a.netns(), a.ifname());
            } catch (NoSuchFileException e) {
                return new Gone(a, "the interface is gone from " + a.netns());
            }
            return new Restored(a, ContainerTunnel.start(a, tun, hub, poller, prefixes(a.slot()), false));
        } catch (IOException | RuntimeException e) {
            return new Failed(a, e);
        }
    }

    /** A crash between allocating a container's address and recording its attachment leaves an orphan. */
    private void dropAllocationsWithoutAttachment(List<Attachment> all) throws IOException {
        Set<String> owners = new HashSet<>();
        all.forEach(a -> owners.add(a.owner()));
        for (String owner : store.allocations().keySet()) {
            if (owner.startsWith("container:") && !owners.contains(owner)) {
                log.info("releasing the address of {}: no attachment was recorded for it", owner);
                store.release(owner);
            }
        }
    }

    // ---- the CNI calls ----

    /**
     * A container interface to attach: CNI ADD. {@code mtu} 0 is the node's container MTU; without
     * {@code replaceDefaultRoute} a namespace that already has a default route is refused.
     */
    public record Attach(String containerId, String ifname, String netns, int mtu, String networkName,
            boolean replaceDefaultRoute) {}

    /** An attached interface: what the CNI result reports, a default route through each gateway. */
    public record Attached(String ifname, String sandbox, int mtu, Key publicKey, List<String> addresses,
            List<InetAddress> gateways) {}

    /**
     * Attaches: EXISTS when {@code ifname} exists in the namespace and is not this container's; idempotent for a
     * repeated (container id, ifname) whose interface is still there; INVALID naming the field; EXHAUSTED when the
     * subnet is full; WRONG_STATE when a default route is in the way.
     */
    public synchronized Attached attach(Attach request) throws AttachmentException {
        ensureOpen();
        String id = request.containerId();
        String ifname = request.ifname();
        validateId(id);
        validateIfname(ifname);
        String netns = request.netns();
        if (netns.isEmpty() || !Netns.isNetworkNamespace(netns)) {
            throw invalid("netns: '" + netns + "' is not a network namespace");
        }
        int mtu = request.mtu() == 0 ? network.containerMtu() : request.mtu();
        if (mtu < NodeNetwork.MIN_MTU || mtu > network.containerMtu()) {
            throw invalid("mtu: " + request.mtu() + " is outside " + NodeNetwork.MIN_MTU + ".."
                    + network.containerMtu() + " (the node's container MTU)");
        }
        String owner = AttachmentStore.containerOwner(id, ifname);
        try {
            ContainerTunnel existing = tunnels.get(owner);
            if (existing != null) {
                if (existing.attachment.netns().equals(netns) && !existing.tun.isRemoved()) {
                    return attached(existing);
                }
                log.info("{}/{}: attached again with its interface gone or in another netns: replacing it", id, ifname);
                tearDown(id, ifname);
            } else if (store.attachment(id, ifname).isPresent()) {
                tearDown(id, ifname); // stored but not running: start over
            }

            OptionalInt slot = store.allocate(owner);
            if (slot.isEmpty()) {
                throw new AttachmentException(Kind.EXHAUSTED, "no free address in " + network.subnetV4() + " ("
                        + (network.lastSlot() - network.firstSlot() + 1) + " addresses, all taken)");
            }
            Attachment a = new Attachment(id, ifname, netns, slot.getAsInt(),
                    X25519.generatePrivateKey().toBase64(), 0, mtu, System.currentTimeMillis(), request.networkName());
            // Recorded before the interface exists: after a crash from here on, reconcile finds what to clean up.
            store.save(a);
            ContainerTunnel t = null;
            try {
                LinuxTun tun = Sandbox.create(netns, ifname, mtu, addressing(a.slot()), request.replaceDefaultRoute());
                t = ContainerTunnel.start(a, tun, hub, poller, prefixes(a.slot()), true);
                store.save(t.attachment); // with its port
            } catch (IOException | RuntimeException e) {
                if (t != null) {
                    t.destroy();
                }
                store.remove(id, ifname);
                throw e;
            }
            tunnels.put(owner, t);
            log.info("{}/{}: attached in {} as {}, hop {}", id, ifname, netns, addressing(a.slot()).addresses(),
                    t.attachment.port());
            return attached(t);
        } catch (FileAlreadyExistsException e) {
            throw new AttachmentException(Kind.EXISTS, "ifname: an interface named " + ifname + " already exists in "
                    + netns);
        } catch (Sandbox.DefaultRouteExists e) {
            throw wrongState(e.getMessage());
        } catch (IOException | RuntimeException e) {
            log.warn("{}/{}: attach failed: {}", id, ifname, e.getMessage());
            throw new AttachmentException(Kind.INTERNAL, "attaching " + ifname + " in " + netns + ": "
                    + e.getMessage(), e);
        }
    }

    /** Detaches: CNI DEL. Succeeds for unknown attachments and when the namespace is gone. */
    public synchronized void detach(String containerId, String ifname) throws AttachmentException {
        ensureOpen();
        validateId(containerId);
        validateIfname(ifname);
        try {
            tearDown(containerId, ifname);
        } catch (IOException e) {
            throw new AttachmentException(Kind.INTERNAL, "detaching " + ifname + ": " + e.getMessage(), e);
        }
    }

    /** Removes an attachment, running or only recorded: its tunnel, its interface, its record and its address. */
    private void tearDown(String id, String ifname) throws IOException {
        String owner = AttachmentStore.containerOwner(id, ifname);
        ContainerTunnel t = tunnels.remove(owner);
        Optional<Attachment> stored = store.attachment(id, ifname);
        if (t != null) {
            t.destroy();
        } else if (stored.isPresent()) {
            removeStrayInterface(stored.get());
        }
        store.remove(id, ifname);
        if (t != null || stored.isPresent()) {
            log.info("{}/{}: detached", id, ifname);
        }
    }

    /** An attachment that is not running (its restore failed) may still have its persistent TUN: remove it. */
    private static void removeStrayInterface(Attachment a) {
        if (!Netns.isNetworkNamespace(a.netns())) {
            return;
        }
        try {
            Sandbox.remove(LinuxTun.openPersistentIn(a.netns(), a.ifname()));
        } catch (IOException e) {
            log.debug("{}/{}: no interface to remove: {}", a.containerId(), a.ifname(), e.getMessage());
        }
    }

    /**
     * What to check: CNI CHECK. An empty {@code netns} is the recorded one, an empty {@code networkName} any
     * network; {@code expectedAddresses} are the CIDRs the runtime was given.
     */
    public record Check(String containerId, String ifname, String netns, String networkName,
            List<String> expectedAddresses) {}

    /**
     * NOT_FOUND when unknown; WRONG_STATE with what is wrong: the interface or an address or a default route is
     * missing, an expected address is not the attachment's, or no handshake within the last 180 s.
     */
    public synchronized void check(Check request) throws AttachmentException {
        ensureOpen();
        String id = request.containerId();
        String ifname = request.ifname();
        validateId(id);
        validateIfname(ifname);
        Attachment a;
        try {
            a = store.attachment(id, ifname).filter(x -> inNetwork(x, request.networkName()))
                    .orElseThrow(() -> new AttachmentException(Kind.NOT_FOUND, "no attachment for container " + id
                            + " interface " + ifname + (request.networkName().isEmpty() ? ""
                                    : " in network " + request.networkName())));
        } catch (IOException e) {
            throw new AttachmentException(Kind.INTERNAL, e.getMessage(), e);
        }
        Addressing addressing = addressing(a.slot());
        for (String expected : request.expectedAddresses()) {
            if (!addressing.addresses().contains(expected)) {
                throw wrongState("address " + expected + " is not the attachment's (it has "
                        + String.join(", ", addressing.addresses()) + ")");
            }
        }
        String netns = request.netns().isEmpty() ? a.netns() : request.netns();
        String problem;
        try {
            problem = Sandbox.problem(netns, ifname, addressing);
        } catch (IOException e) {
            throw new AttachmentException(Kind.INTERNAL, "inspecting " + netns + ": " + e.getMessage(), e);
        }
        if (problem != null) {
            throw wrongState(problem);
        }
        ContainerTunnel t = tunnels.get(a.owner());
        if (t == null) {
            throw wrongState("the tunnel of " + ifname
                    + " is not running (its restore failed: see the node-manager log)");
        }
        Peer node = t.nodePeer();
        long last = node == null ? 0 : node.lastHandshakeEpochNanos();
        long ageSeconds = TimeUnit.NANOSECONDS.toSeconds(System.currentTimeMillis() * 1_000_000L - last);
        if (last == 0) {
            throw wrongState("the tunnel of " + ifname + " has never completed a handshake with the node");
        }
        if (ageSeconds > HANDSHAKE_MAX_AGE_SECONDS) {
            throw wrongState("the tunnel of " + ifname + " has had no handshake with the node for " + ageSeconds
                    + " s (limit " + HANDSHAKE_MAX_AGE_SECONDS + " s)");
        }
    }

    /**
     * Detaches every attachment of {@code networkName} not in {@code valid} (CNI 1.1: a network's GC touches only
     * what belongs to it); returns those released. One that fails to detach does not stop the others: they are all
     * tried, then the failures are reported together (INTERNAL), the rest being released.
     */
    public synchronized List<Ref> garbageCollect(String networkName, Set<Ref> valid) throws AttachmentException {
        ensureOpen();
        if (networkName.isEmpty()) {
            throw invalid("network_name: GC must name the network whose attachments it collects");
        }
        Set<String> keep = new HashSet<>();
        for (Ref r : valid) {
            keep.add(AttachmentStore.containerOwner(r.containerId(), r.ifname()));
        }
        List<Ref> released = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        List<Attachment> all;
        try {
            all = store.attachments();
        } catch (IOException e) {
            throw new AttachmentException(Kind.INTERNAL, "garbage collection: " + e.getMessage(), e);
        }
        for (Attachment a : all) {
            if (a.network().equals(networkName) && !keep.contains(a.owner())) {
                try {
                    tearDown(a.containerId(), a.ifname());
                    released.add(new Ref(a.containerId(), a.ifname()));
                } catch (IOException | RuntimeException e) {
                    log.warn("{}/{}: garbage collection could not detach it: {}", a.containerId(), a.ifname(),
                            e.getMessage());
                    failures.add(a.containerId() + "/" + a.ifname() + ": " + e.getMessage());
                }
            }
        }
        if (!failures.isEmpty()) {
            throw new AttachmentException(Kind.INTERNAL, "garbage collection released " + released.size()
                    + " attachment(s) but could not detach " + String.join("; ", failures));
        }
        return released;
    }

    /** An attachment recorded without a network (before they were kept) is in whichever one asks. */
    private static boolean inNetwork(Attachment a, String network) {
        return network.isEmpty() || a.network().isEmpty() || a.network().equals(network);
    }

    /** How many attachments are recorded (running or not). */
    public synchronized int count() {
        try {
            return store.attachments().size();
        } catch (IOException e) {
            log.error("counting attachments: {}", e.getMessage());
            return tunnels.size();
        }
    }

    // ---- external clients ----

    /** An address for an external client, durable and idempotent per name: CIDRs, /32 (and /128). */
    public synchronized List<String> allocateClientAddress(String clientName) throws AttachmentException {
        ensureOpen();
        validateClientName(clientName);
        try {
            OptionalInt slot = store.allocate(AttachmentStore.clientOwner(clientName));
            if (slot.isEmpty()) {
                throw new AttachmentException(Kind.EXHAUSTED, "no free address in " + network.subnetV4());
            }
            return prefixes(slot.getAsInt()).stream().map(Prefix::toString).toList();
        } catch (IOException e) {
            throw new AttachmentException(Kind.INTERNAL, e.getMessage(), e);
        }
    }

    /** Releases a client's address (nothing when it has none, or when closed). */
    public synchronized void releaseClientAddress(String clientName) {
        if (closed || clientName.isEmpty()) {
            return;
        }
        try {
            store.release(AttachmentStore.clientOwner(clientName));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A container's peer on wg0, with wg0's side of it: {@code endpoint} is empty until the container's device has
     * sent through the hop, {@code lastHandshakeEpochNanos} 0 until the first handshake.
     */
    public record ContainerPeer(String containerId, Key publicKey, Optional<Endpoint> endpoint,
            List<Prefix> allowedIps, long lastHandshakeEpochNanos, long rxBytes, long txBytes) {}

    /** The containers' peers on wg0, for ListPeers. */
    public synchronized List<ContainerPeer> peers() {
        List<ContainerPeer> all = new ArrayList<>();
        for (ContainerTunnel t : tunnels.values()) {
            Peer p = t.hubPeer();
            if (p == null) {
                continue;
            }
            all.add(new ContainerPeer(t.attachment.containerId(), t.publicKey, Optional.ofNullable(p.endpoint()),
                    p.allowedIps(), p.lastHandshakeEpochNanos(), p.rxBytes(), p.txBytes()));
        }
        return all;
    }

    // ---- keys ----

    /** A rotated key's public halves. */
    public record KeyChange(Key previous, Key next) {}

    /**
     * Gives the container interface's tunnel a new key, stored before it is used (a crash from then on restarts
     * the tunnel with it); the connections in the container carry on over the new session.
     *
     * @throws NoSuchElementException when no tunnel of this node-manager is {@code id}'s {@code ifname}
     */
    public synchronized KeyChange rotateKey(String id, String ifname) throws IOException {
        ContainerTunnel t = tunnels.get(AttachmentStore.containerOwner(id, ifname));
        if (t == null || closed) {
            throw new NoSuchElementException("no attachment " + id + "/" + ifname + " on this node");
        }
        Attachment rotated = t.attachment.withPrivateKey(X25519.generatePrivateKey().toBase64());
        store.save(rotated);
        ContainerTunnel next = t.rotate(rotated);
        tunnels.put(rotated.owner(), next);
        log.info("{}/{}: new key {} (was {})", id, ifname, next.publicKey.shortForm(), t.publicKey.shortForm());
        return new KeyChange(t.publicKey, next.publicKey);
    }

    /** wg0's key changed: every container's device follows it, each starting its new handshake at once. */
    public synchronized void hubKeyChanged() {
        tunnels.values().forEach(ContainerTunnel::followHub);
    }

    // ---- shutting down ----

    /**
     * Stops every tunnel. {@code removeTunnels = false} leaves the containers' persistent interfaces (and their
     * records) for the next start; {@code true} detaches everything.
     */
    public synchronized void close(boolean removeTunnels) {
        if (closed) {
            return;
        }
        closed = true;
        for (ContainerTunnel t : List.copyOf(tunnels.values())) {
            try {
                if (removeTunnels) {
                    tearDown(t.attachment.containerId(), t.attachment.ifname());
                } else {
                    t.close();
                }
            } catch (IOException | RuntimeException e) {
                log.warn("{}: closing its tunnel: {}", t.attachment, e.getMessage());
            }
        }
        tunnels.clear();
        poller.close();
        store.close();
    }

    @Override
    public void close() {
        close(false);
    }

    // ---- helpers ----

    /** The container's /32 (and /128): what wg0 accepts from it and routes to it. */
    private List<Prefix> prefixes(int slot) {
        List<Prefix> p = new ArrayList<>();
        p.add(new Prefix(network.addressV4(slot), 32));
        if (network.subnetV6() != null) {
            p.add(new Prefix(network.addressV6(slot), 128));
        }
        return p;
    }

    private Addressing addressing(int slot) {
        List<String> addresses = new ArrayList<>();
        List<InetAddress> gateways = new ArrayList<>();
        addresses.add(InetAddresses.format(network.addressV4(slot)) + "/" + network.subnetV4().bits());
        gateways.add(network.gatewayV4());
        if (network.subnetV6() != null) {
            addresses.add(InetAddresses.format(network.addressV6(slot)) + "/" + network.subnetV6().bits());
            gateways.add(network.gatewayV6());
        }
        return new Addressing(List.copyOf(addresses), List.copyOf(gateways));
    }

    private Attached attached(ContainerTunnel t) {
        Attachment a = t.attachment;
        Addressing addressing = addressing(a.slot());
        return new Attached(a.ifname(), a.netns(), a.mtu(), t.publicKey, addressing.addresses(),
                addressing.gateways());
    }

    private void ensureOpen() throws AttachmentException {
        if (closed) {
            throw new AttachmentException(Kind.UNAVAILABLE, "node-manager is shutting down");
        }
    }

    /** The plugin's rules, from api's {@link Names}: every client of the node API is held to what CNI allows. */
    private static void validateId(String id) throws AttachmentException {
        String problem = Names.containerIdProblem(id);
        if (problem != null) {
            throw invalid("container_id: " + problem);
        }
    }

    private static void validateIfname(String ifname) throws AttachmentException {
        String problem = Names.interfaceNameProblem(ifname);
        if (problem != null) {
            throw invalid("ifname: " + problem);
        }
    }

    private static void validateClientName(String name) throws AttachmentException {
        if (name.isEmpty() || name.length() > 256 || name.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw invalid("client_name: empty, too long or with control characters");
        }
    }

    private static AttachmentException invalid(String message) {
        return new AttachmentException(Kind.INVALID, message);
    }

    private static AttachmentException wrongState(String message) {
        return new AttachmentException(Kind.WRONG_STATE, message);
    }
}
