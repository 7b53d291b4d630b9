package io.wgcni.wg.io;

import java.io.IOException;

/**
 * The device's IP side: a TUN interface on Linux, a pipe in memory in tests. Packets are whole IP packets,
 * read and written in batches.
 */
public interface Tun extends AutoCloseable {

    /**
     * Blocks until at least one packet is available and fills {@code packets[0..n)} with {@code n <= max}
     * packets, each placed at {@code offset = Packet.HEADROOM}. Returns -1 once the device is closed.
     */
    int read(Packet[] packets, int max) throws IOException;

    /** Writes {@code packets[0..count)}; a packet the device refuses is dropped, not retried. */
    void write(Packet[] packets, int count) throws IOException;

    int mtu();

    String name();

    /** Largest number of packets one {@link #read} may return. */
    default int batchSize() {
        return 128;
    }

    @Override
    void close();
}
