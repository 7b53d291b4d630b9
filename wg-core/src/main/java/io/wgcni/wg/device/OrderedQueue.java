package io.wgcni.wg.device;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A peer's batches in the order they were produced. Crypto workers finish batches in any order; whichever
 * worker finishes the batch at the head delivers it, and every finished batch behind it, so a peer's packets
 * leave in order without a thread of their own. One worker drains at a time.
 */
final class OrderedQueue {
    private final Batch[] ring;
    private int head;
    private int size;
    private final AtomicBoolean draining = new AtomicBoolean();

    OrderedQueue(int capacity) {
        ring = new Batch[capacity];
    }

    synchronized boolean offer(Batch b) {
        if (size == ring.length) {
            return false;
        }
        ring[(head + size) % ring.length] = b;
        size++;
        return true;
    }

    private synchronized Batch pollDone() {
        if (size == 0 || !ring[head].done) {
            return null;
        }
        Batch b = ring[head];
        ring[head] = null;
        head = (head + 1) % ring.length;
        size--;
        return b;
    }

    private synchronized boolean headDone() {
        return size > 0 && ring[head].done;
    }

    /** Hands every finished batch at the head to {@code deliver}, in order. */
    void drain(Consumer<Batch> deliver) {
        while (draining.compareAndSet(false, true)) {
            try {
                for (Batch b; (b = pollDone()) != null; ) {
                    deliver.accept(b);
                }
            } finally {
                draining.set(false);
            }
            // A worker may have finished the head after our last look and found us draining: look again.
            if (!headDone()) {
                return;
            }
        }
    }

    /**
     * Empties the queue (a stopping peer). Finished batches go to {@code discard} for recycling; a batch still
     * in a worker's hands is marked dropped and left to the garbage collector.
     */
    synchronized void clear(Consumer<Batch> discard) {
        while (size > 0) {
            Batch b = ring[head];
            ring[head] = null;
            head = (head + 1) % ring.length;
            size--;
            b.dropped = true;
            if (b.done) {
                discard.accept(b);
            }
        }
    }
}
