package io.wgcni.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.wgcni.api.cluster.v1.Peer;
import io.wgcni.api.cluster.v1.WatchPeersResponse;
import io.wgcni.api.cluster.v1.WatchPeersResponse.Kind;
import io.wgcni.cluster.auth.AuthInterceptor;
import io.wgcni.cluster.store.Store;
import io.wgcni.cluster.store.Store.Event;
import io.wgcni.cluster.store.Store.KeyValue;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams peer changes to WatchPeers callers.
 *
 * <p>A new watcher is registered first, so that it queues every change published from then on, and only then
 * reads its start (a snapshot, or the history after since_revision) from the store. Queued changes at or below
 * the revision of that read are dropped: no gap, no duplicate.
 *
 * <p>Each watcher has a bounded queue, drained on a shared executor as fast as its HTTP/2 flow control allows.
 * The store's writer only appends to queues, so a slow watcher holds up neither the writer nor the others.
 * A watcher that falls more than queueLimit (default {@value #QUEUE_LIMIT}) changes behind is closed with
 * RESOURCE_EXHAUSTED, and its queue dropped; it
 * watches again with since_revision set to the last revision it saw and resumes from the history (or gets a
 * snapshot).
 */
public final class WatchHub implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WatchHub.class);
    static final String PEERS = "peers/";
    public static final int QUEUE_LIMIT = 4096;

    private final Store store;
    private final Executor executor;
    private final int queueLimit;
    private final Set<Watcher> watchers = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    public WatchHub(Store store, Executor executor, int queueLimit) {
        this.store = store;
        this.executor = executor;
        this.queueLimit = queueLimit;
        store.listen(this::publish);
    }

    public int size() {
        return watchers.size();
    }

    /**
     * Streams to out; serial is the hex serial of the caller's certificate (null for none), whose revocation
     * ends the stream.
     */
    public void watch(long sinceRevision, String serial, ServerCallStreamObserver<WatchPeersResponse> out) {
        Watcher w = new Watcher(out, serial);
        out.setOnCancelHandler(() -> watchers.remove(w));
        out.setOnReadyHandler(w::schedule);
        watchers.add(w);
        if (closed) {
            w.fail(Status.UNAVAILABLE.withDescription("cluster-manager is shutting down"));
            return;
        }
        List<WatchPeersResponse> start = new ArrayList<>();
        long floor;
        try {
            Optional<Store.History> history =
                    sinceRevision > 0 ? store.history(sinceRevision, PEERS) : Optional.empty();
            if (history.isPresent()) {
                history.get().events().forEach(e -> start.add(message(e)));
                floor = history.get().revision();
            } else {
                Store.Range range = store.range(PEERS);
                WatchPeersResponse.Builder snapshot = WatchPeersResponse.newBuilder().setKind(Kind.SNAPSHOT)
                        .setRevision(range.revision());
                range.kvs().forEach(kv -> snapshot.addPeers(peer(kv)));
                start.add(snapshot.build());
                floor = range.revision();
            }
        } catch (RuntimeException e) {
            watchers.remove(w);
            throw e;
        }
        w.start(start, floor);
    }

    static Peer peer(KeyValue kv) {
        try {
            return Peer.parseFrom(kv.value()).toBuilder().setRevision(kv.modRevision()).build();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("stored peer " + kv.key() + " is corrupt", e);
        }
    }

    private static WatchPeersResponse message(Event e) {
        WatchPeersResponse.Builder b = WatchPeersResponse.newBuilder().setRevision(e.revision());
        if (e.isDelete()) {
            return b.setKind(Kind.DELETE)
                    .addPeers(Peer.newBuilder().setNodeName(e.key().substring(PEERS.length()))
                            .setRevision(e.revision()))
                    .build();
        }
        return b.setKind(Kind.PUT).addPeers(peer(new KeyValue(e.key(), e.value(), e.revision()))).build();
    }

    /** Runs on the store's writer thread: converts once, then only appends to each watcher's queue. */
    private void publish(List<Event> events) {
        List<WatchPeersResponse> messages = new ArrayList<>();
        for (Event e : events) {
            if (e.key().startsWith(PEERS)) {
                messages.add(message(e));
            } else if (e.key().startsWith(AuthInterceptor.REVOKED) && !e.isDelete()) {
                revoked(e.key().substring(AuthInterceptor.REVOKED.length()));
            }
        }
        if (!messages.isEmpty()) {
            for (Watcher w : watchers) {
                w.offer(messages);
            }
        }
    }

    /** A removed node must stop learning the cluster's changes at once, not at its next reconnect. */
    private void revoked(String serial) {
        for (Watcher w : watchers) {
            if (serial.equals(w.serial)) {
                log.info("watcher closed: its certificate serial={} was revoked", serial);
                w.fail(Status.UNAUTHENTICATED
                        .withDescription("this certificate has been revoked (the node was removed)"));
            }
        }
    }

    /** Ends every stream with UNAVAILABLE, so that clients reconnect (to this server once restarted, or another). */
    @Override
    public void close() {
        closed = true;
        for (Watcher w : watchers) {
            w.fail(Status.UNAVAILABLE.withDescription("cluster-manager is shutting down"));
        }
    }

    private final class Watcher {
        private final ServerCallStreamObserver<WatchPeersResponse> out;
        private final String serial;
        private final ArrayDeque<WatchPeersResponse> queue = new ArrayDeque<>();
        private final AtomicBoolean scheduled = new AtomicBoolean();
        private boolean started;
        private boolean done;
        private long floor;

        Watcher(ServerCallStreamObserver<WatchPeersResponse> out, String serial) {
            this.out = out;
            this.serial = serial;
        }

        synchronized void start(List<WatchPeersResponse> initial, long floor) {
            this.floor = floor;
            queue.removeIf(m -> m.getRevision() <= floor);
            for (int i = initial.size() - 1; i >= 0; i--) {
                queue.addFirst(initial.get(i));
            }
            started = true;
            schedule();
        }

        synchronized void offer(List<WatchPeersResponse> messages) {
            if (done) {
                return;
            }
            for (WatchPeersResponse m : messages) {
                if (!started || m.getRevision() > floor) {
                    queue.add(m);
                }
            }
            if (queue.size() > queueLimit) {
                log.warn("watcher closed: more than {} changes behind", queueLimit);
                fail(Status.RESOURCE_EXHAUSTED.withDescription("this watcher fell more than " + queueLimit
                        + " changes behind; watch again with since_revision"));
                return;
            }
            schedule();
        }

        void schedule() {
            if (scheduled.compareAndSet(false, true)) {
                executor.execute(this::drain);
            }
        }

        private void drain() {
            scheduled.set(false);
            synchronized (this) {
                if (!started || done) {
                    return;
                }
                try {
                    while (!queue.isEmpty() && out.isReady()) {
                        out.onNext(queue.poll());
                    }
                } catch (RuntimeException e) {
                    // Cancelled while sending: the cancel handler removes the watcher.
                    done = true;
                    watchers.remove(this);
                }
            }
        }

        synchronized void fail(Status status) {
            if (done) {
                return;
            }
            done = true;
            queue.clear();
            watchers.remove(this);
            try {
                out.onError(status.asRuntimeException());
            } catch (RuntimeException ignored) {
                // Already cancelled by the client.
            }
        }
    }
}
