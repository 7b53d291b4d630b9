package io.wgcni.wg.io;

/**
 * The rule both UDP binds send by: which consecutive datagrams may go out as one UDP segmentation-offload send
 * ({@code UDP_SEGMENT}), which the kernel cuts back into datagrams of the first one's size.
 */
public final class GsoTrains {
    /** The kernel's UDP_MAX_SEGMENTS before Linux 6.9: a train of more is refused. */
    public static final int MAX_SEGMENTS = 64;
    /** Under the largest UDP payload over IPv4 (65,507), with room to spare. */
    public static final int MAX_BYTES = 65000;

    private GsoTrains() {}

    /**
     * How many datagrams from {@code ps[i]} on make one train: a run of {@code size}-byte datagrams ({@code size}
     * being {@code ps[i]}'s length), plus one shorter one to end it (the kernel cuts a train into {@code size}-byte
     * segments and a remainder); at most {@link #MAX_SEGMENTS} and {@link #MAX_BYTES}. An empty datagram goes alone.
     */
    public static int length(Packet[] ps, int i, int count) {
        int size = ps[i].length;
        if (size == 0) {
            return 1;
        }
        int max = Math.min(MAX_SEGMENTS, MAX_BYTES / size);
        int n = 1;
        while (i + n < count && n < max) {
            int next = ps[i + n].length;
            if (next == size) {
                n++;
            } else {
                if (next > 0 && next < size) {
                    n++;
                }
                break;
            }
        }
        return n;
    }
}
