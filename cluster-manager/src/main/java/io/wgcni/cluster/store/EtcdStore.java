package io.wgcni.cluster.store;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import io.grpc.netty.GrpcSslContexts;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store on an etcd cluster (v3 API, through jetcd), shared by any number of cluster-manager replicas.
 *
 * <p>Every key lives under the configured prefix ({@value #DEFAULT_PREFIX} by default). Revisions are etcd's own
 * (global to the etcd cluster, so they have gaps from this store's point of view), a transaction is one etcd
 * {@code Txn} with a mod-revision compare per {@link Compare}, and the listeners are fed from one etcd watch on
 * the whole prefix: they see the changes every replica makes, in revision order. A commit's future completes
 * only once etcd has committed it (a majority of members has it on disk) and this store's watch has delivered
 * it to the listeners, which keeps {@link Store}'s contract: a caller that sees its commit acknowledged finds its
 * change in every view built from the listeners.
 *
 * <p>{@link #history} reads etcd's own history (a watch from a past revision), so it reaches as far back as
 * etcd's compaction allows, whichever replica wrote the changes. When fewer than a majority of members answer,
 * commits fail with a {@link StoreException} after {@link #COMMIT_TIMEOUT}, and reads fall back to what the
 * member that answers has (serializable reads), which may be stale.
 */
public final class EtcdStore implements Store {
    private static final Logger log = LoggerFactory.getLogger(EtcdStore.class);
    public static final String DEFAULT_PREFIX = "/wgcni/";
    /** The replicas register here, each under a lease that expires when it stops renewing. */
    public static final String REPLICAS = "replicas/";
    static final Duration COMMIT_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(3);
    private static final Duration DELIVERY_TIMEOUT = Duration.ofSeconds(10);
    private static final long LEASE_TTL_SECONDS = 10;

    /**
     * Where and how to reach etcd. endpoints: host:port each; prefix: the keys' prefix; tls: client TLS (CA,
     * optional certificate and key); user/password: etcd authentication (both or neither).
     */
    public record Config(List<String> endpoints, String prefix, boolean tls, Path caFile, Path certFile,
            Path keyFile, String user, String password) {

        /**
         * Parses {@code etcd://h1:2379,h2:2379[/prefix/]} (plain) or {@code etcds://...} (TLS); the prefix
         * defaults to {@value #DEFAULT_PREFIX} and always ends with a slash.
         */
        public static Config parse(String url) {
            String scheme = url.startsWith("etcds://") ? "etcds://" : url.startsWith("etcd://") ? "etcd://" : null;
            if (scheme == null) {
                throw new IllegalArgumentException("--store: '" + url + "' is neither sqlite nor"
                        + " etcd://HOST:PORT[,HOST:PORT...][/PREFIX/] (etcds:// for TLS)");
            }
            String rest = url.substring(scheme.length());
            int slash = rest.indexOf('/');
            String hosts = slash < 0 ? rest : rest.substring(0, slash);
            String prefix = slash < 0 || slash == rest.length() - 1 ? DEFAULT_PREFIX : rest.substring(slash);
            if (!prefix.endsWith("/")) {
                prefix += "/";
            }
            List<String> endpoints = new ArrayList<>();
            for (String h : hosts.split(",")) {
                if (!h.matches("(\\[[0-9a-fA-F:.]+]|[A-Za-z0-9.-]+):\\d{1,5}")) {
                    throw new IllegalArgumentException("--store: etcd endpoint '" + h + "' is not HOST:PORT");
                }
                endpoints.add(h);
            }
            return new Config(List.copyOf(endpoints), prefix, scheme.equals("etcds://"), null, null, null, null, null);
        }

        public Config withTls(Path ca, Path cert, Path key) {
            return new Config(endpoints, prefix, tls || ca != null || cert != null, ca, cert, key, user, password);
        }

        public Config withAuth(String user, String password) {
            return new Config(endpoints, prefix, tls, caFile, certFile, keyFile, user, password);
        }

        /** The URL without credentials, for messages. */
        public String describe() {
            return (tls ? "etcds://" : "etcd://") + String.join(",", endpoints) + prefix;
        }

        @Override
        public String toString() {
            return describe();
        }
    }

    private final Config config;
    private final Client client;
    private final KV kv;
    private final ByteSequence prefix;
    private final ExecutorService callbacks = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("etcd-store-", 0).factory());
    /** Delivers watch events to the listeners one response at a time, in order: the "writer thread". */
    private final ExecutorService delivery = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("etcd-watch").daemon().factory());
    private final List<Consumer<List<Event>>> listeners = new CopyOnWriteArrayList<>();
    private final PriorityQueue<Waiter> waiters = new PriorityQueue<>((a, b) -> Long.compare(a.revision, b.revision));
    private String replicaKey;
    private long leaseId;
    private volatile long delivered;
    private volatile long quorumLostAt;
    private volatile Watch.Watcher watcher;
    private volatile boolean closed;

    private record Waiter(long revision, Runnable action) {}

    private EtcdStore(Config config, Client client) {
        this.config = config;
        this.client = client;
        this.kv = client.getKVClient();
        this.prefix = bytes(config.prefix());
    }

    /**
     * Registers this replica under {@value #REPLICAS} (a lease that expires 10 s after the process stops renewing
     * it) and starts the watch that feeds the listeners. Until then commits are acknowledged as soon as etcd
     * has them (there is nobody to tell), so that a caller can check and claim the store before it starts.
     */
    public synchronized void start(String replicaName, String replicaInfo) {
        if (watcher != null) {
            throw new IllegalStateException("already started");
        }
        try {
            leaseId = client.getLeaseClient().grant(LEASE_TTL_SECONDS)
                    .get(COMMIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).getID();
            client.getLeaseClient().keepAlive(leaseId, new io.grpc.stub.StreamObserver<>() {
                @Override
                public void onNext(io.etcd.jetcd.lease.LeaseKeepAliveResponse value) {}

                @Override
                public void onError(Throwable t) {
                    if (!closed) {
                        log.warn("etcd lease keep-alive failed: {}", t.toString());
                    }
                }

                @Override
                public void onCompleted() {}
            });
            replicaKey = REPLICAS + replicaName;
            // A write of our own marks where this replica starts: the watch starts right after it, and the
            // revision it gets is one the watch (and any history read) is sure to see.
            delivered = announce(replicaInfo);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while opening " + config, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new StoreException("cannot get a lease from " + config + ": " + cause(e), e);
        }
        watch(delivered + 1);
        log.info("store started etcd={} revision={} replica={}", config, delivered, replicaName);
    }

    /** Says what this replica is (its address, say) under its replicas/ key; returns the revision of the write. */
    public long announce(String replicaInfo) {
        try {
            return kv.put(key(replicaKey), bytes(replicaInfo), PutOption.builder().withLeaseId(leaseId).build())
                    .get(COMMIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).getHeader().getRevision();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while writing to " + config, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new StoreException("cannot write to " + config + ": " + cause(e), e);
        }
    }

    /**
     * Connects, reporting every endpoint that does not answer, and retrying (with backoff, up to wait) while none
     * does. Call {@link #start} before relying on listeners.
     */
    public static EtcdStore open(Config config, Duration wait) {
        Client client = connect(config);
        try {
            awaitEndpoints(config, client, wait);
            return new EtcdStore(config, client);
        } catch (RuntimeException e) {
            client.close();
            throw e;
        }
    }

    private static Client connect(Config config) {
        List<URI> uris = config.endpoints().stream()
                .map(e -> URI.create((config.tls() ? "https://" : "http://") + e)).toList();
        ClientBuilder b = Client.builder().endpoints(uris.toArray(URI[]::new))
                .waitForReady(false)
                .connectTimeout(Duration.ofSeconds(2))
                .keepaliveTime(Duration.ofSeconds(10))
                .keepaliveTimeout(Duration.ofSeconds(5))
                .retryMaxDuration(Duration.ofSeconds(3));
        if (config.tls()) {
            try {
                var ssl = GrpcSslContexts.forClient();
                if (config.caFile() != null) {
                    ssl.trustManager(config.caFile().toFile());
                }
                if (config.certFile() != null) {
                    ssl.keyManager(config.certFile().toFile(), config.keyFile().toFile());
                }
                b.sslContext(ssl.build());
            } catch (SSLException | RuntimeException e) {
                throw new StoreException("cannot set up TLS to " + config + ": " + e.getMessage(), e);
            }
        }
        if (config.user() != null) {
            b.user(bytes(config.user())).password(bytes(config.password()));
        }
        return b.build();
    }

    /** Probes each endpoint; says which do not answer; waits (backing off) while none does. */
    private static void awaitEndpoints(Config config, Client client, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        long backoff = 500;
        while (true) {
            List<String> down = new ArrayList<>();
            for (String endpoint : config.endpoints()) {
                try {
                    client.getMaintenanceClient().statusMember((config.tls() ? "https://" : "http://") + endpoint)
                            .get(2, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new StoreException("interrupted while connecting to " + config, e);
                } catch (ExecutionException | TimeoutException | RuntimeException e) {
                    down.add(endpoint + " (" + cause(e) + ")");
                }
            }
            if (down.size() < config.endpoints().size()) {
                if (!down.isEmpty()) {
                    log.warn("etcd endpoint(s) not answering, carrying on with the others: {}",
                            String.join(", ", down));
                }
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new StoreException("no etcd endpoint of " + config + " answers: " + String.join(", ", down)
                        + "; start etcd or fix --store", null);
            }
            log.warn("no etcd endpoint answers ({}): retrying in {} ms", String.join(", ", down), backoff);
            try {
                Thread.sleep(backoff);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StoreException("interrupted while connecting to " + config, e);
            }
            backoff = Math.min(backoff * 2, 5_000);
        }
    }

    public Config config() {
        return config;
    }

    // ---- writes

    @Override
    public CompletableFuture<TxnResult> commit(Txn txn) {
        if (closed) {
            return CompletableFuture.failedFuture(new StoreException("the store is closed", null));
        }
        List<Cmp> cmps = new ArrayList<>();
        for (Compare c : txn.compares()) {
            cmps.add(new Cmp(key(c.key()), Cmp.Op.EQUAL, CmpTarget.modRevision(c.modRevision())));
        }
        List<io.etcd.jetcd.op.Op> ops = new ArrayList<>();
        boolean puts = false;
        for (Op op : txn.ops()) {
            switch (op) {
                case Put p -> {
                    ops.add(io.etcd.jetcd.op.Op.put(key(p.key()), ByteSequence.from(p.value()), PutOption.DEFAULT));
                    puts = true;
                }
                case Delete d -> ops.add(io.etcd.jetcd.op.Op.delete(key(d.key()), DeleteOption.DEFAULT));
            }
        }
        boolean anyPut = puts;
        CompletableFuture<TxnResult> result = new CompletableFuture<>();
        kv.txn().If(cmps.toArray(Cmp[]::new)).Then(ops.toArray(io.etcd.jetcd.op.Op[]::new)).commit()
                .orTimeout(COMMIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .whenCompleteAsync((r, e) -> {
                    if (e != null) {
                        noteFailure(e);
                        result.completeExceptionally(new StoreException("etcd did not commit (" + cause(e)
                                + "); is a majority of the members of " + config + " up?", e));
                        return;
                    }
                    TxnResult done = new TxnResult(r.isSucceeded(), r.getHeader().getRevision());
                    if (r.isSucceeded() && changed(anyPut, r) && watcher != null) {
                        // Acknowledge once the listeners have it, as the embedded store does.
                        afterDelivery(done.revision(), () -> result.complete(done), result);
                    } else {
                        result.complete(done);
                    }
                }, callbacks);
        return result;
    }

    private static boolean changed(boolean anyPut, TxnResponse r) {
        return anyPut || r.getDeleteResponses().stream().anyMatch(d -> d.getDeleted() > 0);
    }

    private void afterDelivery(long revision, Runnable action, CompletableFuture<?> onTimeout) {
        synchronized (waiters) {
            if (delivered < revision) {
                waiters.add(new Waiter(revision, action));
                CompletableFuture.delayedExecutor(DELIVERY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS, callbacks)
                        .execute(() -> onTimeout.completeExceptionally(new StoreException("etcd committed revision "
                                + revision + " but its watch did not deliver it within " + DELIVERY_TIMEOUT.toSeconds()
                                + " s", null)));
                return;
            }
        }
        action.run();
    }

    // ---- the watch

    private void watch(long fromRevision) {
        WatchOption option = WatchOption.builder().isPrefix(true).withRevision(fromRevision).build();
        watcher = client.getWatchClient().watch(prefix, option, new Watch.Listener() {
            @Override
            public void onNext(WatchResponse response) {
                List<WatchEvent> events = response.getEvents();
                if (!events.isEmpty()) {
                    delivery.execute(() -> deliver(events));
                }
            }

            @Override
            public void onError(Throwable t) {
                if (closed) {
                    return;
                }
                if (t instanceof CompactedException c || t.getCause() instanceof CompactedException) {
                    log.error("etcd compacted past this replica's watch ({}): resuming at the oldest revision kept;"
                            + " changes in between are read from the keys again by the next conflict", t.toString());
                }
                log.warn("etcd watch interrupted ({}); it resumes after revision {}", cause(t), delivered);
                delivery.execute(() -> rewatchIfClosed());
            }

            @Override
            public void onCompleted() {
                if (!closed) {
                    delivery.execute(() -> rewatchIfClosed());
                }
            }
        });
    }

    /** jetcd resumes a watch by itself after transient errors; when it gave up, start a new one. */
    private void rewatchIfClosed() {
        Watch.Watcher w = watcher;
        if (!closed && w != null && w.isClosed()) {
            CompletableFuture.delayedExecutor(500, TimeUnit.MILLISECONDS, delivery).execute(() -> {
                if (!closed && watcher == w) {
                    watch(delivered + 1);
                }
            });
        }
    }

    /** Runs on the delivery thread. */
    private void deliver(List<WatchEvent> watched) {
        List<Event> events = new ArrayList<>(watched.size());
        long max = delivered;
        for (WatchEvent w : watched) {
            long rev = w.getKeyValue().getModRevision();
            if (rev <= delivered) {
                continue;   // a resumed watch may repeat what was delivered
            }
            String k = unprefixed(w.getKeyValue().getKey());
            events.add(w.getEventType() == WatchEvent.EventType.DELETE ? new Event(rev, k, null)
                    : new Event(rev, k, w.getKeyValue().getValue().getBytes()));
            max = Math.max(max, rev);
        }
        if (events.isEmpty()) {
            return;
        }
        List<Event> published = List.copyOf(events);
        for (Consumer<List<Event>> listener : listeners) {
            try {
                listener.accept(published);
            } catch (RuntimeException e) {
                log.error("store listener failed", e);
            }
        }
        List<Runnable> ready = new ArrayList<>();
        synchronized (waiters) {
            delivered = max;
            while (!waiters.isEmpty() && waiters.peek().revision() <= max) {
                ready.add(waiters.poll().action());
            }
        }
        for (Runnable r : ready) {
            callbacks.execute(r);
        }
    }

    // ---- reads

    @Override
    public Optional<KeyValue> get(String key) {
        GetResponse r = read(key(key), GetOption.builder());
        return r.getKvs().stream().findFirst()
                .map(kv -> new KeyValue(key, kv.getValue().getBytes(), kv.getModRevision()));
    }

    @Override
    public Range range(String keyPrefix) {
        GetResponse r = read(key(keyPrefix), GetOption.builder().isPrefix(true)
                .withSortField(GetOption.SortTarget.KEY).withSortOrder(GetOption.SortOrder.ASCEND));
        List<KeyValue> kvs = r.getKvs().stream()
                .map(kv -> new KeyValue(unprefixed(kv.getKey()), kv.getValue().getBytes(), kv.getModRevision()))
                .toList();
        return new Range(kvs, r.getHeader().getRevision());
    }

    /**
     * A linearizable read; when the members cannot agree (no majority), what the member that answers has, which
     * may be stale. For a few seconds after such a failure reads go straight to the serializable kind.
     */
    private GetResponse read(ByteSequence key, GetOption.Builder option) {
        boolean quorumLikely = System.nanoTime() - quorumLostAt > Duration.ofSeconds(5).toNanos();
        if (quorumLikely) {
            try {
                return kv.get(key, option.build()).get(READ_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StoreException("interrupted while reading " + config, e);
            } catch (ExecutionException | TimeoutException e) {
                noteFailure(e);
                log.warn("etcd linearizable read failed ({}); reading what one member has", cause(e));
            }
        }
        try {
            return kv.get(key, option.withSerializable(true).build())
                    .get(READ_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while reading " + config, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new StoreException("no member of " + config + " answers a read: " + cause(e), e);
        }
    }

    private void noteFailure(Throwable e) {
        quorumLostAt = System.nanoTime();
    }

    @Override
    public Optional<History> history(long after, String keyPrefix) {
        long until = delivered;
        if (after > until) {
            // A revision seen through another replica that this one's watch has not delivered yet.
            CompletableFuture<Void> caughtUp = new CompletableFuture<>();
            afterDelivery(after, () -> caughtUp.complete(null), caughtUp);
            try {
                caughtUp.get(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.empty();
            } catch (ExecutionException | TimeoutException e) {
                return Optional.empty();
            }
            until = delivered;
        }
        if (after == until) {
            return Optional.of(new History(List.of(), until));
        }
        // Every revision up to `until` that the watch delivered is an event under the prefix: a watch from
        // after + 1 is sure to reach it, and then holds every event in between.
        long end = until;
        CompletableFuture<List<Event>> done = new CompletableFuture<>();
        List<Event> events = new ArrayList<>();
        WatchOption option = WatchOption.builder().isPrefix(true).withRevision(after + 1).build();
        Watch.Watcher w = client.getWatchClient().watch(prefix, option, new Watch.Listener() {
            @Override
            public void onNext(WatchResponse response) {
                synchronized (events) {
                    // One revision may hold several events (a registration writes its peer and its key claim in
                    // one transaction), and etcd sends a revision's events in one response: take all of them
                    // before calling the history complete at `end`.
                    boolean reached = false;
                    for (WatchEvent e : response.getEvents()) {
                        long rev = e.getKeyValue().getModRevision();
                        if (rev > end) {
                            reached = true;
                            break;
                        }
                        String k = unprefixed(e.getKeyValue().getKey());
                        if (k.startsWith(keyPrefix)) {
                            events.add(e.getEventType() == WatchEvent.EventType.DELETE ? new Event(rev, k, null)
                                    : new Event(rev, k, e.getKeyValue().getValue().getBytes()));
                        }
                        reached |= rev == end;
                    }
                    if (reached) {
                        done.complete(List.copyOf(events));
                    }
                }
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                done.completeExceptionally(new IOException("the history watch ended early"));
            }
        });
        try {
            return Optional.of(new History(done.get(READ_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), end));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } catch (ExecutionException | TimeoutException e) {
            // Compacted away, or etcd too slow: the caller starts from a snapshot instead.
            log.info("history after revision {} not available ({}): a snapshot instead", after, cause(e));
            return Optional.empty();
        } finally {
            w.close();
        }
    }

    @Override
    public void listen(Consumer<List<Event>> listener) {
        listeners.add(listener);
    }

    /** The last revision the watch delivered to the listeners. */
    @Override
    public long revision() {
        return delivered;
    }

    /** The replicas registered under {@value #REPLICAS}: name and what each said about itself. */
    public List<KeyValue> replicas() {
        return range(REPLICAS).kvs();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Watch.Watcher w = watcher;
        if (w != null) {
            w.close();
        }
        try {
            if (replicaKey != null) {
                client.getLeaseClient().revoke(leaseId).get(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            log.warn("could not revoke this replica's etcd lease ({}); it expires in {} s", cause(e),
                    LEASE_TTL_SECONDS);
        }
        delivery.shutdown();
        try {
            delivery.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        client.close();
        callbacks.shutdown();
        log.info("store closed etcd={} revision={}", config, delivered);
    }

    // ---- keys

    private ByteSequence key(String k) {
        return bytes(config.prefix() + k);
    }

    private String unprefixed(ByteSequence k) {
        String s = k.toString(StandardCharsets.UTF_8);
        return s.substring(config.prefix().length());
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    /** Reads a password file: its first line, without the newline. */
    public static String readPassword(Path file) throws IOException {
        String s = Files.readString(file);
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static String cause(Throwable e) {
        Throwable c = e;
        while ((c instanceof ExecutionException || c instanceof java.util.concurrent.CompletionException)
                && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof TimeoutException) {
            return "no answer in time";
        }
        return c.getMessage() != null ? c.getMessage() : c.toString();
    }
}
