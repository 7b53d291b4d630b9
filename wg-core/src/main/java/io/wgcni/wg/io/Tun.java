package io.wgcni.wg.io;

import java.io.IOException;
import java.util.Map;

/**
 * The device's IP side: a TUN interface on Linux, a pipe in memory in tests. Packets are whole IP packets,
 * read and written in batches.
 */
public interface Tun extends AutoCloseable {

    /**
     * Blocks until at least one packet is available and fills {@code packets[0..n)} with {@code n <= max}
     * packets, each placed at {@code offset = Packet.HEADROOM}, with room for {@link Packet#TAILROOM} behind.
     * Returns -1 once the device is closed.
     */
    int read(Packet[] packets, int max) throws IOException;

    /**
     * Reads what is ready without blocking: the packets available now (up to {@code max}), placed as {@link #read}
     * places them; 0 when none is, -1 once closed. For a TUN served by a poller shared by many TUNs, which calls
     * this when the TUN is readable instead of keeping a thread blocked in {@link #read} per TUN.
     *
     * @throws UnsupportedOperationException if this TUN can only be read by blocking
     */
    default int readReady(Packet[] packets, int max) throws IOException {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no non-blocking read");
    }

    /**
     * Writes {@code packets[0..count)}, each at an offset of at least {@link Packet#HEADROOM}, which the TUN may use
     * for a header of its own; a packet the device refuses is dropped, not retried.
     */
    void write(Packet[] packets, int count) throws IOException;

    int mtu();

    String name();

    /** Largest number of packets one {@link #read} may return. */
    default int batchSize() {
        return 128;
    }

    /**
     * Whether the TUN reads and writes TCP superpackets and packets with partial checksums ({@link Packet#gso},
     * {@link Packet#partialChecksum}): then {@link #read} buffers must hold {@link Packet#SUPER_CAPACITY} bytes, and
     * the device coalesces what it opened before writing it.
     */
    default boolean tcpOffload() {
        return false;
    }

    /** Whether the TUN also takes UDP superpackets ({@link Packet#GSO_UDP}); only with {@link #tcpOffload}. */
    default boolean udpOffload() {
        return false;
    }

    /**
     * What the TUN dropped by itself, by reason ({@code stats=1} lists them after the device's counters): packets
     * whose offload header made no sense, incomplete packets, writes the kernel refused.
     */
    default Map<String, Long> drops() {
        return Map.of();
    }

    @Override
    void close();
}
