package io.wgcni.cluster.ipam;

import io.wgcni.cluster.store.Store;
import io.wgcni.cluster.store.Store.Compare;
import io.wgcni.cluster.store.Store.Event;
import io.wgcni.cluster.store.Store.KeyValue;
import io.wgcni.cluster.store.Store.Op;
import io.wgcni.cluster.store.StoreException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands out one subnet per node, durably, and takes it back when the node is removed.
 *
 * <p>In the store: {@code ipam/config} (the settings), {@code ipam/node/<name>} = index,
 * {@code ipam/index/<index>} = name (the pair makes "nobody holds this subnet" a compare the store can check),
 * and {@code ipam/released/<index>} for subnets given back. A new node gets the lowest never-used subnet while
 * there is one, and only then the lowest released one, so that routes to a removed node that some peer still
 * holds do not point at a newcomer.
 *
 * <p>The choice is made in memory under a lock, with the subnets of allocations in flight reserved, so that
 * concurrent allocations do not collide and can share one group commit. The store's compares still guard every
 * allocation (another writer, a later etcd store with replicas): a conflict reloads the view and retries.
 */
public final class Ipam {
    private static final Logger log = LoggerFactory.getLogger(Ipam.class);
    static final String CONFIG = "ipam/config";
    static final String NODE = "ipam/node/";
    static final String INDEX = "ipam/index/";
    static final String RELEASED = "ipam/released/";
    private static final int RETRIES = 5;

    /** A node's subnets; modRevision is the revision of its {@code ipam/node/} key, for compares. */
    public record Allocation(String node, int index, Cidr v4, Cidr v6, long modRevision) {
        public String key() {
            return NODE + node;
        }
    }

    private final Store store;
    private final IpamSettings settings;
    private final Map<String, Allocation> byNode = new HashMap<>();
    private final BitSet allocated = new BitSet();
    private final BitSet released = new BitSet();
    private final BitSet reserved = new BitSet();
    private final Map<String, CompletableFuture<Allocation>> inFlight = new HashMap<>();
    private final AtomicLong allocations = new AtomicLong();

    public Ipam(Store store, IpamSettings settings) {
        this.store = store;
        this.settings = settings;
        store.listen(this::apply);
        reload();
    }

    /**
     * The stored settings; on the first start, the requested ones (null fields take the defaults), stored.
     * Throws IllegalStateException naming the flags when a setting was given that differs from the stored one.
     */
    public static IpamSettings settle(Store store, String v4, Integer v4Length, String v6, Integer v6Length) {
        Optional<KeyValue> stored = store.get(CONFIG);
        IpamSettings want = new IpamSettings(
                Cidr.parse(v4 != null ? v4
                        : stored.map(kv -> IpamSettings.decode(kv.value()).v4().toString())
                                .orElse(IpamSettings.DEFAULT_V4)),
                v4Length != null ? v4Length
                        : stored.map(kv -> IpamSettings.decode(kv.value()).v4Length())
                                .orElse(IpamSettings.DEFAULT_V4_LENGTH),
                v6 != null ? (v6.isEmpty() ? null : Cidr.parse(v6))
                        : stored.map(kv -> IpamSettings.decode(kv.value()).v6()).orElse(null),
                v6Length != null ? v6Length
                        : stored.map(kv -> IpamSettings.decode(kv.value()).v6Length())
                                .orElse(IpamSettings.DEFAULT_V6_LENGTH));
        if (stored.isPresent()) {
            IpamSettings have = IpamSettings.decode(stored.get().value());
            List<String> diff = have.differences(want);
            if (!diff.isEmpty()) {
                throw new IllegalStateException("the cluster's address settings are fixed when it is created; this data"
                        + " directory has " + String.join(", ", diff) + ": drop the flags or use another --data-dir");
            }
            return have;
        }
        var result = store.commit(new Store.Txn(List.of(Compare.absent(CONFIG)),
                List.of(new Store.Put(CONFIG, want.encode())))).join();
        if (!result.succeeded()) {
            return settle(store, v4, v4Length, v6, v6Length);
        }
        log.info("cluster created cidr={} node-prefix-length={} cidr-v6={} node-prefix-length-v6={}", want.v4(),
                want.v4Length(), want.v6() == null ? "" : want.v6(), want.v6Length());
        return want;
    }

    public IpamSettings settings() {
        return settings;
    }

    /** The node's allocation: the existing one, or a new one once it is durable. */
    public CompletableFuture<Allocation> allocate(String node) {
        CompletableFuture<Allocation> result = new CompletableFuture<>();
        attempt(node, result, RETRIES);
        return result;
    }

    private void attempt(String node, CompletableFuture<Allocation> result, int triesLeft) {
        int index;
        boolean reuse;
        synchronized (this) {
            Allocation existing = byNode.get(node);
            if (existing != null) {
                result.complete(existing);
                return;
            }
            CompletableFuture<Allocation> running = inFlight.get(node);
            if (running != null) {
                running.whenComplete((a, e) -> {
                    if (e != null) {
                        result.completeExceptionally(e);
                    } else {
                        result.complete(a);
                    }
                });
                return;
            }
            try {
                index = choose();
            } catch (SubnetsExhaustedException e) {
                result.completeExceptionally(e);
                return;
            }
            reuse = released.get(index);
            reserved.set(index);
            inFlight.put(node, result);
        }
        List<Op> ops = new ArrayList<>(List.of(
                new Store.Put(NODE + node, Integer.toString(index).getBytes(StandardCharsets.UTF_8)),
                new Store.Put(indexKey(index), node.getBytes(StandardCharsets.UTF_8))));
        if (reuse) {
            ops.add(new Store.Delete(RELEASED + index));
        }
        store.commit(new Store.Txn(List.of(Compare.absent(NODE + node), Compare.absent(indexKey(index))), ops))
                .whenComplete((r, e) -> {
                    Allocation done;
                    synchronized (this) {
                        reserved.clear(index);
                        inFlight.remove(node);
                        done = byNode.get(node);
                    }
                    if (e != null) {
                        result.completeExceptionally(e);
                    } else if (r.succeeded() && done != null) {
                        allocations.incrementAndGet();
                        log.info("subnet allocated node={} subnet={}{} revision={}", node, done.v4(),
                                done.v6() == null ? "" : " subnet-v6=" + done.v6(), r.revision());
                        result.complete(done);
                    } else if (triesLeft > 0) {
                        reload();
                        attempt(node, result, triesLeft - 1);
                    } else {
                        result.completeExceptionally(
                                new StoreException("allocation kept conflicting with other writers", null));
                    }
                });
    }

    /** The lowest never-used subnet, else the lowest released one. */
    private int choose() {
        int capacity = settings.capacity();
        int i = 0;
        while (true) {
            i = allocated.nextClearBit(i);
            if (i >= capacity) {
                break;
            }
            if (!released.get(i) && !reserved.get(i)) {
                return i;
            }
            i++;
        }
        for (int r = released.nextSetBit(0); r >= 0 && r < capacity; r = released.nextSetBit(r + 1)) {
            if (!reserved.get(r) && !allocated.get(r)) {
                return r;
            }
        }
        throw new SubnetsExhaustedException("no free /" + settings.v4Length() + " subnet left in " + settings.v4()
                + " (" + capacity + " subnets, all allocated); remove nodes that left, or create the cluster with a"
                + " larger --cluster-cidr or a longer --node-prefix-length");
    }

    /** The store key that records the node's subnet. */
    public static String nodeKey(String node) {
        return NODE + node;
    }

    /**
     * The node's allocation. One this view does not have yet is read from the store: with replicas, another
     * may have made it a moment ago, and acknowledged it, before this replica's watch brought it here.
     */
    public Optional<Allocation> get(String node) {
        synchronized (this) {
            Allocation a = byNode.get(node);
            if (a != null) {
                return Optional.of(a);
            }
        }
        return store.get(NODE + node).map(kv -> allocation(node, kv.value(), kv.modRevision()));
    }

    /** The ops that give a node's subnet back, for the caller's transaction (which should compare a.key()). */
    public static List<Op> releaseOps(Allocation a) {
        return List.of(new Store.Delete(NODE + a.node()), new Store.Delete(indexKey(a.index())),
                new Store.Put(RELEASED + a.index(), new byte[0]));
    }

    public synchronized int allocatedCount() {
        return byNode.size();
    }

    /** How many subnets this process has newly allocated. */
    public long allocations() {
        return allocations.get();
    }

    public int capacity() {
        return settings.capacity();
    }

    private static String indexKey(int index) {
        return INDEX + index;
    }

    /** Rebuilds the in-memory view from the store. */
    private synchronized void reload() {
        byNode.clear();
        allocated.clear();
        released.clear();
        for (KeyValue kv : store.range(NODE).kvs()) {
            put(kv.key().substring(NODE.length()), kv.value(), kv.modRevision());
        }
        for (KeyValue kv : store.range(RELEASED).kvs()) {
            released.set(Integer.parseInt(kv.key().substring(RELEASED.length())));
        }
    }

    private void put(String node, byte[] value, long revision) {
        Allocation a = allocation(node, value, revision);
        byNode.put(node, a);
        allocated.set(a.index());
    }

    private Allocation allocation(String node, byte[] value, long revision) {
        int index = Integer.parseInt(new String(value, StandardCharsets.UTF_8));
        return new Allocation(node, index, settings.v4Subnet(index), settings.v6Subnet(index), revision);
    }

    /** Keeps the view current with every committed change (runs on the store's writer thread). */
    private synchronized void apply(List<Event> events) {
        for (Event e : events) {
            if (e.key().startsWith(NODE)) {
                String node = e.key().substring(NODE.length());
                if (e.isDelete()) {
                    Allocation gone = byNode.remove(node);
                    if (gone != null) {
                        allocated.clear(gone.index());
                    }
                } else {
                    put(node, e.value(), e.revision());
                }
            } else if (e.key().startsWith(RELEASED)) {
                int index = Integer.parseInt(e.key().substring(RELEASED.length()));
                released.set(index, !e.isDelete());
            }
        }
    }
}
