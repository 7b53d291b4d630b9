package io.wgcni.wg.device;

import java.util.concurrent.ArrayBlockingQueue;

/** Recycles batches (and so their packet buffers); one lock operation per batch, none per packet. */
final class BatchPool {
    private final ArrayBlockingQueue<Batch> free;
    private final int batchSize;

    BatchPool(int batchSize, int retained) {
        this.batchSize = batchSize;
        this.free = new ArrayBlockingQueue<>(retained);
    }

    Batch take() {
        Batch b = free.poll();
        return b != null ? b : new Batch(batchSize);
    }

    void give(Batch b) {
        b.reset();
        free.offer(b);
    }
}
