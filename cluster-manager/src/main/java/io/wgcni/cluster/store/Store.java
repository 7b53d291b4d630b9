package io.wgcni.cluster.store;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The cluster-manager's durable state: a revisioned key-value store with etcd's shape, so that an etcd-backed
 * store can replace the embedded one. Every successful transaction that changes something gets the next
 * revision; every key remembers the revision that last changed it; the changes are kept as a history that
 * watchers resume from.
 *
 * <p>Writes are compare-and-set transactions: all compares hold, then all ops apply as one revision, or nothing
 * happens. A transaction's future completes only once it is durable.
 */
public interface Store extends AutoCloseable {

    record KeyValue(String key, byte[] value, long modRevision) {}

    /** One key's change. A null value is a deletion. */
    record Event(long revision, String key, byte[] value) {
        public boolean isDelete() {
            return value == null;
        }
    }

    sealed interface Op permits Put, Delete {}

    record Put(String key, byte[] value) implements Op {}

    record Delete(String key) implements Op {}

    /** Holds when key's mod revision equals modRevision; 0 means "the key does not exist". */
    record Compare(String key, long modRevision) {
        public static Compare absent(String key) {
            return new Compare(key, 0);
        }
    }

    record Txn(List<Compare> compares, List<Op> ops) {}

    /** succeeded false: a compare failed and nothing changed. revision: the store's revision after the txn. */
    record TxnResult(boolean succeeded, long revision) {}

    /** Keys under a prefix, read at one revision. */
    record Range(List<KeyValue> kvs, long revision) {}

    /** The events after a revision up to {@code revision}, the store's revision at the time of the read. */
    record History(List<Event> events, long revision) {}

    Optional<KeyValue> get(String key);

    Range range(String prefix);

    /** Applies txn atomically; the future completes after the change is durable (or fails with StoreException). */
    CompletableFuture<TxnResult> commit(Txn txn);

    /**
     * The changes to keys under prefix with a revision above after, in revision order; empty when part of that
     * history has been trimmed (the caller then starts again from a {@link #range}).
     */
    Optional<History> history(long after, String prefix);

    /**
     * Calls listener with the events of every committed transaction, in revision order, once they are durable
     * and before the transaction's future completes. Listeners run on the store's writer thread: keep them short.
     */
    void listen(Consumer<List<Event>> listener);

    /** The revision of the last transaction this store committed. */
    long revision();

    @Override
    void close();
}
