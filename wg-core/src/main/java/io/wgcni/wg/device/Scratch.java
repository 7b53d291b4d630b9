package io.wgcni.wg.device;

import java.util.ArrayDeque;
import java.util.function.Supplier;

/**
 * Per-thread working memory (packet buffers, a cipher, bookkeeping arrays) for the data path, which runs on
 * whatever thread delivered the packets: a device's own reader, a poller shared by many devices, or, for an
 * in-process hop, the thread of the device on the other side, which may come back into this device before it
 * returns. So a thread takes a fresh object for each nested use and gives it back; in steady state that is a pop
 * and a push on a thread-local stack, and a thread holds as many as its deepest nesting.
 */
final class Scratch<T> {
    private final ThreadLocal<ArrayDeque<T>> free = ThreadLocal.withInitial(ArrayDeque::new);
    private final Supplier<T> factory;

    Scratch(Supplier<T> factory) {
        this.factory = factory;
    }

    T take() {
        T t = free.get().pollFirst();
        return t != null ? t : factory.get();
    }

    void give(T t) {
        free.get().addFirst(t);
    }
}
