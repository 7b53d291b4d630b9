package io.wgcni.tun;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code struct epoll_event} and the epoll constants, named once for {@link TunPoller}. The struct is {@code
 * __attribute__((packed))} on x86_64 only ({@code EPOLL_PACKED} in the kernel's uapi header): there it is 12 bytes,
 * a {@code uint32_t events} followed at once by the 8-byte {@code data}; on aarch64 and the other 64-bit
 * architectures {@code data} is aligned, which makes it 16 bytes.
 */
final class EpollEvent {
    static final int EPOLL_CLOEXEC = 0x80000;
    static final int EPOLL_CTL_ADD = 1;
    static final int EPOLL_CTL_DEL = 2;
    static final int EPOLLIN = 0x001;
    /** Always reported, asked for or not. */
    static final int EPOLLERR = 0x008;
    static final int EPOLLHUP = 0x010;
    /** {@code epoll_ctl(DEL)} of a descriptor not in the set. */
    static final int ENOENT = 2;

    static final boolean PACKED = isX86_64(System.getProperty("os.arch"));
    static final int EVENTS = 0;
    static final int DATA = PACKED ? 4 : 8;
    static final int SIZE = PACKED ? 12 : 16;

    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private EpollEvent() {
    }

    static boolean isX86_64(String osArch) {
        return "amd64".equals(osArch) || "x86_64".equals(osArch);
    }

    /** Fills event {@code i} of an array of them. */
    static void set(MemorySegment events, int i, int mask, long data) {
        events.set(U32, (long) i * SIZE + EVENTS, mask);
        events.set(U64, (long) i * SIZE + DATA, data);
    }

    static int events(MemorySegment events, int i) {
        return events.get(U32, (long) i * SIZE + EVENTS);
    }

    static long data(MemorySegment events, int i) {
        return events.get(U64, (long) i * SIZE + DATA);
    }
}
