package io.wgcni.wg.io;

import java.io.IOException;
import java.util.Map;

/** The device's UDP side: a socket in production, an in-memory network in tests. */
public interface Bind extends AutoCloseable {

    /** Binds to {@code port} (0 picks one) on all addresses and returns the actual port. */
    int open(int port) throws IOException;

    /**
     * Blocks until at least one datagram arrives; fills {@code packets[0..n)} (offset, length, endpoint) with
     * {@code n <= max}. Returns -1 once the bind is closed. Buffers are not grown: a datagram longer than its
     * packet's buffer is dropped (and counted by the bind), so a flood of large datagrams costs no memory.
     */
    int receive(Packet[] packets, int max) throws IOException;

    /**
     * Sends {@code packets[0..count)} to {@code to}, in order; consecutive datagrams of one size (the last may be
     * shorter) may go out as one segmentation-offload send.
     */
    void send(Packet[] packets, int count, Endpoint to) throws IOException;

    /** Sets the firewall mark (SO_MARK) of outgoing datagrams; 0 clears it. */
    void setMark(int mark) throws IOException;

    default int batchSize() {
        return 128;
    }

    /**
     * Whether the bind hands what it receives to its device itself, on the sending thread (an in-process hop,
     * {@link io.wgcni.wg.device.Hop}): then the device starts no reader, and {@link #receive} is never called.
     */
    default boolean pushes() {
        return false;
    }

    /**
     * Whether datagrams to {@code to} stay inside this process ({@link io.wgcni.wg.device.Hop}): they may then be
     * superpackets, since no wire has an MTU there, and the device seals them only when {@link #sealsInProcess}.
     */
    default boolean inProcess(Endpoint to) {
        return false;
    }

    /** Whether data messages that stay inside this process are sealed all the same (for comparison, or caution). */
    default boolean sealsInProcess() {
        return true;
    }

    /** What the bind dropped by itself, by reason ({@code stats=1} lists them after the device's counters). */
    default Map<String, Long> drops() {
        return Map.of();
    }

    /** Closes the socket; a blocked {@link #receive} returns -1. The bind may be opened again. */
    @Override
    void close();
}
