package io.wgcni.wg.device;

import io.wgcni.wg.io.Packet;
import io.wgcni.wg.noise.Keypair;

/**
 * The unit of work of the data plane: up to {@code capacity} packets of one peer, one direction, travelling
 * together from a reader through a crypto worker to the peer's in-order stage. Batches and their packet
 * buffers are pooled; packets move between batches by swapping references, never by copying.
 */
final class Batch {
    final Packet[] packets;
    /** Inbound: the session each packet arrived under (it may change within a batch during a rekey). */
    final Keypair[] keypairs;
    /** Inbound: each packet's counter, read from its header before decryption. */
    final long[] counters;
    int count;
    Peer peer;
    boolean outbound;
    /** Outbound: the session the whole batch is encrypted with. */
    Keypair keypair;
    /** Set when a crypto worker has finished, or when the batch was dropped before reaching one. */
    volatile boolean done;
    boolean dropped;

    Batch(int capacity) {
        packets = new Packet[capacity];
        keypairs = new Keypair[capacity];
        counters = new long[capacity];
        for (int i = 0; i < capacity; i++) {
            packets[i] = new Packet();
        }
    }

    boolean isFull() {
        return count == packets.length;
    }

    /** Moves {@code from.packets[i]} into this batch, giving {@code from} our spare buffer in exchange. */
    Packet takeFrom(Batch from, int i) {
        Packet p = from.packets[i];
        from.packets[i] = packets[count];
        packets[count++] = p;
        return p;
    }

    void reset() {
        count = 0;
        peer = null;
        keypair = null;
        done = false;
        dropped = false;
        for (int i = 0; i < keypairs.length; i++) {
            keypairs[i] = null;
        }
    }
}
