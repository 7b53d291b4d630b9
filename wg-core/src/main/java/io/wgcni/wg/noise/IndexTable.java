package io.wgcni.wg.noise;

import java.security.SecureRandom;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Maps the random 32-bit receiver indexes we hand out to what they stand for: a handshake in flight, then the
 * session derived from it. Random so an observer cannot count sessions or guess the next index.
 */
public final class IndexTable<E> {
    private final ConcurrentHashMap<Integer, E> entries = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();

    /** Reserves a fresh index for {@code entry}. */
    public int add(E entry) {
        while (true) {
            int index = random.nextInt();
            if (entries.putIfAbsent(index, entry) == null) {
                return index;
            }
        }
    }

    /** Points an existing index at a new entry (a handshake's index becomes its session's). */
    public boolean replace(int index, E entry) {
        return entries.replace(index, entry) != null;
    }

    public E get(int index) {
        return entries.get(index);
    }

    public void remove(int index) {
        entries.remove(index);
    }

    /** Removes {@code index} only while it still maps to {@code entry}. */
    public void remove(int index, E entry) {
        entries.remove(index, entry);
    }

    public int size() {
        return entries.size();
    }
}
